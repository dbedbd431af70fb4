#!/bin/bash
# pbs.sh - run a stexplore sweep as a PBS (PBS Pro / Torque) job that resubmits itself with
# --resume until the sweep is complete; the same stop and resume protocol as slurm.sh
# (hpc/chain.sh). From the repository root:
#   SCRIPT=lua_scripts/pe_buffers.lua hpc/pbs.sh               # check, then submit
#   qsub -v SCRIPT=lua_scripts/pe_buffers.lua[,OUTPUT=PATH][,OPTIONS="..."] hpc/pbs.sh
# OPTIONS holds further stexplore options (--shard 0/4 --stop-grace 5), without commas.
# Run directly, it checks the sweep (stexplore --check) and submits itself only when the
# check passes; as a job, it checks again before it starts any rank, and a sweep that
# fails the check ends the job with status 2 and no resubmission.
# PBS sends SIGTERM to the job's processes when the walltime ends and SIGKILL a little
# later (kill_delay, often 10-30 s). Rank 0 takes SIGTERM, saves the result file and exits
# 130 within seconds; this script (which ignores SIGTERM itself) then resubmits itself. A
# margin timer stops the sweep earlier, with SIGUSR1, when MARGIN seconds of walltime are
# left (default 300), in case the site's kill_delay is too short. Two links in a row that
# evaluate no point end the chain with a message instead.
#PBS -N stexplore
#PBS -l select=2:ncpus=32:mpiprocs=32
#PBS -l walltime=04:00:00
#PBS -j oe
set -u
JOBID=${PBS_JOBID:-}
SUBMIT_DIR=${PBS_O_WORKDIR:-$PWD}
cd "$SUBMIT_DIR" || exit 1
: "${SCRIPT:?SCRIPT=path/to/sweep.lua (qsub -v SCRIPT=...)}"
ROOT=${STEXPLORE_ROOT:-$PWD}
EXP=${STEXPLORE:-$ROOT/build/bin/stexplore}
MARGIN=${MARGIN:-300}
export HDF5_USE_FILE_LOCKING=FALSE
# module load openmpi/4.1 hdf5/1.10 lua/5.4
# shellcheck source=hpc/chain.sh
. "$ROOT/hpc/chain.sh" || exit 1
trap '' TERM
catch_stops "USR1 INT HUP"

read -r -a args <<<"${OPTIONS:-}"
args+=(${OUTPUT:+-o "$OUTPUT"} "$SCRIPT")
vars="SCRIPT=$SCRIPT${OUTPUT:+,OUTPUT=$OUTPUT}${OPTIONS:+,OPTIONS=$OPTIONS}"
check_sweep "${args[@]}" || exit 2
if [ -z "$JOBID" ]; then
    # Not a job yet: submit this file.
    exec qsub -v "$vars" "$0"
fi

# Walltime in seconds, from the job's resources (qstat), for the margin timer.
wt=$(qstat -f "$JOBID" 2>/dev/null | sed -n 's/.*Resource_List.walltime = //p')
if [ -n "$wt" ]; then
    secs=$(echo "$wt" | awk -F: '{ print $1 * 3600 + $2 * 60 + $3 }')
    (sleep $((secs > MARGIN ? secs - MARGIN : 0)) && kill -USR1 $$ 2>/dev/null) &
    timer=$!
fi
read -r -a launch <<<"${LAUNCH:-mpirun}"
run_link "${launch[@]}" -- "${args[@]}"
[ -n "${timer:-}" ] && kill "$timer" 2>/dev/null

if should_resubmit; then
    # $0 is PBS's private copy of this script: resubmit the original.
    if next=$(qsub -v "$vars,STEXPLORE_LINK=$((link + 1)),STEXPLORE_IDLE=$idle" \
        "${STEXPLORE_JOB:-$ROOT/hpc/pbs.sh}"); then
        say "stopped before the walltime; resubmitted as job $next (link $((link + 1)))"
    else
        say "stopped before the walltime, and the resubmission failed: qsub -v $vars" \
            "hpc/pbs.sh resumes the sweep"
    fi
fi
exit "$status"
