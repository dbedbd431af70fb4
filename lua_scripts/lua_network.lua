-- lua_network.lua - a network defined layer by layer in Lua: a small residual CNN for
-- 3x32x32 images (CIFAR-sized), swept over the PE array and the DRAM bandwidth.
--   build/bin/stexplore lua_scripts/lua_network.lua      -> results/lua_network.h5
local net = st.network {
    name = "tiny-resnet",
    input = {3, 32, 32},
    st.conv{name = "stem", out = 16, k = 3, pad = 1},
    st.bn{},
    st.relu{name = "stem_relu"},
    -- one basic block: two 3x3 convolutions and an identity shortcut
    st.conv{name = "b1_conv1", out = 16, k = 3, pad = 1},
    st.bn{},
    st.relu{},
    st.conv{name = "b1_conv2", out = 16, k = 3, pad = 1},
    st.bn{name = "b1_bn2"},
    st.add{"b1_bn2", "stem_relu"},
    st.relu{name = "b1_out"},
    -- downsampling block with a strided projection shortcut
    st.conv{name = "b2_conv1", out = 32, k = 3, stride = 2, pad = 1},
    st.bn{},
    st.relu{},
    st.conv{name = "b2_conv2", out = 32, k = 3, pad = 1},
    st.bn{name = "b2_bn2"},
    st.conv{name = "b2_proj", src = "b1_out", out = 32, k = 1, stride = 2},
    st.bn{name = "b2_proj_bn"},
    st.add{"b2_bn2", "b2_proj_bn"},
    st.relu{},
    st.gap{},
    st.fc{name = "classifier", out = 10},
}

return st.sweep {
    name = "lua_network",
    network = net,
    batch = 2,
    params = {
        pe_rows = {8, 16},
        pe_cols = {8, 16},
        dram_gbps = st.logspace(6.4, 25.6, 3),   -- 6.4, 12.8, 25.6 GB/s
    },
    fixed = {p = 0.9, fidelity = "sampled", sample_fraction = 0.2},
}
