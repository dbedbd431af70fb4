-- accuracy.lua - the small networks trained on Fashion-MNIST at each pruning rate (once
-- per rate and network), every point simulated with the masks of its own training: the
-- front of cycles, energy and area gets test accuracy as a fourth axis. The first of the
-- mode's training seeds; accuracy_seed2.lua is the second.
return require("study_accuracy")(1)
