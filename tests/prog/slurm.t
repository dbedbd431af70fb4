#!/bin/bash
# slurm.t - hpc/slurm.sh against a real Slurm (a one-node cluster that
# tests/slurm/cluster.sh starts for the test and takes down after): a sweep that fails
# stexplore --check is refused before anything is submitted or run; a chain launched with
# srun, stopped by SIGUSR1 to the batch shell (what --signal=B:USR1 does) and then to every
# process, exits 130 and resubmits itself until done; a job cancelled (scancel
# --signal=KILL) or killed outright (SIGKILL to every process) resubmits nothing, and
# resubmitted by hand finishes; a job array of shards and a dependent job that merges
# them (stquery merge); a chain whose links make no progress stops after two. Every final file is
# compared, point by point by id, with an uninterrupted run (tests/slurm/same_points.py,
# h5py). The minute-long chain under a real time limit is slurm_chain.t.
. "${ST_SRC:-.}/tests/prog/tap.sh"
. "$ST_SRC/tests/slurm/lib.sh"

cluster_up
plan 27
# Jobs on the one node: one task, or two (the #SBATCH lines of slurm.sh ask for 2 nodes
# of 32 tasks).
ONE="-N 1 -n 1 --ntasks-per-node=1"
TWO="-N 1 -n 2 --ntasks-per-node=2"

srun --mpi=list 2>&1 | grep -q pmix
ok_ $? "slurm-1.1 the one-node cluster runs, and srun --mpi=list offers pmix"

# ------------------------------------------------------------ 2. refused before anything
cat >bad.lua <<'EOF'
return { name = "bad", network = "fmnist-cnn", params = { pe_rows = st.range(4, 8) },
  where = function(p) return p.pe_rows > 4 end, colour = "blue" }
EOF
run "$JOB" -o bad.h5 bad.lua
is_status 2 "slurm-2.1 hpc/slurm.sh run directly on a sweep that fails --check exits 2"
has_err "bad.lua:2: unknown field 'colour'" "slurm-2.2 ... naming the script, line and field"
[ "$(squeue -h -t all | wc -l)" -eq 0 ]
ok_ $? "slurm-2.3 ... and submits nothing"
sbatch -Q $ONE -o bad-%j.log "$JOB" -o bad.h5 bad.lua
wait_idle 30
grep -q "bad.lua:2: unknown field 'colour'" bad-*.log &&
    grep -q "fails stexplore --check (message above): nothing run, nothing resubmitted" bad-*.log
ok_ $? "slurm-2.4 submitted with sbatch, the job checks first and says why it stops"
[ "$(squeue -h -t all | wc -l)" -eq 1 ] && squeue -h -t all -o %T | grep -q FAILED &&
    scontrol show job -o | grep -q "ExitCode=2:0"
ok_ $? "slurm-2.5 ... the job fails with status 2 and resubmits nothing"
[ ! -e bad.h5 ] && [ ! -e bad.h5.journal ]
ok_ $? "slurm-2.6 ... and writes nothing"

# ------------------------------------------------------------ the reference
n=$(points_for 8 2)
sweep_file small "$n"
t0=$(now)
mpirun --oversubscribe -np 2 "$EXP" -q -o ref.h5 small.lua >ref.out 2>&1
ok_ $? "slurm-3.0 reference: $n points uninterrupted at 2 ranks ($(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s)"

# ------------------------------------------------------------ 3. srun, stopped twice
j1=$(LAUNCH=srun sbatch --parsable $TWO --time=10 -o srun.log \
    "$JOB" -o srun.h5 small.lua)
wait_file 30 srun.h5.journal && sleep 2
scancel --batch --signal=USR1 "$j1" # what Slurm's --signal=B:USR1@T does
# The journal is there from link 1: wait until link 2's ranks run (rank 0 has written
# 'running' to the job's status file). A signal to a rank still loading its libraries ends
# it, and the others would wait in MPI_Init until the time limit.
wait_grep 30 "link 2 of the chain" srun.log
j2=$(squeue -h -o %i | head -n 1)
wait_grep 30 running "stexplore-$j2.status" && sleep 2
scancel --full --signal=USR1 "$j2" # to every process of the job: the shell, srun, the ranks
wait_idle 90
ok_ $? "slurm-3.1 a chain launched with srun --mpi=pmix ends by itself"
grep -q "link 1 of the chain: job $j1 on .*, srun --mpi=pmix" srun.log
ok_ $? "slurm-3.2 ... link 1 ran with srun"
[ "$(grep -c "stexplore exit status 130" srun.log)" -eq 2 ] &&
    [ "$(grep -c "resubmitted as job" srun.log)" -eq 2 ]
ok_ $? "slurm-3.3 ... SIGUSR1 to the batch shell, then to every process: each link exits 130 and resubmits ($(grep -c 'stexplore exit status 130' srun.log) of 2)"
grep -q "link 3 of the chain" srun.log && grep -q "stexplore exit status 0" srun.log
ok_ $? "slurm-3.4 ... and link 3 finishes the sweep, status 0"
same srun.h5 ref.h5 slurm-3.5 "... the file equals the uninterrupted run's, point by point by id"
ev=$(evaluated srun.log)
[ "$ev" = "$n" ]
ok_ $? "slurm-3.6 ... the links evaluated $ev points in all, each of the $n once"
resubmission_times srun.log

# ------------------------------------------------------------ 4. cancelled, killed outright
# scancel --signal=KILL is a cancel to Slurm 22.05: SIGTERM to every process, SIGKILL
# KillWait seconds later; the sweep stops cleanly and the chain ends there. A job whose
# processes all die at once (node lost, out of memory) has no say at all: every process
# of the job (scontrol listpids) is sent SIGKILL. Either way a resubmission by hand
# resumes the sweep and finishes it.
for how in scancel kill9; do
    j1=$(sbatch --parsable $TWO --time=10 -o $how.log "$JOB" -o $how.h5 small.lua)
    wait_file 30 $how.h5.journal && sleep 2
    if [ $how = scancel ]; then
        scancel --signal=KILL "$j1"
    else
        kill -KILL $(scontrol listpids "$j1" | awk 'NR > 1 { print $1 }')
    fi
    wait_idle 30
    ! grep -q "resubmitted" $how.log && [ -e $how.h5.journal ]
    ok_ $? "slurm-4.1.$how a job stopped by $how resubmits nothing and leaves its journal"
    sbatch -Q $TWO --time=10 -o $how.log "$JOB" -o $how.h5 small.lua
    wait_idle 60
    grep -q "resuming $how.h5: [1-9][0-9]* points journaled" $how.log
    ok_ $? "slurm-4.2.$how ... resubmitted by hand, it resumes from the journal"
    same $how.h5 ref.h5 slurm-4.3.$how "... and its file equals the uninterrupted run's"
done
grep -q "cancelled (scancel): not resubmitting" scancel.log && grep -q "stexplore exit status 130" scancel.log
ok_ $? "slurm-4.4 scancel: the sweep stopped cleanly (130) and the log says why the chain ends"

# ------------------------------------------------------------ 5. job array and merge
arr=$(sbatch --parsable --array=0-2 $ONE --time=10 -o arr-%a.log "$JOB" -o arr-%a.h5 small.lua)
sbatch -Q --dependency=afterok:"$arr" -n 1 -o merge.log \
    --wrap "$ST_BUILD/bin/stquery merge arr-0.h5 arr-1.h5 arr-2.h5 -o arr.h5"
wait_idle 90
ok_ $? "slurm-5.1 an array of 3 shards and a job depending on it end by themselves"
"$PY" - "$n" <<'EOF'
import sys
import h5py
import numpy as np
ref = h5py.File("ref.h5", "r")["points/id"][()]
for i in range(3):
    f = h5py.File("arr-%d.h5" % i, "r")
    ids = f["points/id"][()]
    want = np.sort(ref[ref % 3 == i])
    if f.attrs["complete"] != 1 or not np.array_equal(np.sort(ids), want):
        sys.exit("shard %d/3: %d points, want the %d whose id modulo 3 is %d" % (i, len(ids), len(want), i))
EOF
ok_ $? "slurm-5.2 ... shard i/3 holds exactly the points of the reference whose id modulo 3 is i"
same arr.h5 ref.h5 slurm-5.3 "... and the merged file equals the unsharded run"

# ------------------------------------------------------------ 6. a chain that makes no progress
# Points of several seconds each and a stop a second and a half after each link starts:
# no link can finish a point. (Rank 0 only schedules: a point on its own helper thread
# would hold the stop until the point ends.)
cat >slow.lua <<'EOF'
return { name = "slow", network = "alexnet", fixed = { batch = 32, p = 0.5 },
  params = { pe_rows = st.range(8, 11) } }
EOF
sbatch -Q $TWO --time=10 -o idle.log "$JOB" --master-eval no --stop-grace 0.5 -o slow.h5 slow.lua
for k in 1 2; do
    wait_grep 30 "link $k of the chain" idle.log && sleep 1.5
    scancel --batch --signal=USR1 "$(squeue -h -t R -o %i | head -n 1)"
    wait_grep 30 "stexplore exit status 130, 0 points evaluated" idle.log
done
wait_idle 30
[ "$(grep -c "0 points evaluated by this link" idle.log)" -eq 2 ] &&
    [ "$(grep -c "resubmitted as job" idle.log)" -eq 1 ] && ! grep -q "link 3" idle.log
ok_ $? "slurm-6.1 two links in a row that evaluate nothing: the second does not resubmit"
grep -q "no point evaluated in the last 2 links of the chain: not resubmitting" idle.log
ok_ $? "slurm-6.2 ... and says why"
[ "$(jobs_left)" -eq 0 ]
ok_ $? "slurm-6.3 ... and nothing is left in the queue"

logs_if_failed
tap_end
