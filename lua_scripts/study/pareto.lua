-- pareto.lua - PE-array shape and the three buffer sizes at p = 0.9 (calibrated
-- sparsity), for the Pareto front of cycles, energy and area. Sampled fidelity: the
-- study re-runs the front's points exactly and reports the gap.
local m = require "study_mode"
local c = m.pareto
return st.sweep {
    name = "study_pareto",
    description = "cycles, energy and area over PE array shape and buffer sizes at p = 0.9",
    batch = m.batch,
    params = {
        network = c.networks,
        pe_rows = c.pe_rows,
        pe_cols = c.pe_cols,
        ch0_kib = c.ch0_kib,
        ch1_kib = c.ch1_kib,
        ch2_kib = c.ch2_kib,
    },
    fixed = { p = 0.9, sparsity = "calibrated", fidelity = "sampled",
              sample_fraction = m.sample_fraction },
    common_seed = true,
}
