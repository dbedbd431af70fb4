#!/bin/sh
# cluster.sh - a one-node Slurm cluster in a folder, for the tests of the job scripts.
#   tests/slurm/cluster.sh up DIR     start munged, slurmctld and slurmd with everything
#                                     (config, keys, state, spool, logs, pids) inside DIR;
#                                     then SLURM_CONF=DIR/slurm.conf reaches it
#   tests/slurm/cluster.sh down DIR   cancel its jobs, stop the three daemons it started
# `up` exits 0 when the node is idle and takes jobs, 77 with the reason on stderr when the
# daemons cannot start here (not root, a program missing), 1 when they should have
# started and did not (their logs follow). `down` kills only the processes whose pids
# `up` recorded in DIR/pids, and nothing else. Needs root: munged runs as the munge user
# and slurmd starts jobs as their owner.
set -u

cmd=${1:-}
dir=${2:-}
case "$cmd" in up | down) ;; *)
    echo "usage: cluster.sh up|down DIR" >&2
    exit 2
    ;;
esac
[ -n "$dir" ] && [ -d "$dir" ] || {
    echo "cluster.sh: $dir: not a folder" >&2
    exit 2
}
dir=$(cd "$dir" && pwd)
export SLURM_CONF="$dir/slurm.conf"

# A free TCP port on the loopback interface (the kernel picks it).
free_port() {
    perl -MIO::Socket::INET -e \
        'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)
             or die "no free port: $!\n"; print $s->sockport, "\n";'
}

# wait_for SECONDS CMD...: run CMD every 0.2 s until it succeeds; 1 on time out.
wait_for() {
    n=$(($1 * 5))
    shift
    while [ "$n" -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
        n=$((n - 1))
    done
    return 1
}

node_idle() { [ "$(sinfo -h -o %T 2>/dev/null)" = "idle" ]; }

# alive PID NAME: PID is still the process NAME that `up` started (not a zombie, not
# a later process that got the same pid).
alive() {
    [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

down() {
    if [ -f "$dir/slurm.conf" ] && [ -s "$dir/pids" ]; then
        # Jobs first, so that no job step outlives its slurmd.
        scancel --full --signal=KILL --user=root >/dev/null 2>&1
        wait_for 15 sh -c '[ -z "$(squeue -h 2>/dev/null)" ]'
    fi
    [ -s "$dir/pids" ] || return 0
    # Reverse order of start: slurmd, slurmctld, munged.
    sed '1!G;h;$!d' "$dir/pids" | while read -r pid name; do
        alive "$pid" "$name" && kill -TERM "$pid"
        n=50
        while [ $n -gt 0 ] && alive "$pid" "$name"; do
            sleep 0.2
            n=$((n - 1))
        done
        alive "$pid" "$name" && kill -KILL "$pid"
    done
    : >"$dir/pids"
}

skip() {
    echo "$1" >&2
    exit 77
}

if [ "$cmd" = down ]; then
    down
    exit 0
fi

[ "$(id -u)" -eq 0 ] || skip "not root: munged must run as the munge user and slurmd as root"
for p in munged slurmctld slurmd sbatch srun scontrol setpriv; do
    command -v "$p" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$p" >/dev/null 2>&1 ||
        skip "$p is not installed (Debian: munge, slurmctld, slurmd, slurm-client)"
done
PATH="$PATH:/usr/sbin:/sbin"
getent passwd munge >/dev/null || skip "there is no munge user (the munge package makes it)"

host=$(hostname -s)
cpus=$(nproc)
ctld_port=$(free_port) && slurmd_port=$(free_port) || exit 1
# munged checks that its folder is reachable by all and writable only by it.
chmod 755 "$dir"
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" || exit 1
chown munge:munge "$dir/munge" && chmod 755 "$dir/munge" || exit 1
umask 077
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null || exit 1
chown munge:munge "$dir/munge/munge.key" && chmod 400 "$dir/munge/munge.key" || exit 1
umask 022
cat >"$dir/slurm.conf" <<EOF
# A one-node cluster for tests: this host is controller and compute node.
ClusterName=sttest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
KillWait=10
MinJobAge=60
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
: >"$dir/pids"

fail() {
    echo "cluster.sh: $1" >&2
    for f in "$dir"/log/*; do
        [ -f "$f" ] && tail -n 15 "$f" | sed "s|^|$(basename "$f"): |" >&2
    done
    down
    exit 1
}

setpriv --reuid=munge --regid=munge --clear-groups munged --foreground \
    --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/munged.seed" \
    --log-file="$dir/log/munged.log" >/dev/null 2>&1 &
echo "$! munged" >>"$dir/pids"
wait_for 10 test -S "$dir/munge/munge.socket" || fail "munged did not start"
slurmctld -D -f "$SLURM_CONF" >/dev/null 2>&1 &
echo "$! slurmctld" >>"$dir/pids"
wait_for 15 scontrol ping || fail "slurmctld did not answer"
slurmd -D -f "$SLURM_CONF" -N "$host" >/dev/null 2>&1 &
echo "$! slurmd" >>"$dir/pids"
wait_for 30 node_idle || fail "the node did not become idle"
exit 0
