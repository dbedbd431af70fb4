-- The smallest study, for the test of the report (tests/prog/study.t): a few points of
-- every sweep, sampled, a training of a few hundred images.
return {
    mode = "tiny",
    networks = {"alexnet", "resnet18"},
    ps = {0, 0.9},
    batch = 1,
    fidelity = "sampled",
    sample_fraction = 0.05,
    imbalance = { networks = {"alexnet"}, p = {0.9}, fifo_depth = {1, 4} },
    energy = { network = "alexnet", kib = {64, 128}, batch = {1, 2} },
    pareto = { networks = {"alexnet"}, pe_rows = {8, 16}, pe_cols = {8, 16},
               ch0_kib = {64}, ch1_kib = {64}, ch2_kib = {64, 128} },
    accuracy = { networks = {"fmnist-cnn"}, p = {0, 0.9}, pe_rows = {8, 16}, pe_cols = {16},
                 batch = 2,
                 train = { epochs = 1, train_images = 256, test_images = 256, batch = 64 },
                 seeds = {1, 2} },
}
