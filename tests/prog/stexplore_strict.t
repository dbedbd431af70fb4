#!/bin/sh
# stexplore_strict.t - silent wrong input in sweep scripts: a misspelt global (`row` for a
# local `rows`) in the script body, in where, keep and derived, under --check, in a run
# and under --trust, and a parameter or sweep field written with a nil value, are errors
# naming the name and the line; rawget(_G, name) still asks without an error; stquery
# lua scripts get the same rule; every example script still runs.
. "${ST_SRC:-.}/tests/prog/tap.sh"

EXP="$ST_BUILD/bin/stexplore"
Q="$ST_BUILD/bin/stquery"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

plan 39

head='local rows = 8
return st.sweep {
  name = "s", network = "fmnist-cnn", eval = "none",'

# bad ID WHAT MESSAGE OPTIONS BODY: --check and a run (or only a run with OPTIONS) exit 2
# with MESSAGE, and leave no result behind.
bad() {
    printf '%s\n' "$5" >bad.lua
    run "$EXP" $4 --check bad.lua
    is_status 2 "strict-$1.1 $2: --check exits 2"
    has_err "$3" "strict-$1.2 ... naming the line and the name: $3"
    run "$EXP" $4 -q bad.lua
    [ "$st" -eq 2 ] && grep -qF -- "$3" "$tmp/err" && [ ! -e results/s.h5 ]
    ok_ $? "strict-$1.3 ... and a run exits 2 with it, writing nothing"
}

bad 1 "a misspelt local in fixed" "bad.lua:4: undefined global 'row'" "" "$head
  fixed = { pe_rows = row },
}"
bad 2 "a misspelt global in where" "bad.lua:5: undefined global 'limt'" "" "$head
  params = { pe_cols = {4, 8} },
  where = function(p) return p.pe_cols < limt end,
}"
bad 3 "a misspelt global in derived" "bad.lua:5: undefined global 'rowz'" "" "$head
  params = { pe_cols = {4, 8} },
  derived = { pe_rows = function(p) return rowz end },
}"
bad 4 "under --trust too" "bad.lua:4: undefined global 'row'" "--trust" "$head
  fixed = { pe_rows = row },
}"
bad 5 "a nil field of a table for a fixed parameter" "bad.lua:6: fixed: pe_rows = nil" "" "local cfg = { rows = 8 }
return st.sweep {
  name = 's', network = 'fmnist-cnn', eval = 'none',
  fixed = {
    fidelity = 'sampled',
    pe_rows = cfg.row,
  },
}"
bad 6 "a nil local for a sweep field" "bad.lua:5: where = nil" "" "local filter
return st.sweep {
  name = 's', network = 'fmnist-cnn', eval = 'none',
  params = { pe_rows = {4, 8} },
  where = filter,
}"
bad 7 "a nil value in params" "bad.lua:4: params: pe_cols = nil" "" "local cols = {}
return st.sweep {
  name = 's', network = 'fmnist-cnn', eval = 'none',
  params = { pe_rows = {4, 8}, pe_cols = cols.list },
}"

bad 13 "a nil among the values of a swept parameter" "bad.lua:4: params: pe_rows: value 2 of the 3 written is nil" "" "local small, big = 4
return st.sweep {
  name = 's', network = 'fmnist-cnn', eval = 'none',
  params = { pe_rows = {small, big, 16} },
}"
bad 14 "a nil at the end of the batch list" "bad.lua:3: batch: value 2 of the 2 written is nil" "" "local b
return st.sweep { name = 's', network = 'fmnist-cnn', eval = 'none',
  batch = {1, b},
}"
bad 12 "a derived function that returns nil" "bad.lua:5: derived pe_rows = nil: must be a number" "" "$head
  params = { pe_cols = {4, 8} },
  derived = { pe_rows = function(p) if p.pe_cols > 100 then return 8 end end },
}"

bad 15 "a misspelt parameter of the point in where" "bad.lua:5: p.pe_row: unknown parameter 'pe_row'; did you mean 'pe_rows'?" "" "$head
  params = { pe_rows = {4, 8} },
  where = function(p) return p.pe_row ~= 4 end,
}"

# keep runs only in a run: its misspelt global stops the run with the line.
printf '%s\n' "$head" '  params = { pe_cols = {4, 8} },' \
    '  keep = function(m, p) return m.speedup > minimum end,' '}' >keep.lua
run "$EXP" -q keep.lua
is_status 2 "strict-8.1 a misspelt global in keep stops the run"
has_err "keep.lua:5: undefined global 'minimum'" "strict-8.2 ... naming the line and the name"
printf '%s\n' "$head" '  params = { pe_cols = {4, 8} },' \
    '  keep = function(m, p) return m.speedupp > 1 end,' '}' >keep.lua
run "$EXP" -q --force keep.lua
[ "$st" -eq 2 ] && grep -qF "keep.lua:5: m.speedupp: no metric 'speedupp'" "$tmp/err"
ok_ $? "strict-8.3 a misspelt metric in keep stops the run naming the line and the name"

# What is not a mistake still works: globals that exist, globals the script sets, rawget.
cat >good.lua <<'EOF'
limit = 16
local opt = rawget(_G, "not_defined")
return st.sweep {
  name = "s", network = "fmnist-cnn", eval = "none",
  params = { pe_cols = {4, 8, 32} },
  where = function(p) return p.pe_cols < limit and math.floor(1.5) == 1 and opt == nil end,
  derived = { ch2_kib = function(p) local a, b = 1, 2 return p.ch0_kib end },
}
EOF
run "$EXP" -q good.lua
is_status 0 "strict-9.1 globals that exist, rawget(_G, name) and locals in functions still run"

n=0
for ex in quickstart pe_buffers pruning lua_network lhs_many; do
    "$EXP" --check "$ST_SRC/lua_scripts/$ex.lua" >/dev/null 2>"$tmp/err.$ex" || n=$((n + 1))
done
[ $n -eq 0 ]
ok_ $? "strict-10.1 every example of lua_scripts/ still passes --check"

# stquery lua: the same sandbox, the same rule.
"$EXP" -q "$ST_SRC/lua_scripts/quickstart.lua" -o quick.h5 2>/dev/null
printf 'local r = an.read("quick.h5")\nprint(#an.rows(r))\nprint(undefined_thing)\n' >q.lua
run "$Q" lua q.lua
[ "$st" -eq 2 ] && grep -qF "q.lua:3: undefined global 'undefined_thing'" "$tmp/err"
ok_ $? "strict-11.1 stquery lua refuses a misspelt global with its line"
tap_end
