#!/bin/bash
# slurm.sh - run a stexplore sweep as a Slurm job that resubmits itself with --resume
# until the sweep is complete. Submit from the repository root:
#   sbatch hpc/slurm.sh lua_scripts/pe_buffers.lua [-o results/pe_buffers.h5]
# Slurm sends SIGUSR1 to this script 5 minutes before the time limit (--signal below);
# the script passes it to mpirun, which passes it to every rank; rank 0 stops handing out
# points, saves the result file and exits with status 130; the script then submits itself
# again with --resume. Edit the #SBATCH lines (and the modules) for your cluster.
# A stop by scancel or the time limit itself (SIGTERM to every process) resubmits too:
# mpirun reports 1 when it is signalled (Open MPI 4.1), so the status that decides is rank
# 0's own, which it writes to a status file (--status-file). LAUNCH=srun launches with
# srun instead of mpirun.
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
ROOT=${STEXPLORE_ROOT:-$SLURM_SUBMIT_DIR}
EXP=${STEXPLORE:-$ROOT/build/bin/stexplore}
# Result files on a shared file system that refuses locks: stexplore writes without
# locking already; readers (h5py, h5dump) need this too.
export HDF5_USE_FILE_LOCKING=FALSE

# The first job starts the sweep; the ones it submits resume it (--resume also starts a
# sweep that has no file yet, so this works for both).
# On a stop, mpirun gives the ranks 1 s (Open MPI's odls_base_sigkill_timeout) before it
# kills them; rank 0 may need longer to let the workers finish their batches
# (--stop-grace) and save the file, and its status must reach the status file.
export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-5}
sf=${SLURM_SUBMIT_DIR:-$PWD}/stexplore-${SLURM_JOB_ID:-$$}.status
rm -f "$sf"
${LAUNCH:-mpirun} "$EXP" --progress log --resume --status-file "$sf" "$@" &
pid=$!
trap 'kill -USR1 $pid' USR1
trap 'kill -USR1 $pid' TERM INT HUP
wait $pid
status=$?
# wait returns early (status > 128) when the trap runs: wait again for mpirun itself.
while kill -0 $pid 2>/dev/null; do
    wait $pid
    status=$?
done
echo "stexplore: launcher exit status $status"
# Rank 0's status is the sweep's; the launcher's stands when rank 0 wrote none (it crashed).
if [ -s "$sf" ]; then
    status=$(cat "$sf")
fi
rm -f "$sf"
echo "stexplore: exit status $status"
if [ "$status" -eq 130 ]; then
    echo "stexplore: stopped before the time limit; resubmitting with --resume"
    # $0 is Slurm's private copy of this script: resubmit the original.
    job=${STEXPLORE_JOB:-$(scontrol show job "${SLURM_JOB_ID:-}" | sed -n 's/^ *Command=\([^ ]*\).*/\1/p')}
    sbatch "${job:-$ROOT/hpc/slurm.sh}" "$@"
fi
exit "$status"
