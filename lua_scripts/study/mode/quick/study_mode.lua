-- The quick study's settings (analysis/study.py --quick): sampled fidelity, fewer points,
-- fewer training images.
return {
    mode = "quick",
    networks = {"alexnet", "resnet18", "resnet34", "resnet50"},
    ps = {0, 0.7, 0.9, 0.99},
    batch = 1,
    fidelity = "sampled",
    sample_fraction = 0.05,
    imbalance = { networks = {"alexnet", "resnet18"}, p = {0, 0.9}, fifo_depth = {1, 4, 16} },
    energy = { network = "resnet18", kib = {64, 256}, batch = {1, 4} },
    pareto = { networks = {"resnet18", "resnet50"}, pe_rows = {8, 16, 32}, pe_cols = {8, 16, 32},
               ch0_kib = {64, 128}, ch1_kib = {64}, ch2_kib = {64, 128} },
    accuracy = { networks = {"fmnist-cnn", "fmnist-resnet"}, p = {0, 0.9, 0.99},
                 pe_rows = {8, 16}, pe_cols = {8, 16}, batch = 4,
                 train = { epochs = 1, train_images = 1000, test_images = 1000, batch = 64 },
                 seeds = {1, 2} },
}
