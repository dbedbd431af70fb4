-- energy.lua - where the energy goes (MAC, PE registers, the three buffers, DRAM,
-- leakage), sparse and dense, as the buffers (all three the same size) and the batch
-- grow, at p = 0.9 with calibrated sparsity.
local m = require "study_mode"
local c = m.energy
return st.sweep {
    name = "study_energy",
    description = "energy per component against buffer size and batch",
    network = c.network,
    params = {
        batch = c.batch,
        ch0_kib = c.kib,
    },
    derived = {
        ch1_kib = function(p) return p.ch0_kib end,
        ch2_kib = function(p) return p.ch0_kib end,
    },
    fixed = { p = 0.9, sparsity = "calibrated", fidelity = m.fidelity,
              sample_fraction = m.sample_fraction },
    common_seed = true,
}
