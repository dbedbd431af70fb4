#!/bin/sh
# stexplore_mpi.t - the explorer under mpirun, as a user runs it on a cluster: the files
# written at 1, 2 and 4 ranks (oversubscribed on a small machine) equal the one written
# without mpirun; a failing point stays a failed record; a worker killed with kill -9 ends
# the job and --resume at another rank count completes it with every point once; SIGTERM
# to rank 0, or to mpirun, stops the run within seconds, ready for --resume; errors under
# mpirun end every rank. Skips, saying why, when mpirun or h5py is missing.
. "${ST_SRC:-.}/tests/prog/tap.sh"

EXP="$ST_BUILD/bin/stexplore"
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

if ! command -v mpirun >/dev/null 2>&1; then
    echo "1..0 # SKIP mpirun is not installed (Debian: openmpi-bin)"
    exit 0
fi
if ! [ -x "$PY" ] || ! "$PY" -c 'import h5py, numpy' 2>/dev/null; then
    echo "1..0 # SKIP h5py is not installed (Debian: python3-h5py)"
    exit 0
fi

# Open MPI refuses root unless told, and more ranks than cores unless told; CI runs as root
# on 2 cores. Containers often forbid the cross-memory attach of Open MPI's shared-memory
# transport (it needs ptrace rights): copy through shared memory instead.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# Under AddressSanitizer, Open MPI's own allocations at exit show up as leaks: leak
# detection is off for the runs of this test only (the rest of the suite keeps it).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
MPI="mpirun --oversubscribe -np"

plan 44

# A sweep with every kind of record: points that fail (psum buffers too small), points
# that `where` drops before and `keep` rejects after evaluation, and per-layer detail.
cat >mpi.lua <<'EOF2'
return st.sweep {
  name = "mpi",
  network = "fmnist-cnn",
  params = {
    pe_rows = {2, 4, 8, 16, 32},
    pe_cols = {2, 4, 8, 16, 32},
    p = st.linspace(0, 0.95, 8),
    sync = {"lockstep", "fifo"},
    ch2_kib = {4, 64},
  },
  fixed = { fidelity = "sampled", sample_fraction = 0.05 },
  where = function(p) return p.pe_rows * p.pe_cols >= 8 end,
  keep = function(m) return m.speedup > 1.1 end,
  detail = true,
}
EOF2
# Random draws with repeats: de-duplication happens on rank 0 only.
cat >draws.lua <<'EOF2'
return st.sweep {
  name = "draws",
  network = "fmnist-cnn",
  sample = st.random{count = 300, seed = 11},
  params = { pe_rows = {4, 8, 16}, pe_cols = {4, 8, 16}, p = {0, 0.5, 0.9} },
  fixed = { fidelity = "sampled", sample_fraction = 0.05 },
}
EOF2
# Exact fidelity: slow enough (a few seconds) to be stopped in the middle.
sed 's/fidelity = "sampled", sample_fraction = 0.05/fidelity = "exact"/; s/"mpi"/"slow"/; s/detail = true/detail = false/' \
    mpi.lua >slow.lua

same() { # id description reference file
    run "$PY" "$ST_SRC/tests/prog/h5same.py" --ranks "$3" "$4"
    is_status 0 "$1 $2"
    [ "$st" -eq 0 ] || sed 's/^/#   /' "$tmp/out"
}
ranks_of() {
    "$PY" -c 'import h5py, sys; print(h5py.File(sys.argv[1], "r")["provenance"].attrs["ranks"])' "$1"
}

# ------------------------------------------------------------- determinism
run "$EXP" -q mpi.lua -o ref.h5
is_status 0 "mpi-1.1 the sweep runs without mpirun"
run "$EXP" -q draws.lua -o draws-ref.h5
is_status 0 "mpi-1.2 the random sweep runs without mpirun"
for n in 1 2 4; do
    run $MPI $n "$EXP" --progress none mpi.lua -o np$n.h5
    is_status 0 "mpi-2.$n mpirun -np $n runs the sweep"
    has_out "failed" "mpi-2.$n ... and counts its failed points"
    same "mpi-2.$n" "... and writes the file the run without mpirun wrote" ref.h5 np$n.h5
    [ "$(ranks_of np$n.h5)" = "$n" ]
    ok_ $? "mpi-2.$n ... recording $n ranks in its provenance"
done
run $MPI 3 "$EXP" -q --master-eval no mpi.lua -o noeval.h5
is_status 0 "mpi-2.5 with rank 0 only scheduling (--master-eval no)"
same "mpi-2.5" "... the file is the same" ref.h5 noeval.h5
run $MPI 4 "$EXP" -q --batch 3 draws.lua -o draws4.h5
is_status 0 "mpi-2.6 random draws with repeats at 4 ranks, in small batches"
same "mpi-2.6" "... give the same file" draws-ref.h5 draws4.h5

# A layer list as the network: the workers get its text with the setup (with rank 0 only
# scheduling, every point is computed from that text), and write the same file.
mkdir -p lists
cp "$ST_SRC/tests/data/topologies/alexnet.csv" lists/
cat >lists/csv.lua <<'EOF2'
return st.sweep {
  name = "csv",
  network = "alexnet.csv",
  params = { p = {0, 0.9}, pe_rows = {8, 16}, sync = {"lockstep", "fifo"} },
  fixed = { fidelity = "sampled", sample_fraction = 0.05 },
  detail = true,
}
EOF2
run "$EXP" -q lists/csv.lua -o csv-ref.h5
is_status 0 "mpi-2.7 a sweep over a layer list runs without mpirun"
run $MPI 3 "$EXP" -q --master-eval no lists/csv.lua -o csv3.h5
is_status 0 "mpi-2.8 ... and at 3 ranks with rank 0 only scheduling"
same "mpi-2.8" "... the file is the same" csv-ref.h5 csv3.h5

# ---------------------------------------------------------------- bad input
run $MPI 2 "$EXP" --check mpi.lua
is_status 0 "mpi-3.1 --check under mpirun exits 0"
[ "$(grep -c '^candidates:' "$tmp/out")" -eq 1 ]
ok_ $? "mpi-3.2 ... and only rank 0 prints"
printf 'return st.sweep { name = "bad", network = "fmnist-cnn", params = { pe_rows = {0} } }\n' >bad.lua
run timeout 60 $MPI 2 "$EXP" bad.lua
is_status 2 "mpi-3.3 a script error under mpirun: every rank ends, exit 2"
[ "$(grep -c 'pe_rows = 0' "$tmp/err")" -eq 1 ]
ok_ $? "mpi-3.4 ... and the message is printed once"
run timeout 60 $MPI 2 "$EXP" mpi.lua -o ref.h5
is_status 2 "mpi-3.5 an existing output under mpirun: exit 2, no rank left waiting"
run timeout 60 $MPI 2 "$EXP" --bogus mpi.lua
is_status 2 "mpi-3.6 a bad option under mpirun: exit 2"

# ------------------------------------------------------------ kill -9, resume
run "$EXP" -q slow.lua -o slow-ref.h5
is_status 0 "mpi-4.1 the slow sweep runs without mpirun"
total=$("$PY" -c 'import h5py; print(h5py.File("slow-ref.h5", "r").attrs["points"])')

# Start a 4-rank run of slow.lua into $1 in the background: $mp is mpirun's pid. Wait until
# the journal holds a few frames, then set $w to the pid of rank $2.
start_slow() { # file rank [journal bytes]
    $MPI 4 "$EXP" -q --batch 4 slow.lua -o "$1" >"$tmp/bg.out" 2>"$tmp/bg.err" &
    mp=$!
    n=0
    while [ $n -lt 1500 ]; do
        s=$(stat -c %s "$1.journal" 2>/dev/null || echo 0)
        [ "$s" -gt "${3:-30000}" ] && break
        kill -0 $mp 2>/dev/null || break
        sleep 0.02
        n=$((n + 1))
    done
    w=""
    for p in $(pgrep -P $mp); do
        if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
            w=$p
        fi
    done
}
# Resume $1 with $2 ranks, and check that the points journaled before and the points this
# run evaluated add up to the sweep: nothing lost, nothing evaluated twice.
resume_check() { # id file ranks
    run timeout 120 $MPI $3 "$EXP" --progress log --resume slow.lua -o "$2"
    is_status 0 "$1 --resume at $3 ranks completes the sweep"
    before=$(sed -n 's/.*resuming .*: \([0-9]*\) points journaled/\1/p' "$tmp/err")
    now=$(sed -n 's/.* \([0-9]*\) this run in .*/\1/p' "$tmp/out")
    [ -n "$before" ] && [ -n "$now" ] && [ "$before" -gt 0 ] && [ "$now" -gt 0 ] &&
        [ $((before + now)) -eq "$total" ]
    ok_ $? "$1 ... evaluating only what was not journaled ($before + $now = $total)"
    [ -n "$now" ] || sed 's/^/#   /' "$tmp/out" "$tmp/err"
    same "$1" "... and the file equals the uninterrupted one" slow-ref.h5 "$2"
}

start_slow k9.h5 1
[ -n "$w" ] && kill -9 "$w"
ok_ $? "mpi-5.1 a worker (rank 1) is killed with kill -9 in the middle of the sweep"
st=0
wait $mp || st=$?
[ "$st" -ne 0 ] && [ -f k9.h5.journal ]
ok_ $? "mpi-5.2 ... the job ends with an error status ($st) and leaves its journal"
resume_check "mpi-5.3" k9.h5 2

start_slow term.h5 0
t0=$(date +%s)
[ -n "$w" ] && kill -TERM "$w"
ok_ $? "mpi-6.1 rank 0 gets SIGTERM (a walltime warning) in the middle of the sweep"
st=0
wait $mp || st=$?
[ "$st" -eq 130 ]
ok_ $? "mpi-6.2 ... the job exits with status 130 (got $st)"
[ $(($(date +%s) - t0)) -le 10 ]
ok_ $? "mpi-6.3 ... within seconds"
grep -q "resume" "$tmp/bg.err"
ok_ $? "mpi-6.4 ... saying to resume"
"$PY" -c 'import h5py, sys; f = h5py.File("term.h5", "r"); sys.exit(int(f.attrs["complete"] != 0 or f.attrs["points"] == 0))'
ok_ $? "mpi-6.5 ... with the points it had saved in a readable, incomplete file"
resume_check "mpi-6.6" term.h5 1

# mpirun passes SIGTERM on to the ranks after a delay of its own (about a second): signal
# it as soon as the journal exists. A sweep that ends first is complete, and must be.
start_slow mterm.h5 0 0
t0=$(date +%s)
kill -TERM $mp
st=0
wait $mp || st=$?
[ $(($(date +%s) - t0)) -le 10 ]
ok_ $? "mpi-7.1 SIGTERM to mpirun ends the job within seconds (status $st)"
run timeout 120 $MPI 4 "$EXP" -q --resume slow.lua -o mterm.h5
is_status 0 "mpi-7.2 --resume at 4 ranks completes the sweep"
same "mpi-7.3" "... and the file equals the uninterrupted one" slow-ref.h5 mterm.h5

tap_end
