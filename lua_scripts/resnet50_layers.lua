-- resnet50_layers.lua - one ResNet-50 point with per-layer detail, for the per-layer plot
-- (docs/analysis.md): sampled fidelity keeps it under a second.
--   build/bin/stexplore lua_scripts/resnet50_layers.lua   -> results/resnet50_layers.h5
return st.sweep {
    name = "resnet50_layers",
    network = "resnet50",
    batch = 1,
    detail = true,
    params = { p = {0.9} },
    fixed = { fidelity = "sampled", sample_fraction = 0.05 },
}
