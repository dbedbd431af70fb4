#!/bin/sh
# stquery_diff.t - stquery diff against a comparison written here in h5py: the points only
# in one file, every value that differs in the points of both (statuses, parameters,
# metrics, exact 64-bit counts), absolute and relative differences, --rtol, the exit status
# (0 the same, 1 different, 2 trouble) and bad input.
. "${ST_SRC:-.}/tests/prog/tap.sh"

prog_setup

plan 20

need_h5py 20 diff

# The independent side: the differences of two files as a set of CSV-like tuples.
cat >want.py <<'PYEOF'
import sys, csv, h5py, numpy as np

def cols(f):
    out = {"status": f["points/status"][()]}
    for g in ("params", "metrics"):
        for k in f[g]:
            out[k] = f[g][k][()]
    return out

def diffs(pa, pb, rtol):
    with h5py.File(pa, "r") as fa, h5py.File(pb, "r") as fb:
        ida, idb = list(fa["points/id"][()]), list(fb["points/id"][()])
        ca, cb = cols(fa), cols(fb)
    rb = {int(v): i for i, v in enumerate(idb)}
    ra = {int(v): i for i, v in enumerate(ida)}
    out = set()
    for i, v in enumerate(ida):
        if int(v) not in rb:
            out.add(("%016x" % v, str(i), "", ""))
    for i, v in enumerate(idb):
        if int(v) not in ra:
            out.add(("%016x" % v, "", str(i), ""))
    for i, v in enumerate(ida):
        j = rb.get(int(v))
        if j is None:
            continue
        for k in ca:
            if k not in cb:
                continue
            x, y = ca[k][i], cb[k][j]
            if x.dtype.kind == "f" and (np.isnan(x) or np.isnan(y)):
                same = np.isnan(x) and np.isnan(y)
            elif x.dtype.kind == "u" and rtol == 0:
                same = int(x) == int(y)
            else:
                same = x == y or abs(float(x) - float(y)) <= rtol * max(abs(float(x)), abs(float(y)))
            if not same:
                out.add(("%016x" % v, str(i), str(j), k))
    return out

pa, pb, rtol, got_csv = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
want = diffs(pa, pb, rtol)
rows = list(csv.DictReader(open(got_csv)))
got = {(r["id"], r["row_a"], r["row_b"], r["column"]) for r in rows}
assert got == want, (sorted(got - want), sorted(want - got))
for r in rows:   # the differences themselves, from the values printed
    if r["abs_diff"]:
        a, b = float(r["a"]), float(r["b"])
        assert float(r["abs_diff"]) == b - a or abs(float(r["abs_diff"]) - (b - a)) <= 1e-9 * abs(b - a), r
        if a != 0:
            assert abs(float(r["rel_diff"]) - (b - a) / abs(a)) <= 1e-12 * abs((b - a) / a) + 1e-300, r
print("# %d differences" % len(want))
PYEOF

run "$EXP" --progress none -o a.h5 "$ST_SRC/lua_scripts/quickstart.lua"
is_status 0 "diff-0.1 stexplore writes a file"
run "$EXP" --progress none -o b.h5 "$ST_SRC/lua_scripts/quickstart.lua"
is_status 0 "diff-0.2 ... and the same sweep again"

run "$Q" diff a.h5 b.h5
is_status 0 "diff-1.1 two runs of one sweep: exit 0 (the same)"
has_out "0 only in a, 0 only in b, 24 in both: 0 of them differ in 0 values" \
    "diff-1.2 ... and the summary says so"

# Changes made with h5py: a 64-bit count by one (beyond a double's care at 2^53 it would
# not show; here it must), a real by 1 %, a parameter, a status, a point removed.
cp a.h5 c.h5
"$PY" - <<'EOF'
import h5py, numpy as np
with h5py.File("c.h5", "r+") as f:
    f["metrics/cycles"][3] = f["metrics/cycles"][3] + 1
    f["metrics/energy_pj"][5] = f["metrics/energy_pj"][5] * 1.01
    f["metrics/area_mm2"][6] = f["metrics/area_mm2"][6] * 1.5
    f["params/p"][7] = 0.95
    f["points/status"][2] = 1
    f["points/id"][9] = 12345
EOF
run "$Q" diff a.h5 c.h5 --csv -o d.csv
is_status 1 "diff-2.1 changed values: exit 1 (different)"
ok_cmd "diff-2.2 every difference, and only those, as h5py finds them" "$PY" want.py a.h5 c.h5 0 d.csv
run "$Q" diff a.h5 c.h5
has_out "only in a  " "diff-2.3 a point only in the first file is listed"
has_out "only in b  0000000000003039 (row 9)" "diff-2.4 ... and one only in the second"
has_out "status: ok -> failed" "diff-2.5 a status changed is shown by name"
has_out "(1, +0.000" "diff-2.6 a count changed by 1 shows +1 exactly"
has_out "+1%)" "diff-2.7 a real changed by 1 % shows +1 %"
run "$Q" diff a.h5 c.h5 --rtol 0.02 --csv -o r.csv
ok_cmd "diff-2.8 --rtol 0.02: the 1 % change is no longer a difference (h5py agrees)" \
    "$PY" want.py a.h5 c.h5 0.02 r.csv
! grep -q energy_pj r.csv
ok_ $? "diff-2.9 ... energy_pj is not among them"
run "$Q" diff a.h5 c.h5 --limit 2
[ "$(grep -c '^only\|^differs' "$tmp/out")" -eq 2 ]
ok_ $? "diff-2.10 --limit 2 lists two lines"
has_out "(2 lines shown: --limit 2)" "diff-2.11 ... and says so"

# ----------------------------------------------------------------- bad input
run "$Q" diff a.h5
is_status 2 "diff-3.1 one file: exit 2"
has_err "give two" "diff-3.2 ... with a message"
run "$Q" diff a.h5 nope.h5
has_err "nope.h5: no such file" "diff-3.3 a missing file is named"
is_status 2 "diff-3.4 ... exit 2 (not 1: trouble is not a difference)"
run "$Q" diff a.h5 b.h5 --rtol -1
has_err "--rtol -1: must be a number >= 0" "diff-3.5 a bad --rtol is refused"

tap_end
