#!/bin/sh
# stload.t - the Python loader analysis/stload.py against stquery's output and raw h5py
# (stload_check.py), on a file with ok, failed and rejected points and per-layer detail.
. "${ST_SRC:-.}/tests/prog/tap.sh"

prog_setup

if ! [ -x "$PY" ] || ! "$PY" -c 'import h5py, numpy, pandas' 2>/dev/null; then
    echo "1..0 # SKIP no h5py, numpy or pandas for /usr/bin/python3"
    exit 0
fi
cat >mix.lua <<'LUA'
return st.sweep {
    name = "mix",
    network = "fmnist-cnn",
    batch = 1,
    detail = true,
    params = { pe_rows = {4, 8}, ch1_kib = {0.01, 64}, p = {0, 0.9}, sync = {"lockstep", "fifo"} },
    fixed = { fidelity = "sampled", sample_fraction = 0.2 },
    keep = function(m, p) return m.speedup > 1.3 end,
}
LUA
"$EXP" -q -o mix.h5 mix.lua >/dev/null 2>&1 &&
    "$Q" export mix.h5 --csv -o export.csv &&
    row=$("$Q" list mix.h5 --status ok --csv --columns row --limit 1 | sed -n 2p) &&
    "$Q" layers mix.h5 --row "$row" --csv -o layers.csv ||
    { echo "1..1"; echo "not ok 1 - stload-0.1 the file and stquery's CSV"; exit 1; }
echo "1..14"
ST_SRC="$ST_SRC" "$PY" "$ST_SRC/tests/prog/stload_check.py" mix.h5 export.csv layers.csv "$row" ||
    fail=1
# The README's lines, run as written from a folder laid out like the repository's.
mkdir -p readme/results && ln -s "$ST_SRC/analysis" readme/analysis &&
    "$EXP" -q -o readme/results/quickstart.h5 "$ST_SRC/lua_scripts/quickstart.lua" >/dev/null 2>&1
sed -n '/<!-- stload -->/,/^```$/p' "$ST_SRC/README.md" | sed '1,2d;$d' >readme/readme.py
(cd readme && "$PY" readme.py >out.txt 2>&1)
st=$?
grep -q "energy_gain" readme/out.txt && [ $st -eq 0 ]
r=$?
[ $r -eq 0 ] && echo "ok 14 - stload-4.1 the README's loader lines run" ||
    { echo "not ok 14 - stload-4.1 the README's loader lines run"; sed 's/^/# /' readme/out.txt; }
[ -z "$fail" ] && [ $r -eq 0 ]
