#!/bin/bash
# slurm.sh - run a stexplore sweep as a Slurm job that resubmits itself with --resume until
# the sweep is complete. From the repository root:
#   hpc/slurm.sh lua_scripts/pe_buffers.lua [-o results/pe_buffers.h5]     # check, submit
#   sbatch [options] hpc/slurm.sh lua_scripts/pe_buffers.lua [-o ...]      # submit as is
# Run directly, it checks the sweep (stexplore --check) and submits itself only when the
# check passes; as a job, it checks again before it starts any rank, and a sweep that
# fails the check ends the job with status 2 and no resubmission.
# Slurm sends SIGUSR1 to this script 5 minutes before the time limit (--signal below); the
# script passes it to the launcher, which passes it to every rank; rank 0 stops handing
# out points, saves the result file and exits 130; the script then submits itself again
# with --resume, with the job's own nodes, tasks, time limit, partition, account, QOS, name
# and log file (read from scontrol; a --signal given to sbatch is not in that record: set
# it with SBATCH_SIGNAL, which the next links inherit, or in the #SBATCH line). A stop by
# the time limit itself (SIGTERM to every process) resubmits too; a stop by scancel (also
# --signal=KILL, which Slurm sends as SIGTERM first) does not. Two links in a row that
# evaluate no point end the chain with a message instead.
# LAUNCH=mpirun (default) or LAUNCH=srun (srun --mpi=pmix; SRUN_MPI= to change); any other
# value is the launcher's command line. In a job array (sbatch --array=0-3), task i of N
# runs --shard i/N, and %a in the arguments becomes i (-o results/sweep-%a.h5).
# Edit the #SBATCH lines (and the modules) for your cluster.
#SBATCH --job-name=stexplore
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=32
#SBATCH --time=04:00:00
#SBATCH --signal=B:USR1@300
#SBATCH --output=stexplore-%j.log
#SBATCH --open-mode=append
set -u

# Modules: whatever gives Open MPI 4 (or another MPI) and the HDF5, Lua 5.4 and zlib
# libraries stexplore was built against, e.g.:
#   module load openmpi/4.1 hdf5/1.10 lua/5.4
JOBID=${SLURM_JOB_ID:-}
SUBMIT_DIR=${SLURM_SUBMIT_DIR:-$PWD}
# The job's own record: the script's real path (Command; $0 is Slurm's private copy), and
# what to ask for when resubmitting.
rec=
[ -n "$JOBID" ] && rec=$(scontrol show job -o "$JOBID" 2>/dev/null)
field() { tr ' ' '\n' <<<"$rec" | sed -n "s/^$1=//p" | head -n 1; }
self=${STEXPLORE_JOB:-$(field Command)}
[ -n "$self" ] || self=$0
ROOT=${STEXPLORE_ROOT:-$(cd "$(dirname "$self")/.." && pwd)}
EXP=${STEXPLORE:-$ROOT/build/bin/stexplore}
# Result files on a shared file system that refuses locks: stexplore writes without
# locking already; readers (h5py, h5dump) need this too.
export HDF5_USE_FILE_LOCKING=FALSE
# shellcheck source=hpc/chain.sh
. "$ROOT/hpc/chain.sh" || exit 1
catch_stops "USR1 TERM INT HUP"

args=("$@")
if [ -z "$JOBID" ]; then
    # Not a job yet: check, then submit this file.
    check_sweep "${args[@]}" || exit 2
    exec sbatch "$0" "${args[@]}"
fi

# Task i of an array of N: shard i/N, %a in the arguments replaced by i. The links it
# resubmits are ordinary jobs that carry --shard in their arguments.
if [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
    i=$((SLURM_ARRAY_TASK_ID - ${SLURM_ARRAY_TASK_MIN:-0}))
    n=${SLURM_ARRAY_TASK_COUNT:-0}
    if [ "$i" -ge "$n" ] || [[ "${args[*]}" != *%a* ]]; then
        say "array task $SLURM_ARRAY_TASK_ID: the array must be contiguous (--array=0-$((n - 1)))" \
            "and the output name must hold %a (-o results/sweep-%a.h5), one file per shard"
        exit 2
    fi
    args=("${args[@]//%a/$i}" --shard "$i/$n")
    # The links it submits are not array tasks: keep these out of their environment.
    unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_MAX \
        SLURM_ARRAY_TASK_COUNT SLURM_ARRAY_TASK_STEP SLURM_ARRAY_JOB_ID
fi
check_sweep "${args[@]}" || exit 2

case ${LAUNCH:-mpirun} in
srun) launch=(srun "--mpi=${SRUN_MPI:-pmix}") ;;
*) read -r -a launch <<<"${LAUNCH:-mpirun}" ;;
esac
run_link "${launch[@]}" -- "${args[@]}"

# SIGTERM comes from the time limit (the job's reason is then TimeLimit) or from scancel,
# whose stop is the user's: a cancelled chain ends there.
if [ "$stop" = TERM ]; then
    rec=$(scontrol show job -o "$JOBID" 2>/dev/null)
    reason=$(field Reason)
    if [ -n "$reason" ] && [ "$reason" != TimeLimit ]; then
        say "cancelled (scancel): not resubmitting; sbatch hpc/slurm.sh ${args[*]} resumes the sweep"
        exit "$status"
    fi
fi
if should_resubmit; then
    # Ask for what this job had.
    opts=(--parsable --open-mode=append
        "--export=ALL,STEXPLORE_LINK=$((link + 1)),STEXPLORE_IDLE=$idle")
    for f in JobName:--job-name NumNodes:--nodes NumTasks:--ntasks TimeLimit:--time \
        Partition:--partition Account:--account QOS:--qos StdOut:--output StdErr:--error; do
        v=$(field "${f%%:*}")
        case "$v" in "" | "(null)" | UNLIMITED | Partition_Limit) ;; *) opts+=("${f#*:}=$v") ;; esac
    done
    v=$(field NtasksPerN:B:S:C)
    [ "${v%%:*}" -gt 0 ] 2>/dev/null && opts+=("--ntasks-per-node=${v%%:*}")
    if next=$(sbatch "${opts[@]}" "$self" "${args[@]}"); then
        say "stopped before the time limit; resubmitted as job ${next%%;*} (link $((link + 1)))"
    else
        say "stopped before the time limit, and the resubmission failed: sbatch hpc/slurm.sh" \
            "${args[*]} resumes the sweep"
    fi
fi
exit "$status"
