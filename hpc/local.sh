#!/bin/sh
# local.sh - run a sweep on this machine over all its cores with mpirun, or without MPI
# when mpirun is missing. Extra arguments go to stexplore.
#   hpc/local.sh lua_scripts/pe_buffers.lua            # one rank per core
#   NP=4 hpc/local.sh --resume lua_scripts/pe_buffers.lua
# As root, Open MPI needs to be told that it may run (the two variables below); with more
# ranks than cores it needs --oversubscribe.
# A stop by SIGINT (Ctrl-C), SIGTERM or SIGHUP exits 130, as stexplore alone does: the
# signal goes on to mpirun as SIGUSR1 (which Open MPI passes to the ranks, where SIGHUP
# would crash mpirun 4.1), and since mpirun reports 1 whenever it was signalled itself,
# rank 0's own status is read from a status file.
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
# On a stop, mpirun gives the ranks 1 s (Open MPI's odls_base_sigkill_timeout) before it
# kills them; rank 0 may need longer to let the workers finish their batches
# (--stop-grace) and save the file, and its status must reach the status file.
export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-5}
sf=$(mktemp "${TMPDIR:-/tmp}/stexplore-status.XXXXXX")
trap 'rm -f "$sf"' EXIT
set +e
stops=0
trap 'stops=$((stops + 1))' INT TERM HUP
mpirun $extra -np "$NP" "$EXP" --status-file "$sf" "$@" &
pid=$!
# A stop is passed on once rank 0 has written 'running' to the status file, when every rank
# has blocked the stop signals: sent earlier, mpirun forwards it to no rank (before it has
# started them) or to a rank still loading, which it ends. A second stop goes at once.
passed=0
while kill -0 $pid 2>/dev/null; do
    if [ $passed -lt $stops ] && { [ -s "$sf" ] || [ $stops -ge 2 ]; }; then
        passed=$stops
        kill -USR1 $pid 2>/dev/null
    fi
    sleep 0.1
done
wait $pid
status=$?
# Rank 0's status is the sweep's; mpirun's stands when rank 0 wrote none (it crashed).
case $(cat "$sf") in
'' | *[!0-9]*) ;;
*) status=$(cat "$sf") ;;
esac
exit "$status"
