#!/bin/bash
# pbs.sh - run a stexplore sweep as a PBS (PBS Pro / Torque) job that resubmits itself with
# --resume until the sweep is complete. Submit from the repository root:
#   qsub -v SCRIPT=lua_scripts/pe_buffers.lua hpc/pbs.sh
# PBS sends SIGTERM to the job's processes when the walltime ends and SIGKILL a little
# later (kill_delay, often 10-30 s). Rank 0 takes SIGTERM, saves the result file and exits
# 130 within seconds; this script (which ignores SIGTERM) then resubmits itself. A margin
# timer stops the sweep earlier when MARGIN seconds of walltime are left (default 300),
# in case the site's kill_delay is too short.
# mpirun itself reports 1 when it is signalled (Open MPI 4.1), whatever the ranks did: the
# status that decides the resubmission is rank 0's own, which it writes to a status file
# beside the job's output (--status-file).
#PBS -N stexplore
#PBS -l select=2:ncpus=32:mpiprocs=32
#PBS -l walltime=04:00:00
#PBS -j oe
set -u
cd "${PBS_O_WORKDIR:-.}"
: "${SCRIPT:?qsub -v SCRIPT=path/to/sweep.lua}"
ROOT=${STEXPLORE_ROOT:-$PWD}
EXP=${STEXPLORE:-$ROOT/build/bin/stexplore}
MARGIN=${MARGIN:-300}
export HDF5_USE_FILE_LOCKING=FALSE
# module load openmpi/4.1 hdf5/1.10 lua/5.4

# On a stop, mpirun gives the ranks 1 s (Open MPI's odls_base_sigkill_timeout) before it
# kills them; rank 0 may need longer to let the workers finish their batches
# (--stop-grace) and save the file, and its status must reach the status file.
export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-5}
trap '' TERM
sf=$PWD/stexplore-${PBS_JOBID:-$$}.status
rm -f "$sf"
${LAUNCH:-mpirun} "$EXP" --progress log --resume --status-file "$sf" ${OUTPUT:+-o "$OUTPUT"} "$SCRIPT" &
pid=$!
# Walltime in seconds, from the job's resources (qstat), for the margin timer.
wt=$(qstat -f "${PBS_JOBID:-}" 2>/dev/null | sed -n 's/.*Resource_List.walltime = //p')
if [ -n "$wt" ]; then
    secs=$(echo "$wt" | awk -F: '{ print $1 * 3600 + $2 * 60 + $3 }')
    (sleep $((secs > MARGIN ? secs - MARGIN : 0)) && kill -USR1 $pid 2>/dev/null) &
    timer=$!
fi
wait $pid
status=$?
[ -n "${timer:-}" ] && kill $timer 2>/dev/null
echo "stexplore: launcher exit status $status"
# Rank 0's status is the sweep's; the launcher's stands when rank 0 wrote none (it crashed).
if [ -s "$sf" ]; then
    status=$(cat "$sf")
fi
rm -f "$sf"
echo "stexplore: exit status $status"
if [ "$status" -eq 130 ]; then
    echo "stexplore: stopped before the walltime; resubmitting with --resume"
    # $0 is PBS's private copy of this script: resubmit the original.
    qsub -v SCRIPT="$SCRIPT"${OUTPUT:+,OUTPUT="$OUTPUT"} "${STEXPLORE_JOB:-$ROOT/hpc/pbs.sh}"
fi
exit "$status"
