-- edp_resnet50.lua - the lowest energy-delay product for ResNet-50 at p = 0.9 under an
-- area cap: the array and the buffers swept, and designs over the cap removed by `where`
-- before they are simulated (st.area_mm2 needs no simulation).
--   build/bin/stexplore lua_scripts/questions/edp_resnet50.lua
--   build/bin/stquery list results/edp_resnet50.h5 --sort 'energy_pj*cycles' --limit 5
local cap = 1.5 -- mm^2
return st.sweep {
    name = "edp_resnet50",
    network = "resnet50",
    params = {
        pe_rows = {8, 16, 32},
        pe_cols = {16, 32},
        ch0_kib = {64, 128},
        ch1_kib = {32, 128},
        ch2_kib = {64, 128},
    },
    fixed = { p = 0.9, fidelity = "sampled", sample_fraction = 0.05 },
    where = function(pt) return st.area_mm2(pt) <= cap end,
}
