-- quickstart.lua - a small sweep that finishes in seconds: PE-array shape and pruning
-- rate on the small Fashion-MNIST CNN, with sampled fidelity.
--   build/bin/stexplore lua_scripts/quickstart.lua      -> results/quickstart.h5
return st.sweep {
    name = "quickstart",
    network = "fmnist-cnn",
    batch = 2,
    params = {
        pe_rows = st.pow2(4, 16),          -- 4, 8, 16
        pe_cols = {8, 16},
        p = st.linspace(0, 0.9, 4),        -- 0, 0.3, 0.6, 0.9
    },
    fixed = {
        fidelity = "sampled",
        sample_fraction = 0.2,
    },
}
