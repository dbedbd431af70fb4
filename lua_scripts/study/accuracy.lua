-- accuracy.lua - the small networks trained on Fashion-MNIST at each pruning rate (once
-- per rate and network), every point simulated with the masks of its own training: the
-- front of cycles, energy and area gets test accuracy as a fourth axis.
local m = require "study_mode"
local c = m.accuracy
return st.sweep {
    name = "study_accuracy",
    description = "cycles, energy, area and test accuracy over p and PE array",
    batch = c.batch,
    params = {
        network = c.networks,
        p = c.p,
        pe_rows = c.pe_rows,
        pe_cols = c.pe_cols,
    },
    train = c.train,
}
