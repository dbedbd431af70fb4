#!/bin/sh
# stquery_merge.t - stquery merge: shards of a sweep (made here by h5split.py, in h5py, the
# way a job array splits a sweep) merged back equal the one file, point for point, detail
# and failures included; overlapping inputs give each point once; a rerun of the same
# script merges into the same points; and every bad input is refused with its message, a
# non-zero exit, no output written and no file touched.
. "${ST_SRC:-.}/tests/prog/tap.sh"

SPLIT="$ST_SRC/tests/prog/h5split.py"
SAME="$ST_SRC/tests/prog/h5same.py"
prog_setup

plan 38

need_h5py 38 merge

# A sweep with every kind of point (ok, failed: a buffer too small, rejected by keep) and
# per-layer detail.
cat >mix.lua <<'EOF'
return st.sweep {
    name = "mix",
    network = "fmnist-cnn",
    batch = 1,
    detail = true,
    params = { pe_rows = {4, 8}, ch1_kib = {0.01, 64}, p = {0, 0.5, 0.9} },
    fixed = { fidelity = "sampled", sample_fraction = 0.2 },
    keep = function(m, p) return m.speedup > 1.3 end,
}
EOF
run "$EXP" --progress none -o mix.h5 mix.lua
is_status 0 "merge-0.1 stexplore writes a file with ok, failed and rejected points and detail"
run "$EXP" --progress none -o again.h5 mix.lua
is_status 0 "merge-0.2 ... and the same sweep again"
run "$EXP" --progress none -o q.h5 "$ST_SRC/lua_scripts/quickstart.lua"
is_status 0 "merge-0.3 ... and another sweep"

# ------------------------------------------------------------------ shards
"$PY" "$SPLIT" split mix.h5 3 s3_ && "$PY" "$SPLIT" split mix.h5 2 s2_
ok_ $? "merge-1.1 h5py splits the file into 3 shards and into 2"
run "$Q" merge s3_2.h5 s3_0.h5 s3_1.h5 -o m3.h5
is_status 0 "merge-1.2 merge of the 3 shards (given in any order) exits 0"
has_out "wrote m3.h5: 12 points (6 failed, 3 rejected) from 3 files, 0 repeated" \
    "merge-1.3 ... and says what it wrote"
ok_cmd "merge-1.4 the merged shards equal the file of the whole sweep (h5py, every object)" \
    "$PY" "$SAME" --merged mix.h5 m3.h5
run "$Q" merge s3_0.h5 s2_1.h5 s3_1.h5 s2_0.h5 s3_2.h5 -o m5.h5
is_status 0 "merge-1.5 overlapping inputs (two splits of the same file) merge"
has_out "12 points (6 failed, 3 rejected) from 5 files, 12 repeated points written once" \
    "merge-1.6 ... each point once"
ok_cmd "merge-1.7 ... into the file of the whole sweep" "$PY" "$SAME" --merged mix.h5 m5.h5
run "$Q" merge mix.h5 again.h5 -o rerun.h5
is_status 0 "merge-1.8 a rerun of the same script merges with the first run"
ok_cmd "merge-1.9 ... into the same points" "$PY" "$SAME" --merged mix.h5 rerun.h5
run "$Q" merge s3_1.h5 -o one.h5
is_status 0 "merge-1.10 one input is a copy"
[ "$("$PY" "$SPLIT" dups one.h5)" = 4 ]
ok_ $? "merge-1.11 ... of its 4 points"
"$PY" - m3.h5 <<'EOF'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    p = f["provenance"].attrs["merged_from"]
    assert "s3_2.h5: 4 points" in p and "s3_0.h5: 4 points" in p, p
EOF
ok_ $? "merge-1.12 the provenance names every input (merged_from)"
run "$Q" list m3.h5 --status failed --csv --columns row,status
[ "$(grep -c failed "$tmp/out")" = 6 ]
ok_ $? "merge-1.13 stquery reads the merged file: 6 failed points"
run "$Q" layers m3.h5 --row 11 --csv
is_status 0 "merge-1.14 ... and the detail of its last row"

# ------------------------------------------------------------- bad inputs
cksum mix.h5 q.h5 m3.h5 >sums
run "$Q" merge mix.h5 missing.h5 -o bad.h5
is_status 2 "merge-2.1 a missing input: exit 2"
has_err "missing.h5: " "merge-2.2 ... naming it"
echo "not hdf5" >text.h5
run "$Q" merge mix.h5 text.h5 -o bad.h5
has_err "text.h5 is not an HDF5 file" "merge-2.3 a file that is not HDF5 is refused, named"
"$PY" -c 'import h5py; h5py.File("foreign.h5", "w")["x"] = [1]'
run "$Q" merge foreign.h5 mix.h5 -o bad.h5
has_err "foreign.h5 is an HDF5 file but not a stexplore result file" \
    "merge-2.4 an HDF5 file that is not a result file is refused"
run "$Q" merge mix.h5 ./mix.h5 -o bad.h5
is_status 2 "merge-2.5 the same file twice: exit 2"
has_err "mix.h5 and ./mix.h5 are the same file" "merge-2.6 ... naming both"
run "$Q" merge mix.h5 again.h5 -o again.h5 --force
is_status 2 "merge-2.7 -o equal to an input is refused, even with --force"
has_err "-o again.h5 is the input again.h5" "merge-2.8 ... with a message"
run "$Q" merge mix.h5 again.h5 -o m3.h5
is_status 2 "merge-2.9 an existing output without --force: exit 2"
has_err "-o m3.h5 exists: --force replaces it" "merge-2.10 ... saying how to replace it"
run "$Q" merge mix.h5 q.h5 -o bad.h5
is_status 2 "merge-2.11 files of different sweeps are refused"
has_err "mix.h5 and q.h5 are not of the same sweep" "merge-2.12 ... naming both"
# A point that two files disagree on: one shard's value changed.
cp s3_0.h5 changed.h5
"$PY" -c 'import h5py; f = h5py.File("changed.h5", "r+"); f["metrics/area_mm2"][0] = 9.5'
run "$Q" merge s3_0.h5 changed.h5 -o bad.h5
is_status 2 "merge-2.13 a point with different values in two inputs is refused"
has_err "with different /metrics/area_mm2:" "merge-2.14 ... naming the column and the values"
has_err "against 9.5" "merge-2.15 ... and the value"
# Columns that differ: a metric removed from one input.
cp s3_1.h5 fewer.h5
"$PY" -c 'import h5py; f = h5py.File("fewer.h5", "r+"); del f["metrics/time_s"]'
run "$Q" merge s3_0.h5 fewer.h5 -o bad.h5
has_err "s3_0.h5 has the column /metrics/time_s and fewer.h5 has not" \
    "merge-2.16 inputs with different columns are refused"
run "$Q" merge mix.h5
has_err "no output: give -o FILE.h5" "merge-2.17 no -o is refused"
[ ! -e bad.h5 ] && [ -z "$(ls | grep '\.tmp$')" ]
ok_ $? "merge-2.18 no refused merge left an output or a temporary file"
cksum mix.h5 q.h5 m3.h5 | cmp -s - sums
ok_ $? "merge-2.19 no input and no existing output was changed"
run "$Q" merge mix.h5 again.h5 -o m3.h5 --force
is_status 0 "merge-2.20 --force replaces an existing output"
ok_cmd "merge-2.21 ... with the merge" "$PY" "$SAME" --merged mix.h5 m3.h5

tap_end
