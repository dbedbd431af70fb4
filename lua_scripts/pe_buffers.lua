-- pe_buffers.lua - PE-array shape against on-chip buffer sizes, on the small residual
-- network: which array and buffers give the most speed for the area?
--   build/bin/stexplore lua_scripts/pe_buffers.lua      -> results/pe_buffers.h5
return st.sweep {
    name = "pe_buffers",
    network = "fmnist-resnet",
    batch = 4,
    params = {
        pe_rows = st.pow2(4, 32),           -- 4, 8, 16, 32
        pe_cols = st.pow2(4, 32),
        ch0_kib = st.pow2(8, 128),          -- streamed operand: 8 .. 128 KiB
        ch1_kib = {16, 64},                 -- second operand
    },
    -- Partial sums take as much as the streamed operand.
    derived = {
        ch2_kib = function(p) return p.ch0_kib end,
    },
    -- Arrays of more than 512 PEs are out of this design's budget.
    where = function(p) return p.pe_rows * p.pe_cols <= 512 end,
    fixed = {
        p = 0.9,
        fidelity = "sampled",
        sample_fraction = 0.1,
    },
}
