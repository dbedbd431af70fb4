-- speedup.lua - the study's headline: speedup and energy gain over the same array run
-- densely, per network, pruning rate and phase, with the sparsity model calibrated on
-- real training (sparsity = calibrated) and with the old uncalibrated defaults
-- (sparsity = default: ReLU density 0.5, normal gradients). p = 0 is the natural
-- sparsity alone (ReLU, pooling, the gradients they mask); p > 0 adds the pruning.
-- Settings come from the mode module (analysis/study.py passes --lib mode/full|quick|tiny).
local m = require "study_mode"
local ps = m.ps
return st.sweep {
    name = "study_speedup",
    description = "speedup and energy gain over dense per network, p, phase and sparsity model",
    batch = m.batch,
    params = {
        network = m.networks,
        p = ps,
        sparsity = {"calibrated", "default"},
    },
    fixed = { fidelity = m.fidelity, sample_fraction = m.sample_fraction },
    common_seed = true, -- the same draws at every p: only p moves the figures
}
