-- front_of_quickstart.lua - not a sweep: a script for `stquery lua` that reads the quick
-- start's result file with the module `an` and prints its Pareto front of cycles against
-- silicon area, the ranks behind it, and the hypervolume the front covers.
--   build/bin/stexplore lua_scripts/quickstart.lua            -> results/quickstart.h5
--   build/bin/stquery lua lua_scripts/front_of_quickstart.lua [results/quickstart.h5]
local path = arg[1] or "results/quickstart.h5"
local r = an.read(path)
local c = r.col -- columns by name; each loads from the file when first used
local objectives = {min = {"cycles", "area_mm2"}}

local front = an.front(r, objectives)
table.sort(front, function(a, b) return c.cycles[a] < c.cycles[b] end)
print(string.format("%s: %d of %d successful points on the front of cycles and area",
    r.name, #front, #an.rows(r)))
print(string.format("%7s %7s %5s %10s %9s %8s", "pe_rows", "pe_cols", "p", "cycles",
    "area_mm2", "speedup"))
for _, i in ipairs(front) do
    print(string.format("%7d %7d %5.2f %10d %9.4f %8.3f", c.pe_rows[i], c.pe_cols[i], c.p[i],
        c.cycles[i], c.area_mm2[i], c.speedup[i]))
end

-- How many points each rank holds: rank 1 is the front, rank 2 the front of the rest, ...
local rank, nranks = an.ranks(r, objectives)
local count = {}
for _, k in ipairs(rank) do
    if k > 0 then count[k] = (count[k] or 0) + 1 end
end
local parts = {}
for k = 1, nranks do parts[#parts + 1] = string.format("%d", count[k]) end
print(string.format("points per rank: %s", table.concat(parts, ", ")))

-- The hypervolume against a reference 10 % beyond the worst point in each objective.
local ref = {0, 0}
for _, i in ipairs(an.rows(r)) do
    ref[1] = math.max(ref[1], 1.1 * c.cycles[i])
    ref[2] = math.max(ref[2], 1.1 * c.area_mm2[i])
end
local hv = an.hypervolume(r, {min = objectives.min, ref = ref})
print(string.format("hypervolume against (%.0f cycles, %.4f mm^2): %.6g cycles x mm^2",
    ref[1], ref[2], hv))
