-- lhs_many.lua - a Latin-hypercube sample of 200 points over ten parameters at once,
-- continuous and discrete, keeping only the designs that beat the dense baseline.
--   build/bin/stexplore lua_scripts/lhs_many.lua      -> results/lhs_many.h5
return st.sweep {
    name = "lhs_many",
    network = "fmnist-cnn",
    batch = 2,
    sample = st.lhs{count = 200, seed = 2024},
    params = {
        pe_rows = st.intuniform(2, 32),
        pe_cols = st.pow2(2, 32),
        ch0_kib = st.loguniform(4, 256),
        ch1_kib = st.loguniform(4, 256),
        ch2_kib = st.loguniform(4, 256),
        dram_gbps = st.uniform(4, 64),
        clock_mhz = st.linspace(500, 1500, 5),
        p = st.uniform(0, 0.99),
        relu_density = st.uniform(0.2, 0.8),
        sync = {"lockstep", "fifo"},
    },
    fixed = {fidelity = "sampled", sample_fraction = 0.1},
    -- A design slower than its own dense baseline is recorded, marked rejected.
    keep = function(m, p) return m.speedup >= 1 end,
}
