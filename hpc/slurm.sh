#!/bin/bash
# slurm.sh - run a stexplore sweep as a Slurm job that resubmits itself with --resume
# until the sweep is complete. Submit from the repository root:
#   sbatch hpc/slurm.sh lua_scripts/pe_buffers.lua [-o results/pe_buffers.h5]
# Slurm sends SIGUSR1 to this script 5 minutes before the time limit (--signal below);
# the script passes it to mpirun, which passes it to every rank; rank 0 stops handing out
# points, saves the result file and exits with status 130; the script then submits itself
# again with --resume. Edit the #SBATCH lines (and the modules) for your cluster.
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
mpirun "$EXP" --progress log --resume "$@" &
pid=$!
trap 'kill -USR1 $pid' USR1
wait $pid
status=$?
# wait returns early (status > 128) when the trap runs: wait again for mpirun itself.
while kill -0 $pid 2>/dev/null; do
    wait $pid
    status=$?
done
echo "stexplore: exit status $status"
if [ "$status" -eq 130 ]; then
    echo "stexplore: stopped before the time limit; resubmitting with --resume"
    # $0 is Slurm's private copy of this script: resubmit the original.
    job=${STEXPLORE_JOB:-$(scontrol show job "$SLURM_JOB_ID" | sed -n 's/^ *Command=\([^ ]*\).*/\1/p')}
    sbatch "${job:-$ROOT/hpc/slurm.sh}" "$@"
fi
exit "$status"
