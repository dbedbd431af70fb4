-- imbalance.lua - how much of the ideal speedup (dense MACs / useful MACs) the array
-- reaches, per synchronisation policy and FIFO depth: lock-step rows wait for the
-- longest row of each step, decoupled PEs with FIFOs wait less. Calibrated sparsity.
local m = require "study_mode"
local c = m.imbalance
return st.sweep {
    name = "study_imbalance",
    description = "achieved against ideal speedup per sync policy and FIFO depth",
    batch = m.batch,
    params = {
        network = c.networks,
        p = c.p,
        sync = {"lockstep", "fifo"},
        fifo_depth = c.fifo_depth,
    },
    -- lock-step has no FIFO: one point, at the first depth
    where = function(p) return p.sync == "fifo" or p.fifo_depth == c.fifo_depth[1] end,
    fixed = { sparsity = "calibrated", fidelity = m.fidelity,
              sample_fraction = m.sample_fraction },
    common_seed = true,
}
