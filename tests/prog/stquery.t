#!/bin/sh
# stquery.t - the query program as a user runs it, on files stexplore writes here: every
# command, the front, ranks and hypervolume against brute forces written in Python over
# the same file (h5py, numpy), CSV and JSON read back, PNG files of the right size, the
# Lua module, and every kind of bad input with its message and exit status.
. "${ST_SRC:-.}/tests/prog/tap.sh"

EXP="$ST_BUILD/bin/stexplore"
Q="$ST_BUILD/bin/stquery"
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

plan 74

have_py=0
if [ -x "$PY" ] && "$PY" -c 'import h5py, numpy' 2>/dev/null; then
    have_py=1
fi
# py ID DESCRIPTION ARGS...: run check.py (below) with ARGS as a test.
py() {
    id=$1
    d=$2
    shift 2
    if [ $have_py -eq 1 ]; then
        ok_cmd "$id $d" "$PY" check.py "$@"
    else
        skip "no h5py or numpy for /usr/bin/python3" "$id"
    fi
}

# The independent computations: dominance from its definition, fronts and ranks by
# comparing every pair, the hypervolume as a sum of cells over the distinct coordinates.
cat >check.py <<'PYEOF'
import itertools, json, sys
import h5py, numpy as np

def column(f, name):
    for g in ("params", "metrics", "points"):
        if name in f[g]:
            return f[g][name][()]
    raise KeyError(name)

def objectives(path, spec, where=None):
    """spec: 'min:cycles,max:speedup'. The successful rows and their minimised objectives."""
    with h5py.File(path, "r") as f:
        ok = f["points/status"][()] == 0
        if where:
            name, value = where.split("<=")
            ok &= column(f, name).astype(float) <= float(value)
        cols = []
        for item in spec.split(","):
            sense, name = item.split(":")
            v = column(f, name).astype(float)
            cols.append(-v if sense == "max" else v)
    rows = np.nonzero(ok)[0]
    return rows, np.stack(cols, 1)[rows]

def dominates(a, b):
    return bool(np.all(a <= b) and np.any(a < b))

def front(y):
    return [i for i in range(len(y)) if not any(dominates(y[j], y[i]) for j in range(len(y)))]

def ranks(y):
    left, rank, r = set(range(len(y))), {}, 1
    while left:
        fr = [i for i in left if not any(dominates(y[j], y[i]) for j in left)]
        for i in fr:
            rank[i] = r
        left -= set(fr)
        r += 1
    return rank

def hv(y, ref):
    """Every cell between consecutive distinct coordinates that some point covers."""
    k = y.shape[1]
    axes = [np.unique(np.append(y[:, j][y[:, j] < ref[j]], ref[j])) for j in range(k)]
    better = y[np.all(y < ref, 1)]
    total = 0.0
    for cell in itertools.product(*[range(len(a) - 1) for a in axes]):
        lo = np.array([axes[j][c] for j, c in enumerate(cell)])
        if np.any(np.all(better <= lo, 1)):
            total += np.prod([axes[j][c + 1] - axes[j][c] for j, c in enumerate(cell)])
    return total

def read_csv_rows(path, col):
    lines = open(path).read().splitlines()
    i = lines[0].split(",").index(col)
    return [l.split(",")[i] for l in lines[1:]]

cmd, path = sys.argv[1], sys.argv[2]
if cmd == "front":                     # front FILE SPEC CSV [WHERE]
    rows, y = objectives(path, sys.argv[3], sys.argv[5] if len(sys.argv) > 5 else None)
    want = sorted(int(rows[i]) for i in front(y))
    got = sorted(int(r) for r in read_csv_rows(sys.argv[4], "row"))
    assert got == want, (got, want)
elif cmd == "ranks":                   # ranks FILE SPEC CSV
    rows, y = objectives(path, sys.argv[3])
    want = {int(rows[i]): r for i, r in ranks(y).items()}
    lines = open(sys.argv[4]).read().splitlines()
    got = {int(l.split(",")[1]): int(l.split(",")[0]) for l in lines[1:]}
    assert got == want, (got, want)
elif cmd == "hv":                      # hv FILE SPEC JSON REF
    rows, y = objectives(path, sys.argv[3])
    ref = [float(v) for v in sys.argv[5].split(",")]
    ref = [-r if item.startswith("max") else r for r, item in zip(ref, sys.argv[3].split(","))]
    want = hv(y, np.array(ref))
    got = json.load(open(sys.argv[4]))["hypervolume"]
    assert abs(got - want) <= 1e-12 * abs(want), (got, want)
elif cmd == "csv":                     # csv FILE CSV: every value of every column
    lines = open(sys.argv[3]).read().splitlines()
    head = lines[0].split(",")
    with h5py.File(path, "r") as f:
        n = f.attrs["points"]
        assert len(lines) == n + 1, (len(lines), n)
        names = ["row", "id", "index", "status"] + sorted(f["params"]) + sorted(f["metrics"])
        assert head == names, (head, names)
        for name in sorted(f["metrics"]):
            col = [l.split(",")[head.index(name)] for l in lines[1:]]
            v = f["metrics"][name][()]
            for a, b in zip(col, v):
                assert (a == "" and np.isnan(b)) or float(a) == b, (name, a, b)
        ids = [l.split(",")[1] for l in lines[1:]]
        assert ids == ["%016x" % i for i in f["points/id"][()]]
elif cmd == "json":                    # json FILE JSON
    d = json.load(open(sys.argv[3]))
    with h5py.File(path, "r") as f:
        assert len(d["rows"]) == f.attrs["points"]
        for r in d["rows"]:
            i = r["row"]
            assert r["cycles"] == int(f["metrics/cycles"][i])
            assert r["energy_pj"] == float(f["metrics/energy_pj"][i])
            assert r["id"] == "%016x" % f["points/id"][i]
        units = {c["name"]: c["unit"] for c in d["columns"]}
        assert units["energy_pj"] == "pJ" and units["pe_rows"] == "PEs"
elif cmd == "png":                     # png FILE [WxH]: a real PNG of 1000 x 600, or WxH
    b = open(path, "rb").read(24)
    assert b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR", b
    w, h = int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")
    want = tuple(int(v) for v in sys.argv[3].split("x")) if len(sys.argv) > 3 else (1000, 600)
    assert (w, h) == want, (w, h)
elif cmd == "layers":                  # layers FILE ROW CSV
    row = int(sys.argv[3])
    lines = open(sys.argv[4]).read().splitlines()
    head = lines[0].split(",")
    with h5py.File(path, "r") as f:
        sel = f["detail/row"][()] == row
        names = [n.decode() for n in f["network/layer_name"][()]]
        want = sorted((names[l], "fp bp wg".split()[p], int(c)) for l, p, c in
                      zip(f["detail/layer"][()][sel], f["detail/phase"][()][sel],
                          f["detail/cycles"][()][sel]))
    got = sorted((l.split(",")[0], l.split(",")[1], int(float(l.split(",")[head.index("cycles")])))
                 for l in lines[1:])
    assert got == want, (got, want)
elif cmd == "foreign":
    with h5py.File(path, "w") as f:
        f["x"] = [1, 2, 3]
PYEOF

# ------------------------------------------------------------------ the files
run "$EXP" --progress none -o q.h5 "$ST_SRC/lua_scripts/quickstart.lua"
is_status 0 "stquery-0.1 stexplore writes the quick start's file"
run "$EXP" --progress none -o pr.h5 "$ST_SRC/lua_scripts/pruning.lua"
is_status 0 "stquery-0.2 ... and the pruning example's, with per-layer detail"
cat >allfail.lua <<'EOF'
return st.sweep {
    name = "allfail",
    network = "fmnist-cnn",
    params = { pe_rows = {4, 8} },
    fixed = { ch1_kib = 0.01, fidelity = "sampled", sample_fraction = 0.2 },
}
EOF
run "$EXP" --progress none -o allfail.h5 allfail.lua
is_status 0 "stquery-0.3 ... and a sweep whose points all fail (a buffer too small)"

# ------------------------------------------------------------------- basics
run "$Q" --help
is_status 0 "stquery-1.1 --help exits 0"
has_out "plot-layers" "stquery-1.2 --help lists the commands"
has_out "exit status" "stquery-1.3 --help documents the exit statuses"
run "$Q" --version
has_out "HDF5" "stquery-1.4 --version names the libraries"

run "$Q" info q.h5
is_status 0 "stquery-2.1 info exits 0"
has_out "24: 24 ok, 0 failed, 0 rejected by keep" "stquery-2.2 info counts the points by status"
has_out "pe_rows [PEs]             3 values: 4, 8, 16" "stquery-2.3 info shows the swept values with units"
has_out "program       stexplore" "stquery-2.4 info shows the provenance"
run "$Q" info --script q.h5
has_out "name = \"quickstart\"" "stquery-2.5 info --script prints the sweep script"
run "$Q" info allfail.h5
has_out "buffer ch1_kib = 0.01 is too small" "stquery-2.6 info gives the reasons of failures"

run "$Q" list q.h5
is_status 0 "stquery-3.1 list exits 0"
[ "$(wc -l <"$tmp/out")" -eq 26 ]
ok_ $? "stquery-3.2 list shows 24 points under two header lines (names, units)"
run "$Q" list q.h5 --where 'p >= 0.6 and pe_rows = 4' --csv
[ "$(wc -l <"$tmp/out")" -eq 5 ]
ok_ $? "stquery-3.3 --where keeps the 4 points that pass"
run "$Q" list q.h5 --sort speedup:desc --limit 3 --columns speedup --csv
sed 1d "$tmp/out" >top3
"$Q" list q.h5 --columns speedup --csv | sed 1d | sort -r -g | head -3 | cmp -s - top3
ok_ $? "stquery-3.4 --sort speedup:desc --limit 3: the 3 largest, in order"
run "$Q" list pr.h5 --where 'sync = fifo, grad_law = laplace' --columns sync,grad_law --csv
[ "$(grep -c '^fifo,laplace$' "$tmp/out")" -eq 7 ] && [ "$(wc -l <"$tmp/out")" -eq 8 ]
ok_ $? "stquery-3.5 choices filter and print by name"
run "$Q" list allfail.h5 --status failed --csv --columns status
[ "$(grep -c '^failed$' "$tmp/out")" -eq 2 ]
ok_ $? "stquery-3.6 --status failed lists the failed points"

# ------------------------------------------------------ fronts, ranks, volumes
run "$Q" front q.h5 --min cycles --min area_mm2
is_status 0 "stquery-4.1 front exits 0"
has_out "Pareto front of q.h5 (min cycles [cycles], min area_mm2 [mm^2]): 4 of 24 successful points" \
    "stquery-4.2 front says what it computed, with units"
"$Q" front q.h5 --min cycles --min area_mm2 --csv >f2.csv
py "stquery-4.3" "the 2-objective front equals a brute force over the file" front q.h5 \
    min:cycles,min:area_mm2 f2.csv
"$Q" front q.h5 --min energy_pj --min area_mm2 --max speedup --csv >f3.csv
py "stquery-4.4" "a 3-objective front with a maximised one equals the brute force" front q.h5 \
    min:energy_pj,min:area_mm2,max:speedup f3.csv
"$Q" front pr.h5 --min cycles --min energy_pj --max energy_gain --min dram_bytes --csv >f4.csv
py "stquery-4.5" "a 4-objective front equals the brute force" front pr.h5 \
    min:cycles,min:energy_pj,max:energy_gain,min:dram_bytes f4.csv
"$Q" front q.h5 --min cycles --min energy_pj --where 'pe_rows <= 8' --csv >f5.csv
py "stquery-4.6" "a front with --where equals the brute force on the rows that pass" front q.h5 \
    min:cycles,min:energy_pj f5.csv 'pe_rows<=8'

"$Q" ranks q.h5 --min cycles --min area_mm2 --csv --columns rank,row >r2.csv
py "stquery-5.1" "ranks equal fronts peeled one after another" ranks q.h5 \
    min:cycles,min:area_mm2 r2.csv
"$Q" ranks pr.h5 --min cycles --max energy_gain --min dram_bytes --csv --columns rank,row >r3.csv
py "stquery-5.2" "3-objective ranks equal the peeled fronts" ranks pr.h5 \
    min:cycles,max:energy_gain,min:dram_bytes r3.csv
run "$Q" ranks q.h5 --min cycles --min area_mm2 --counts --csv
[ "$(awk -F, 'NR > 1 { s += $2 } END { print s }' "$tmp/out")" -eq 24 ]
ok_ $? "stquery-5.3 ranks --counts: the points of all ranks add up to 24"

"$Q" hv q.h5 --min cycles --min area_mm2 --ref 500000,1 --json >h2.json
py "stquery-6.1" "the 2-D hypervolume equals a sum of cells" hv q.h5 min:cycles,min:area_mm2 \
    h2.json 500000,1
"$Q" hv q.h5 --min cycles --min area_mm2 --max speedup --ref 500000,1,1.2 --json >h3.json
py "stquery-6.2" "the 3-D hypervolume with a maximised objective equals a sum of cells" hv q.h5 \
    min:cycles,min:area_mm2,max:speedup h3.json 500000,1,1.2
run "$Q" hv q.h5 --min cycles --min area_mm2 --ref 500000,1
has_out "hypervolume  " "stquery-6.3 hv prints the volume"
has_out "[cycles x mm^2]" "stquery-6.4 ... in the units of the objectives"

# ------------------------------------------------------------------- export
"$Q" export q.h5 -o all.csv
py "stquery-7.1" "export: CSV of every column and row, equal to the file's values" csv q.h5 all.csv
"$Q" export q.h5 --json -o all.json
py "stquery-7.2" "export --json parses, with exact values and units" json q.h5 all.json
run "$Q" export q.h5 --min cycles --min area_mm2
[ "$(wc -l <"$tmp/out")" -eq 5 ]
ok_ $? "stquery-7.3 export --min --min: the front only"

# -------------------------------------------------------------------- plots
run "$Q" plot q.h5 --min cycles --min area_mm2 -o front.png
is_status 0 "stquery-8.1 plot exits 0"
py "stquery-8.2" "plot writes a real PNG of 1000 x 600" png front.png
run "$Q" front q.h5 --min cycles --min area_mm2 --plot front2.png
py "stquery-8.3" "front --plot writes the plot beside the table" png front2.png
run "$Q" plot-layers pr.h5 --row 5 -o layers.png
is_status 0 "stquery-8.4 plot-layers exits 0"
py "stquery-8.5" "plot-layers writes a real PNG of 1000 x 800 (speedups, cycles, energy)" png layers.png 1000x800
run "$Q" layers pr.h5 --row 5 --csv
cp "$tmp/out" layers.csv
py "stquery-8.6" "layers: the cycles of every layer and phase of the point" layers pr.h5 5 \
    layers.csv
id=$("$Q" list pr.h5 --columns id --csv | sed -n 7p)
run "$Q" layers pr.h5 --point "$(echo "$id" | cut -c1-8)" --csv
cmp -s "$tmp/out" layers.csv
ok_ $? "stquery-8.7 --point with a prefix of the id selects the same point"

# ---------------------------------------------------------------------- Lua
cat >front.lua <<'EOF'
local r = an.read(arg[1])
local f = an.front(r, {min = {"cycles", "area_mm2"}})
local rows = {}
for _, i in ipairs(f) do rows[#rows + 1] = r.col.row[i] end
table.sort(rows)
print("front " .. table.concat(rows, " "))
local rank = an.ranks(r, {min = {"cycles", "area_mm2"}})
print("rank " .. table.concat(rank, " "))
print(string.format("hv %.17g", an.hypervolume(r, {min = {"cycles", "area_mm2"}, ref = {500000, 1}})))
print("unit " .. r.info.energy_pj.unit .. " " .. r.col.fidelity[1])
EOF
run "$Q" lua front.lua q.h5
is_status 0 "stquery-9.1 lua runs a script with the module an"
want=$("$Q" front q.h5 --min cycles --min area_mm2 --csv --columns row | sed 1d | sort -n | tr '\n' ' ' | sed 's/ $//')
has_out "front $want" "stquery-9.2 an.front gives the rows stquery front gives"
want=$("$Q" ranks q.h5 --min cycles --min area_mm2 --csv --columns row,rank --sort row | sed 1d | cut -d, -f2 | tr '\n' ' ' | sed 's/ $//')
has_out "rank $want" "stquery-9.3 an.ranks gives the ranks stquery ranks gives"
want=$("$Q" hv q.h5 --min cycles --min area_mm2 --ref 500000,1 --json | sed 's/.*"hypervolume": \([^,]*\),.*/\1/')
awk -v a="$(sed -n 's/^hv //p' "$tmp/out")" -v b="$want" 'BEGIN { exit !(a + 0 == b + 0 && b + 0 > 0) }'
ok_ $? "stquery-9.4 an.hypervolume gives the volume stquery hv gives"
has_out "unit pJ sampled" "stquery-9.5 units and choices reach Lua"
run "$Q" lua "$ST_SRC/lua_scripts/front_of_quickstart.lua" q.h5
is_status 0 "stquery-9.6 lua_scripts/front_of_quickstart.lua runs"
has_out "4 of 24 successful points on the front" "stquery-9.7 ... and prints the front"
printf 'local f = io.open("pwned", "w")\n' >bad.lua
run "$Q" lua bad.lua
is_status 2 "stquery-9.8 a sandboxed script cannot write files: exit 2"
has_err "bad.lua:1: io.open is not available in the sandbox (stquery lua --trust lifts it)" \
    "stquery-9.9 ... and the message says so"
printf 'an.front(an.read(arg[1]), {min = {"cyclez"}})\n' >bad2.lua
run "$Q" lua bad2.lua q.h5
is_status 2 "stquery-9.10 an error in an an call: exit 2"
has_err "bad2.lua:1: an.front min: q.h5 has no column 'cyclez'; did you mean 'cycles'?" \
    "stquery-9.11 ... naming the script, the line and the column"

# ---------------------------------------------------------------- bad input
# Each: status 2 (bad input) and the message.
bad() { # id description expected-message args...
    id=$1
    d=$2
    m=$3
    shift 3
    run "$Q" "$@"
    is_status 2 "stquery-10.$id $d: exit 2"
    has_err "$m" "stquery-10.$id ... says: $m"
}
bad 1 "a missing file" "nope.h5: no such file" front nope.h5 --min cycles
echo "not a result" >text.h5
bad 2 "a text file" "text.h5 is not an HDF5 file" info text.h5
if [ $have_py -eq 1 ]; then
    "$PY" check.py foreign foreign.h5
    bad 3 "an HDF5 file that is not ours" "foreign.h5 is an HDF5 file but not a stexplore result file" \
        front foreign.h5 --min cycles
else
    skip "no h5py" "stquery-10.3"
    skip "no h5py" "stquery-10.3"
fi
bad 4 "an unknown metric" "--min: q.h5 has no column 'cyclez'; did you mean 'cycles'?" \
    front q.h5 --min cyclez --min energy_pj
bad 5 "a file with no successful point" "allfail.h5: no successful points (2 points: 2 failed, 0 rejected by keep)" \
    front allfail.h5 --min cycles --min energy_pj
bad 6 "a reference point that dominates nothing" "none of the 24 points is better than the reference point (1, 1) in every objective" \
    hv q.h5 --min cycles --min area_mm2 --ref 1,1
bad 7 "a file without detail" "q.h5 has no per-layer detail: its sweep did not set detail = true" \
    plot-layers q.h5 --row 0 -o l.png
bad 8 "an unknown choice" "--where 'sync = fast': sync = 'fast': not one of lockstep, fifo" \
    list pr.h5 --where 'sync = fast'

run "$Q" plot q.h5 --min cycles --min area_mm2 -o nope/front.png
is_status 2 "stquery-11.1 a plot into a folder that does not exist: exit 2"
ST_PYTHON=/nonexistent/python3 "$Q" plot q.h5 --min cycles --min area_mm2 -o p.png \
    >"$tmp/out" 2>"$tmp/err"
st=$?
is_status 1 "stquery-11.2 no Python: exit 1 (the machine, not the input)"
has_err "cannot run /nonexistent/python3" "stquery-11.3 ... and the message says what to install"
printf '#!/bin/sh\necho "ModuleNotFoundError: No module named '"'"'matplotlib'"'"'" >&2\nexit 1\n' >nompl
chmod +x nompl
ST_PYTHON=$tmp/nompl "$Q" plot q.h5 --min cycles --min area_mm2 -o p.png >"$tmp/out" 2>"$tmp/err"
st=$?
is_status 1 "stquery-11.4 no matplotlib: exit 1"
has_err "matplotlib is missing" "stquery-11.5 ... and the message says so"

tap_end
