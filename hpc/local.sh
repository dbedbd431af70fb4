#!/bin/sh
# local.sh - run a sweep on this machine over all its cores with mpirun, or without MPI
# when mpirun is missing. Extra arguments go to stexplore.
#   hpc/local.sh lua_scripts/pe_buffers.lua            # one rank per core
#   NP=4 hpc/local.sh --resume lua_scripts/pe_buffers.lua
# As root, Open MPI needs to be told that it may run (the two variables below); with more
# ranks than cores it needs --oversubscribe.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EXP=${STEXPLORE:-$ROOT/build/bin/stexplore}
NP=${NP:-$(nproc)}
if ! command -v mpirun >/dev/null 2>&1 || [ "$NP" -le 1 ]; then
    exec "$EXP" "$@"
fi
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
extra=""
[ "$NP" -gt "$(nproc)" ] && extra="--oversubscribe"
exec mpirun $extra -np "$NP" "$EXP" "$@"
