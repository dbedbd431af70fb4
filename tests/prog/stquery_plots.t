#!/bin/sh
# stquery_plots.t - plot-sweep, plot-energy, plot --color-by and the per-layer plot of a
# large network: what stquery hands the renderer (captured by a stand-in renderer named by
# ST_PLOT_PY) against the same aggregates computed in numpy over the file (h5py), then the
# real renderer's PNG files and their sizes, and bad input.
. "${ST_SRC:-.}/tests/prog/tap.sh"

prog_setup

plan 19
need_h5py 19 plots

# A renderer that keeps the description it is given and writes a stand-in PNG.
cat >capture.py <<'PYEOF'
import shutil, sys
shutil.copy(sys.argv[2], sys.argv[3] + ".json")
open(sys.argv[3], "wb").write(b"\x89PNG\r\n\x1a\n")
PYEOF
cat >check.py <<'PYEOF'
import json, sys
import h5py, numpy as np

f = h5py.File(sys.argv[1], "r")
d = json.load(open(sys.argv[3])) if sys.argv[2] != "png" else None
col = lambda n: (f["metrics"][n] if n in f["metrics"] else f["params"][n])[()].astype(float)
ok = f["points/status"][()] == 0
what = sys.argv[2]
if what == "sweep":      # one line per (metric, pe_rows), the mean over pe_cols at each p
    assert len(d["lines"]) == 2 * 3, len(d["lines"])
    k = 0
    for m in ("speedup_bp", "speedup_wg"):
        for rows in (4, 8, 16):
            line = d["lines"][k]
            k += 1
            assert line["label"] == "%s, pe_rows = %d" % (m, rows), line["label"]
            sel = ok & (col("pe_rows") == rows)
            ps = sorted(set(col("p")[sel]))
            assert [p[0] for p in line["points"]] == ps
            for x, y, n in line["points"]:
                v = col(m)[sel & (col("p") == x)]
                assert n == len(v) and abs(y - v.mean()) <= 1e-12 * abs(y), (m, rows, x, y, v)
elif what == "max":      # --agg max, no --by, a filter: one line
    (line,) = d["lines"]
    sel = ok & (col("pe_cols") == 16)
    for x, y, n in line["points"]:
        assert y == col("energy_gain")[sel & (col("p") == x)].max()
    assert "where pe_cols = 16" in d["title"], d["title"]
elif what == "energy":   # each point's components, sparse and dense, in the order written
    comps = d["components"]
    assert comps == ["mac", "reg", "ch0", "ch1", "ch2", "dram", "leak"]
    rows = [int(p["label"].split("\n")[0].split()[1]) for p in d["points"]]
    top = sorted(np.nonzero(ok)[0], key=lambda r: -col("energy_pj")[r])[:int(sys.argv[4])]
    assert rows == [int(r) for r in top], (rows, top)
    for p, r in zip(d["points"], rows):
        assert p["run"] == [col("energy_pj_" + c)[r] for c in comps]
        assert p["dense"] == [col("dense_energy_pj_" + c)[r] for c in comps]
        assert abs(sum(p["run"]) - col("energy_pj")[r]) <= 1e-9 * col("energy_pj")[r]
    assert len(rows) == int(sys.argv[4]), rows
elif what == "color":    # the colouring column, row by row, with the filter in the title
    sel = np.nonzero(ok & (col("pe_cols") == 16))[0]
    assert d["color"]["name"] == "p" and d["color"]["values"] == list(col("p")[sel])
    assert d["x"]["values"] == list(col("cycles")[sel])
    assert "\nwhere pe_cols = 16" in d["title"]
elif what == "png":      # a real PNG of WxH
    b = open(sys.argv[3], "rb").read(24)
    w, h = int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")
    assert b[:8] == b"\x89PNG\r\n\x1a\n" and (w, h) == tuple(map(int, sys.argv[4].split("x"))), (w, h)
PYEOF

run "$EXP" --progress none -o q.h5 "$ST_SRC/lua_scripts/quickstart.lua"
is_status 0 "plots-0.1 stexplore writes the quick start's file"

export ST_PLOT_PY="$tmp/capture.py"
run "$Q" plot-sweep q.h5 --x p --y speedup_bp,speedup_wg --by pe_rows -o s.png
is_status 0 "plots-1.1 plot-sweep: metrics against a parameter, a line per metric and value of --by"
ok_cmd "plots-1.2 ... each point the mean over the rest, as numpy finds it" "$PY" check.py q.h5 sweep s.png.json
run "$Q" plot-sweep q.h5 --x p --y energy_gain --agg max --where 'pe_cols = 16' -o m.png
ok_cmd "plots-1.3 --agg max and --where (named in the title)" "$PY" check.py q.h5 max m.png.json
run "$Q" plot-energy q.h5 --sort energy_pj:desc --limit 5 -o e.png
is_status 0 "plots-2.1 plot-energy of the 5 points of highest energy"
ok_cmd "plots-2.2 ... each point's components, sparse and dense, equal the file's" \
    "$PY" check.py q.h5 energy e.png.json 5
run "$Q" plot q.h5 --min cycles --min area_mm2 --color-by p --where 'pe_cols = 16' -o c.png
is_status 0 "plots-3.1 plot --color-by"
ok_cmd "plots-3.2 ... colours by the column's values, the filter in the title" \
    "$PY" check.py q.h5 color c.png.json
cat >enum.lua <<'LUA'
return st.sweep { name = "e", network = "fmnist-cnn", batch = 1,
    params = { sync = {"lockstep", "fifo"}, p = {0, 0.9} },
    fixed = { fidelity = "sampled", sample_fraction = 0.2 } }
LUA
"$EXP" -q -o e.h5 enum.lua >/dev/null 2>&1
run "$Q" plot-sweep e.h5 --x sync --y speedup -o x.png
"$PY" -c '
import json; d = json.load(open("x.png.json"))
assert d["x"]["ticks"] == [[0, "lockstep"], [1, "fifo"]], d["x"]
assert [p[0] for p in d["lines"][0]["points"]] == [0, 1]'
ok_ $? "plots-3.3 a parameter of choices on the x axis is named by its choices"
unset ST_PLOT_PY

if ! "$PY" -c 'import matplotlib' 2>/dev/null; then
    for i in 4.1 4.2 4.3 4.4 4.5; do skip "no matplotlib for /usr/bin/python3" "plots-$i"; done
else
    run "$Q" plot-sweep q.h5 --x p --y speedup --by pe_rows -o s.png
    ok_cmd "plots-4.1 the renderer draws a sweep: 1000 x 600" "$PY" check.py q.h5 png s.png 1000x600
    run "$Q" plot-energy q.h5 --where 'pe_rows = 16' -o e.png
    ok_cmd "plots-4.2 ... an energy breakdown of 8 points: 1000 x 600" "$PY" check.py q.h5 png e.png 1000x600
    run "$Q" plot q.h5 --min cycles --min energy_pj --color-by pe_rows -o c.png
    ok_cmd "plots-4.3 ... a front coloured by a parameter" "$PY" check.py q.h5 png c.png 1000x600
    cat >r50.lua <<'LUA'
return st.sweep { name = "r50", network = "resnet50", batch = 1, detail = true,
    params = { p = {0.9} }, fixed = { fidelity = "sampled", sample_fraction = 0.05 } }
LUA
    "$EXP" -q -o r50.h5 r50.lua >/dev/null 2>&1
    run "$Q" plot-layers r50.h5 --row 0 -o l.png
    has_out "54 layers" "plots-4.4 plot-layers on ResNet-50 (54 compute layers)"
    ok_cmd "plots-4.5 ... a figure as wide as its layers: 1712 x 800" "$PY" check.py q.h5 png l.png 1712x800
fi

run "$Q" plot-sweep q.h5 --x p -o s.png
has_err "give --x PARAMETER and --y METRIC" "plots-5.1 plot-sweep without --y is refused"
run "$Q" plot-sweep q.h5 --x p --y speedupp -o s.png
has_err "--y: q.h5 has no column 'speedupp'; did you mean 'speedup'" "plots-5.2 an unknown metric is named"
run "$Q" plot-sweep q.h5 --x p --y speedup --agg median -o s.png
has_err "--agg median: must be mean, min or max" "plots-5.3 a bad --agg is refused"
run "$Q" plot-energy q.h5 -o e.png --where 'p > 5'
has_err "no successful point passes the filters" "plots-5.4 nothing to plot is an error"
run "$Q" front q.h5 --min cycles --min area_mm2 --color-by p
has_err "--color-by colours a plot: give --plot OUT.png too" "plots-5.5 --color-by without a plot"

tap_end
