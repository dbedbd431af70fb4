#!/bin/bash
# slurm_local.t - what of the job arrays and the job scripts needs no batch server:
# stexplore --shard I/N (bad values refused; shards of a random sweep with `where` and
# repeats, and of a sweep over networks, split it exactly by id, counts included, and
# stquery merge makes them the unsharded file; a shard resumes, and only as itself);
# hpc/pbs.sh, for which Debian has no server, with a stand-in qsub that records what it
# is asked: a sweep that fails --check is refused before qsub, a good one is submitted, a
# stop exits 130 and resubmits with the link's number, and a second link in a row that
# evaluates nothing does not resubmit.
. "${ST_SRC:-.}/tests/prog/tap.sh"
normal_build_only "job scripts and shards through the batch-system stand-ins"

prog_setup
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
have_h5py=0
"$PY" -c 'import h5py' 2>/dev/null && have_h5py=1
have_mpi=0
command -v mpirun >/dev/null 2>&1 && have_mpi=1

plan 17

# ------------------------------------------------------------ 1. --shard values
cat >rnd.lua <<'EOF'
return { name = "rnd", network = "fmnist-cnn", sample = st.random{count = 300, seed = 5},
  params = { pe_rows = st.range(2, 12), pe_cols = {4, 8, 16} },
  where = function(p) return p.pe_rows ~= 5 end }
EOF
bad_ok=0
for v in 0/0 3/2 -1/2 x 2/2 1/ /2 1/2x +1/2 " 1/2" 1/1000001 18446744073709551617/3; do
    run "$EXP" --check --shard "$v" rnd.lua
    if [ "$st" -ne 2 ] || ! grep -qF -- "--shard '$v': must be I/N, shard I of N, with N in [1, 1000000] and I in [0, N-1]" "$tmp/err"; then
        echo "# --shard '$v': status $st, $(cat "$tmp/err")"
        bad_ok=1
    fi
done
ok_ $bad_ok "shard-1.1 --shard 0/0, 3/2, -1/2, x, 2/2, 1/, /2, 1/2x, +1/2, ' 1/2', 1/1000001, 2^64+1/3: exit 2 naming the value and the rule"
run "$EXP" --check --shard rnd.lua
is_status 2 "shard-1.2 --shard without a value is refused"

# ------------------------------------------------------------ 2. shards split the sweep
run "$EXP" -q -o all.h5 rnd.lua
is_status 0 "shard-2.1 the unsharded run"
for i in 0 1 2; do
    "$EXP" -q --shard $i/3 -o s$i.h5 rnd.lua || echo "# shard $i/3 failed"
done
total=0
for i in 0 1 2; do
    c=$("$EXP" --check --first 0 --shard $i/3 rnd.lua | sed -n 's/^points: \([0-9]*\) .*/\1/p')
    total=$((total + c))
done
all=$("$EXP" --check --first 0 rnd.lua | sed -n 's/^points: \([0-9]*\) .*/\1/p')
[ "$total" -eq "$all" ] && [ "$all" -gt 0 ]
ok_ $? "shard-2.2 --check: the shards' points add up to the sweep's ($total of $all)"
if [ $have_h5py -eq 1 ]; then
    "$PY" - <<'EOF'
import sys
import h5py
import numpy as np
a = h5py.File("all.h5", "r")
ids = a["points/id"][()]
counts = {k: 0 for k in ("points", "excluded", "duplicates")}
for i in range(3):
    f = h5py.File("s%d.h5" % i, "r")
    got = np.sort(f["points/id"][()])
    want = np.sort(ids[ids % 3 == i])
    if not np.array_equal(got, want):
        sys.exit("shard %d/3: %d ids, want the %d whose id modulo 3 is %d" % (i, len(got), len(want), i))
    for k in counts:
        counts[k] += int(f.attrs[k])
for k, v in counts.items():
    if v != int(a.attrs[k]):
        sys.exit("%s: the shards add up to %d, the sweep has %d" % (k, v, int(a.attrs[k])))
EOF
    ok_ $? "shard-2.3 shard i/3 holds exactly the points whose id modulo 3 is i; points, excluded and repeats add up"
    "$Q" merge s0.h5 s1.h5 s2.h5 -o joined.h5 >/dev/null &&
        "$PY" "$ST_SRC/tests/slurm/same_points.py" all.h5 joined.h5 >/dev/null
    ok_ $? "shard-2.4 the three shards merged (stquery merge) equal the unsharded file, point by point by id"
else
    skip "no h5py for /usr/bin/python3" "shard-2.3 shards split by id"
    skip "no h5py for /usr/bin/python3" "shard-2.4 shards joined"
fi

# The network as a swept parameter: a point's id covers its network, so shards split
# over networks too.
cat >nets.lua <<'EOF'
return { name = "nets", params = { network = {"fmnist-cnn", "fmnist-resnet"},
  pe_rows = st.range(4, 9) } }
EOF
"$EXP" -q -o nets.h5 nets.lua && "$EXP" -q --shard 0/2 -o nets0.h5 nets.lua &&
    "$EXP" -q --shard 1/2 -o nets1.h5 nets.lua
if [ $have_h5py -eq 1 ]; then
    "$Q" merge nets0.h5 nets1.h5 -o nets-joined.h5 >/dev/null &&
        "$PY" "$ST_SRC/tests/slurm/same_points.py" nets.h5 nets-joined.h5 >/dev/null &&
        "$PY" -c 'import h5py, sys; sys.exit(min(len(h5py.File(f)["points/id"]) for f in sys.argv[1:]) == 0)' nets0.h5 nets1.h5
    ok_ $? "shard-2.5 a sweep over two networks: both shards hold points, and joined equal the unsharded file"
else
    skip "no h5py for /usr/bin/python3" "shard-2.5 shards of a sweep over networks"
fi

# ------------------------------------------------------------ 3. a shard resumes
run "$EXP" -q --resume --shard 1/3 -o s0.h5 rnd.lua
is_status 2 "shard-3.1 a shard's file does not resume as another shard"
has_err "the file has 'shard: 0/3 (the points whose id modulo 3 is 0)'" "shard-3.2 ... the message says which shard the file holds"
run "$EXP" -q --resume -o s0.h5 rnd.lua
is_status 2 "shard-3.3 ... nor as the whole sweep"
# About 3.5 s for the shard's 150 points on the 2-core VM (batch 16), stopped after 0.3 s.
cat >big.lua <<'EOF'
return { name = "big", network = "fmnist-resnet", fixed = { p = 0.5, batch = 16 },
  params = { seed = st.range(1, 300) } }
EOF
"$EXP" -q --shard 1/2 -o whole1.h5 big.lua
"$EXP" -q --shard 1/2 -o part1.h5 big.lua &
pid=$!
for i in $(seq 1 50); do [ -e part1.h5.journal ] && break; sleep 0.1; done
sleep 0.3
kill -USR1 $pid
st=0
wait $pid || st=$?
[ "$st" -eq 130 ]
ok_ $? "shard-3.4 a shard stopped by a signal exits 130 (status $st)"
run "$EXP" -q --resume --shard 1/2 -o part1.h5 big.lua
is_status 0 "shard-3.5 ... and resumes with --shard 1/2"
if [ $have_h5py -eq 1 ]; then
    "$PY" "$ST_SRC/tests/slurm/same_points.py" whole1.h5 part1.h5 >/dev/null
    ok_ $? "shard-3.6 ... to the file of the uninterrupted shard"
else
    skip "no h5py for /usr/bin/python3" "shard-3.6 resumed shard"
fi

# ------------------------------------------------------------ 4. pbs.sh with a stand-in qsub
mkdir stub
cat >stub/qsub <<'EOF'
#!/bin/sh
echo "qsub $*" >>"$STUB_LOG"
echo "77.stub"
EOF
printf '#!/bin/sh\nexit 1\n' >stub/qstat
chmod +x stub/*
export STUB_LOG="$tmp/qsub.log"
cat >bad.lua <<'EOF'
return { name = "bad", network = "fmnist-cnn", params = { pe_rows = st.range(4, 8) }, colour = 1 }
EOF
PATH="$tmp/stub:$PATH" SCRIPT=bad.lua STEXPLORE="$EXP" STEXPLORE_ROOT="$ST_SRC" \
    run bash "$ST_SRC/hpc/pbs.sh"
[ "$st" -eq 2 ] && grep -q "bad.lua:1: unknown field 'colour'" "$tmp/err" && [ ! -e qsub.log ]
ok_ $? "shard-4.1 hpc/pbs.sh run on a sweep that fails --check: exit 2, the message, nothing submitted"
PATH="$tmp/stub:$PATH" SCRIPT=rnd.lua OUTPUT=r.h5 STEXPLORE="$EXP" STEXPLORE_ROOT="$ST_SRC" \
    run bash "$ST_SRC/hpc/pbs.sh"
[ "$st" -eq 0 ] && grep -q "^qsub -v SCRIPT=rnd.lua,OUTPUT=r.h5 .*hpc/pbs.sh" qsub.log && [ ! -e r.h5 ]
ok_ $? "shard-4.2 ... on a good one: checked, submitted with qsub, nothing run here"
if [ $have_mpi -eq 1 ]; then
    cat >slow.lua <<'EOF'
return { name = "slow", network = "alexnet", fixed = { batch = 32, p = 0.5 },
  params = { pe_rows = st.range(8, 11) } }
EOF
    for idle in 0 1; do
        rm -f qsub.log slow.h5 slow.h5.journal
        PATH="$tmp/stub:$PATH" SCRIPT=slow.lua OUTPUT=slow.h5 STEXPLORE="$EXP" \
            STEXPLORE_ROOT="$ST_SRC" PBS_JOBID=$$ STEXPLORE_LINK=$((idle + 1)) STEXPLORE_IDLE=$idle \
            OPTIONS="--master-eval no --stop-grace 0.5" LAUNCH="mpirun --oversubscribe -np 2" \
            bash "$ST_SRC/hpc/pbs.sh" >pbs$idle.log 2>&1 &
        pid=$!
        for i in $(seq 1 100); do [ -e slow.h5.journal ] && break; sleep 0.1; done
        sleep 1
        kill -USR1 $pid # the margin timer's signal
        st=0
        wait $pid || st=$?
        if [ $idle -eq 0 ]; then
            [ "$st" -eq 130 ] && grep -q "0 points evaluated by this link" pbs0.log &&
                grep -q "qsub -v SCRIPT=slow.lua,OUTPUT=slow.h5,OPTIONS=--master-eval no --stop-grace 0.5,STEXPLORE_LINK=2,STEXPLORE_IDLE=1 .*hpc/pbs.sh" qsub.log &&
                grep -q "resubmitted as job 77.stub (link 2)" pbs0.log
            ok_ $? "shard-4.3 pbs.sh: a stop exits 130 and resubmits, counting the idle link (status $st; $(cat qsub.log 2>/dev/null))"
        else
            [ "$st" -eq 130 ] && [ ! -e qsub.log ] &&
                grep -q "no point evaluated in the last 2 links of the chain: not resubmitting" pbs1.log
            ok_ $? "shard-4.4 ... the second idle link in a row does not resubmit, and says why (status $st)"
        fi
    done
else
    skip "mpirun is not installed" "shard-4.3 pbs.sh stop and resubmission"
    skip "mpirun is not installed" "shard-4.4 pbs.sh idle chain"
fi

tap_end
