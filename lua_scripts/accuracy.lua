-- Accuracy against cycles and energy: the pruning rate and the PE array swept together,
-- every point trained (once per rate: the training does not depend on the array) and
-- simulated with the masks of its own training. Its Pareto front, minimising cycles and
-- energy and maximising the test accuracy (docs/training.md, "Accuracy in the design
-- space"):
--   build/bin/stquery front results/accuracy.h5 --min cycles --min energy_pj --max test_accuracy
return st.sweep {
    name = "accuracy",
    network = "fmnist-cnn",
    batch = 4,
    params = {
        p = {0, 0.9, 0.99, 0.999},
        pe_rows = {4, 8, 16},
        pe_cols = {8, 16},
    },
    -- tau from the non-zeros of dZ: the pruning then removes many more of them
    fixed = { prune_skip_zeros = true },
    train = { epochs = 1, train_images = 2000, test_images = 1000, batch = 64, seed = 1 },
}
