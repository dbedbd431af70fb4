-- The full study's settings (analysis/study.py passes --lib lua_scripts/study/mode/full).
return {
    mode = "full",
    networks = {"alexnet", "resnet18", "resnet34", "resnet50"},
    ps = {0, 0.7, 0.9, 0.99},                -- 0: natural sparsity alone
    batch = 4,
    fidelity = "exact",                      -- the headline sweeps
    sample_fraction = 0.05,                  -- where sampled
    imbalance = { networks = {"alexnet", "resnet18", "resnet50"}, p = {0, 0.9},
                  fifo_depth = {1, 2, 4, 8, 16, 64} },
    energy = { network = "resnet18", kib = {64, 128, 256, 512, 1024}, batch = {1, 2, 4, 8} },
    pareto = { networks = {"resnet18", "resnet50"}, pe_rows = {8, 16, 32, 64},
               pe_cols = {8, 16, 32, 64}, ch0_kib = {64, 128, 256}, ch1_kib = {64, 128},
               ch2_kib = {64, 128, 256} },
    accuracy = { networks = {"fmnist-cnn", "fmnist-resnet"}, p = {0, 0.5, 0.9, 0.99, 0.999},
                 pe_rows = {4, 8, 16, 32}, pe_cols = {4, 8, 16}, batch = 4,
                 train = { epochs = 1, train_images = 10000, test_images = 5000, batch = 64 },
                 seeds = {1, 2} },
}
