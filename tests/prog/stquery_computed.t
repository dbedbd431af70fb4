#!/bin/sh
# stquery_computed.t - computed columns (an expression in the language of --where) wherever
# stquery takes a column: --columns, --sort, --min/--max of front and ranks; values, orders
# and fronts against the same expressions computed in numpy over the file (h5py), and bad
# expressions with their messages.
. "${ST_SRC:-.}/tests/prog/tap.sh"

prog_setup

plan 14
need_h5py 14 computed

cat >check.py <<'PYEOF'
import csv, sys
import h5py, numpy as np

f = h5py.File(sys.argv[1], "r")
col = lambda n: (f["metrics"][n] if n in f["metrics"] else f["params"][n])[()].astype(float)
ok = f["points/status"][()] == 0
edp = col("energy_pj") * col("cycles")
rows = list(csv.DictReader(open(sys.argv[3])))
what = sys.argv[2]
if what == "values":      # the column's values, exactly, at the rows printed
    assert len(rows) == len(edp)
    for r in rows:
        assert float(r["energy_pj*cycles"]) == edp[int(r["row"])], r
        assert float(r["dense_cycles / cycles"]) == col("dense_cycles")[int(r["row"])] / col("cycles")[int(r["row"])]
        assert float(r["p >= 0.5"]) == float(col("p")[int(r["row"])] >= 0.5)
elif what == "sort":      # rows in increasing energy-delay product, descending speedup per pe
    got = [int(r["row"]) for r in rows]
    want = sorted(range(len(edp)), key=lambda i: (edp[i], i))
    assert got == want, (got, want)
elif what == "front":     # the front of (energy*cycles, area) by comparing every pair
    y = np.stack([edp, col("area_mm2")], 1)
    idx = np.nonzero(ok)[0]
    front = [i for i in idx if not any(np.all(y[j] <= y[i]) and np.any(y[j] < y[i]) for j in idx)]
    got = sorted(int(r["row"]) for r in rows)
    assert got == sorted(front), (got, front)
elif what == "max":       # --max of a ratio: the front of (max speedup_bp*speedup_wg, min area)
    y = np.stack([-(col("speedup_bp") * col("speedup_wg")), col("area_mm2")], 1)
    idx = np.nonzero(ok)[0]
    front = [i for i in idx if not any(np.all(y[j] <= y[i]) and np.any(y[j] < y[i]) for j in idx)]
    assert sorted(int(r["row"]) for r in rows) == sorted(front)
PYEOF

run "$EXP" --progress none -o q.h5 "$ST_SRC/lua_scripts/quickstart.lua"
is_status 0 "computed-0.1 stexplore writes the quick start's file"

run "$Q" list q.h5 --csv --columns 'row,energy_pj*cycles,dense_cycles / cycles,p >= 0.5' -o v.csv
is_status 0 "computed-1.1 --columns takes expressions"
ok_cmd "computed-1.2 ... whose values equal numpy's, exactly" "$PY" check.py q.h5 values v.csv
run "$Q" list q.h5 --csv --sort 'energy_pj*cycles' --columns row -o s.csv
ok_cmd "computed-1.3 --sort by an expression orders the rows as numpy does" "$PY" check.py q.h5 sort s.csv
run "$Q" front q.h5 --min 'energy_pj*cycles' --min area_mm2 --csv -o fr.csv
is_status 0 "computed-1.4 front --min takes an expression"
ok_cmd "computed-1.5 ... and its front is the brute force's" "$PY" check.py q.h5 front fr.csv
run "$Q" front q.h5 --max 'speedup_bp * speedup_wg' --min area_mm2 --csv -o mx.csv
ok_cmd "computed-1.6 front --max of a product, against the brute force" "$PY" check.py q.h5 max mx.csv
run "$Q" front q.h5 --min 'energy_pj*cycles' --min area_mm2
has_out "min energy_pj*cycles, min area_mm2 [mm^2]" "computed-1.7 the title names the expression"
run "$Q" ranks q.h5 --min 'energy_pj*cycles' --min area_mm2 --counts
is_status 0 "computed-1.8 ranks takes one too"
run "$Q" list q.h5 --where 'energy_pj*cycles < 3e13' --columns 'row,energy_pj*cycles' --csv
[ "$(sed 1d "$tmp/out" | wc -l)" -eq "$("$PY" -c '
import h5py; f = h5py.File("q.h5", "r")
print(int(((f["metrics/energy_pj"][()] * f["metrics/cycles"][()].astype(float)) < 3e13).sum()))')" ]
ok_ $? "computed-1.9 a filter and a column on the same expression agree with numpy"

run "$Q" list q.h5 --sort 'energy_pj*cyclez'
is_status 2 "computed-2.1 an unknown name in an expression: exit 2"
has_err "--sort 'energy_pj*cyclez': q.h5 has no column 'cyclez'; did you mean 'cycles'?" \
    "computed-2.2 ... naming the option, the name and the nearest column"
run "$Q" list q.h5 --columns 'row,energy_pj*(cycles'
has_err "--columns 'energy_pj*(cycles': expected ')' at the end" \
    "computed-2.3 a syntax error is named with the option"
run "$Q" front q.h5 --min 'cycles +' --min area_mm2
has_err "--min 'cycles +': expected a number, a column name or '(' at the end" \
    "computed-2.4 ... for --min too"

tap_end
