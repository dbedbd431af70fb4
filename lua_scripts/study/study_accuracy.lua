-- study_accuracy.lua - the accuracy sweep of the study as a function of the training seed's
-- index in the mode's list, so that accuracy.lua and accuracy_seed2.lua are one sweep
-- trained with two seeds: the spread between them is the accuracy's error bar.
local m = require "study_mode"
return function(k)
    local c = m.accuracy
    local train = {}
    for key, v in pairs(c.train) do train[key] = v end
    train.seed = c.seeds[k]
    return st.sweep {
        name = "study_accuracy_seed" .. k,
        description = "cycles, energy, area and test accuracy over p and PE array",
        batch = c.batch,
        params = {
            network = c.networks,
            p = c.p,
            pe_rows = c.pe_rows,
            pe_cols = c.pe_cols,
        },
        train = train,
    }
end
