-- accuracy_seed2.lua - accuracy.lua trained with the mode's second seed.
return require("study_accuracy")(2)
