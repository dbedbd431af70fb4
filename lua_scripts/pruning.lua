-- pruning.lua - the gradient-pruning rate against the law of the raw gradients and the PE
-- synchronisation policy, with per-layer, per-phase detail: how much of the speedup
-- that pruning buys does load imbalance take back?
--   build/bin/stexplore lua_scripts/pruning.lua      -> results/pruning.h5
return st.sweep {
    name = "pruning",
    network = "fmnist-cnn",
    batch = 4,
    params = {
        p = {0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99},
        grad_law = {"normal", "laplace"},
        sync = {"lockstep", "fifo"},
    },
    fixed = {
        fifo_depth = 8,
        fidelity = "sampled",
        sample_fraction = 0.25,
    },
    -- Every point shares the same random masks, so that the pruning rate alone moves
    -- the figures (common random numbers).
    common_seed = true,
    seed = 7,
    detail = true,
}
