#!/bin/bash
# slurm_chain.t - the walltime chain for real: a sweep of about a minute at 2 ranks,
# submitted with `sbatch hpc/slurm.sh` under a one-minute time limit (Slurm's least) with a
# signal lead of 20 s, is signalled by Slurm itself, stops cleanly, resubmits itself with
# --resume, and the chain finishes on its own; the final file equals an uninterrupted
# run's, point by point by id, and the job log shows each link. Prints what the chain cost:
# the time from each signal to the next link running, and the chain's time against the
# uninterrupted run's (docs/hpc.md quotes them). On a one-node cluster that
# tests/slurm/cluster.sh starts and takes down. About two minutes: it runs once per test
# suite, on the normal build (a sanitizer build skips it, with the reason).
. "${ST_SRC:-.}/tests/prog/tap.sh"
. "$ST_SRC/tests/slurm/lib.sh"

cluster_up
plan 8
TWO="-N 1 -n 2 --ntasks-per-node=2"
n=$(points_for 50 2)
sweep_file minute "$n"

# The uninterrupted run, as a job of the same shape with time to spare.
sbatch -Q $TWO --time=10 -o ref.log "$JOB" -o ref.h5 minute.lua
wait_idle 300
grep -q "stexplore exit status 0, $n points evaluated by this link" ref.log
ok_ $? "chain-1 the uninterrupted run: $n points in one job"
ref_s=$(awk -v a="$(at "link 1 of the chain" ref.log)" -v b="$(at "stexplore exit status" ref.log)" \
    'BEGIN { printf "%.1f", b - a }')

# The chain: a one-minute limit, SIGUSR1 20 s before it. SBATCH_SIGNAL is sbatch's
# --signal, and the links it submits inherit it.
SBATCH_SIGNAL=B:USR1@20 sbatch -Q $TWO --time=1 -o chain.log "$JOB" -o chain.h5 minute.lua
wait_idle 300
ok_ $? "chain-2 the chain of a one-minute time limit ends by itself"
links=$(grep -c "link [0-9]* of the chain" chain.log)
stops=$(grep -c "SIGUSR1 received: stopping the sweep" chain.log)
resub=$(grep -c "stopped before the time limit; resubmitted as job" chain.log)
[ "$links" -ge 2 ] && [ "$stops" -eq $((links - 1)) ] && [ "$resub" -eq $((links - 1)) ]
ok_ $? "chain-3 the log shows each of the $links links; each but the last signalled by Slurm ($stops) and resubmitted ($resub)"
[ "$(grep -c "stexplore exit status 130" chain.log)" -eq $((links - 1)) ] &&
    [ "$(grep -c "stexplore exit status 0" chain.log)" -eq 1 ] &&
    grep "stexplore-job" chain.log | tail -n 1 | grep -q "stexplore exit status 0"
ok_ $? "chain-4 ... each stop exits 130, the last link 0"
! grep -q "DUE TO TIME LIMIT" chain.log
ok_ $? "chain-5 ... and no link reached its time limit"
seq 1 "$links" | while read -r k; do grep -q "link $k of the chain" chain.log || exit 1; done
ok_ $? "chain-6 ... the links are numbered 1 to $links"
same chain.h5 ref.h5 chain-7 "the chain's file equals the uninterrupted run's, point by point by id"
ev=$(evaluated chain.log)
[ "$ev" = "$n" ]
ok_ $? "chain-8 the links evaluated $ev points in all: each of the $n once"

# What the chain cost: for each resubmission, the seconds from the signal to the link's
# end (the stop) and to the next link's start; and the whole chain against the
# uninterrupted run (on a machine shared with other work, that difference is noisy).
resubmission_times chain.log
chain_s=$(awk -v a="$(at "link 1 of the chain" chain.log)" \
    -v b="$(date -d "$(grep "stexplore exit status" chain.log | tail -n 1 | awk '{ print $2 }')" +%s.%3N)" \
    'BEGIN { printf "%.1f", b - a }')
echo "# measured: $n points, $links links: uninterrupted $ref_s s, chain $chain_s s from the first link's start to the last link's end"
echo "# measured: the chain took $(awk -v a="$ref_s" -v b="$chain_s" -v l="$links" 'BEGIN { printf "%.1f s more, %.1f s per resubmission", b - a, (b - a) / (l - 1) }')"

logs_if_failed
tap_end
