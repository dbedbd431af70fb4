-- lhs_2400.lua - a Latin-hypercube sample of 2,400 designs of the small CNN over eight
-- parameters, to load into pandas with analysis/stload.py.
--   mpirun -np 2 build/bin/stexplore lua_scripts/questions/lhs_2400.lua
return st.sweep {
    name = "lhs_2400",
    network = "fmnist-cnn",
    batch = 2,
    sample = st.lhs{count = 2400, seed = 7},
    params = {
        pe_rows = st.intuniform(2, 32),
        pe_cols = st.intuniform(2, 32),
        ch0_kib = st.loguniform(8, 256),
        ch1_kib = st.loguniform(8, 256),
        ch2_kib = st.loguniform(16, 256),
        dram_gbps = st.uniform(4, 64),
        p = st.uniform(0, 0.99),
        sync = {"lockstep", "fifo"},
    },
    fixed = { fidelity = "sampled", sample_fraction = 0.2 },
}
