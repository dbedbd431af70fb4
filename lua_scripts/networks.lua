-- Speedup and energy gain against the pruning rate, per phase, for AlexNet, ResNet-18 and
-- ResNet-50 in one sweep and one file: the network is a swept parameter like any other
-- (docs/lua-api.md, "Networks and traces as parameters").
return st.sweep {
    name = "networks",
    params = {
        network = {"alexnet", "resnet18", "resnet50"},
        p = {0, 0.5, 0.7, 0.9, 0.99},
    },
    fixed = { fidelity = "sampled", sample_fraction = 0.05 },
    common_seed = true, -- the same sparsity draws at every p: only p moves the figures
}
