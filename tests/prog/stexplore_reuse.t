#!/bin/sh
# stexplore_reuse.t - stexplore --reuse OLD.h5: points OLD.h5 has are taken from it, and
# the result equals, point for point (h5same.py), the file of a run that evaluates
# everything: with failed points, per-layer detail and the sweep's own keep, in one process
# and under mpirun; a point changed in OLD.h5 shows it was taken, not evaluated; a point of
# another seed is evaluated again; files of another network or evaluation, without the
# detail the sweep records, or not result files are refused and nothing is written.
. "${ST_SRC:-.}/tests/prog/tap.sh"

prog_setup
SAME="$ST_SRC/tests/prog/h5same.py"

plan 21
need_h5py 21 reuse

sed 's/st.pow2(4, 16)/st.pow2(4, 32)/; s/"quickstart"/"quickstart-wide"/' \
    "$ST_SRC/lua_scripts/quickstart.lua" >wide.lua
run "$EXP" --progress none -o old.h5 "$ST_SRC/lua_scripts/quickstart.lua"
is_status 0 "reuse-0.1 the quick start: 24 points"
run "$EXP" --progress none -o full.h5 wide.lua
is_status 0 "reuse-0.2 a wider sweep (32 points) evaluated in full"

run "$EXP" --progress none -o new.h5 --reuse old.h5 wide.lua
is_status 0 "reuse-1.1 the wider sweep reusing the quick start"
has_out "24 points taken from old.h5 instead of evaluated" "reuse-1.2 ... takes its 24 points"
has_out "8 this run" "reuse-1.3 ... and evaluates the other 8"
ok_cmd "reuse-1.4 ... into the file of the full run, point for point" "$PY" "$SAME" --merged full.h5 new.h5

if command -v mpirun >/dev/null 2>&1; then
    # Under AddressSanitizer Open MPI's own allocations at exit show as leaks (as in
    # stexplore_mpi.t): leak checking is off for this run only.
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 run mpirun -np 2 --oversubscribe \
        "$EXP" --progress none -o mpi.h5 --reuse old.h5 wide.lua
    is_status 0 "reuse-1.5 the same under mpirun -np 2"
    ok_cmd "reuse-1.6 ... into the same file" "$PY" "$SAME" --merged --ranks full.h5 mpi.h5
else
    skip "no mpirun" reuse-1.5
    skip "no mpirun" reuse-1.6
fi

# Failed points, detail, and a keep that differs from the old file's.
cat >mix.lua <<'LUA'
return st.sweep {
    name = "mix", network = "fmnist-cnn", batch = 1, detail = true,
    params = { pe_rows = {4, 8}, ch1_kib = {0.01, 64}, p = {0, 0.9} },
    fixed = { fidelity = "sampled", sample_fraction = 0.2 },
    keep = function(m, p) return m.speedup > 1.3 end,
}
LUA
sed 's/p = {0, 0.9}/p = {0, 0.5, 0.9}/; s/1.3 end/1.35 end/' mix.lua >mix2.lua
run "$EXP" --progress none -o mix.h5 mix.lua
is_status 0 "reuse-2.1 a sweep with failed and rejected points and detail"
run "$EXP" --progress none -o mixfull.h5 mix2.lua
run "$EXP" --progress none -o mixnew.h5 --reuse mix.h5 mix2.lua
has_out "8 points taken from mix.h5" "reuse-2.2 a wider one with another keep takes its 8 points"
ok_cmd "reuse-2.3 ... failures, detail and its own keep equal the full run's" \
    "$PY" "$SAME" --merged mixfull.h5 mixnew.h5

# Taken, not evaluated: a value changed in the old file comes through.
cp old.h5 changed.h5
"$PY" -c 'import h5py; f = h5py.File("changed.h5", "r+"); f["metrics/cycles"][5] = 7'
run "$EXP" --progress none -o fromchanged.h5 --reuse changed.h5 wide.lua
"$PY" - <<'PYEOF'
import sys, h5py
a, b = h5py.File("changed.h5", "r"), h5py.File("fromchanged.h5", "r")
ids = list(b["points/id"][()])
row = ids.index(a["points/id"][5])
sys.exit(0 if b["metrics/cycles"][row] == 7 else 1)
PYEOF
ok_ $? "reuse-3.1 a point's value changed in OLD.h5 is in the result: taken, not evaluated"
sed 's/name = "quickstart",/name = "quickstart", seed = 2,/' "$ST_SRC/lua_scripts/quickstart.lua" >seed2.lua
"$EXP" -q -o seed2.h5 seed2.lua >/dev/null 2>&1
run "$EXP" --progress none -o fromseed2.h5 --reuse seed2.h5 wide.lua
has_out "0 points taken from seed2.h5 instead of evaluated (24 of its ids had other parameter values" \
    "reuse-3.2 points of another seed (same ids, other seeds) are evaluated again"
ok_cmd "reuse-3.3 ... into the full run's file" "$PY" "$SAME" --merged full.h5 fromseed2.h5

# ----------------------------------------------------------------- refusals
sed 's/"fmnist-cnn"/"fmnist-resnet"/; s/"quickstart"/"other"/' "$ST_SRC/lua_scripts/quickstart.lua" >other.lua
"$EXP" -q -o other.h5 other.lua >/dev/null 2>&1
run "$EXP" --progress none -o bad.h5 --reuse other.h5 wide.lua
is_status 2 "reuse-4.1 a file of another network is refused: exit 2"
has_err "--reuse other.h5: its network (fingerprint" "reuse-4.2 ... naming the file and the network"
sed 's/name = "quickstart",/name = "none", eval = "none",/' "$ST_SRC/lua_scripts/quickstart.lua" >none.lua
"$EXP" -q -o none.h5 none.lua >/dev/null 2>&1
run "$EXP" --progress none -o bad.h5 --reuse none.h5 wide.lua
has_err "--reuse none.h5: its evaluation ('eval: none') is not this sweep's ('eval: sim')" \
    "reuse-4.3 a file of another evaluation is refused"
cat >nodetail.lua <<'LUA'
return st.sweep { name = "nd", network = "fmnist-cnn", batch = 2, detail = true,
    params = { pe_rows = {4, 8} }, fixed = { fidelity = "sampled", sample_fraction = 0.2 } }
LUA
run "$EXP" --progress none -o bad.h5 --reuse old.h5 nodetail.lua
has_err "--reuse old.h5: the file has no per-layer detail, which this sweep records" \
    "reuse-4.4 a file without the detail the sweep records is refused"
echo "not hdf5" >text.h5
run "$EXP" --progress none -o bad.h5 --reuse text.h5 wide.lua
has_err "--reuse text.h5 is not an HDF5 file" "reuse-4.5 a file that is not HDF5 is refused"
run "$EXP" --progress none -o bad.h5 --reuse missing.h5 wide.lua
has_err "--reuse cannot read missing.h5" "reuse-4.6 a missing file is refused"
[ ! -e bad.h5 ] && [ ! -e bad.h5.journal ]
ok_ $? "reuse-4.7 no refusal left a result or a journal"

tap_end
