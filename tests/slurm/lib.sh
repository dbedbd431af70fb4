# lib.sh - what the Slurm tests share (tests/prog/slurm*.t): a one-node cluster in a
# private folder for the length of the test, always taken down at exit; sweeps sized to
# last a given time on this machine; waiting for jobs. Sourced after tap.sh, not run.
# Where the cluster cannot start (not root, Slurm or munge missing) the test is skipped
# with the reason; under CI (CI=true) it fails instead. A sanitizer build skips them.

# The Slurm tests exercise the job scripts and Slurm, and take minutes: they run once per
# test suite, on the normal build (tests/prog/slurm_local.t runs --shard and pbs.sh on
# every build).
if grep -q '^ST_SANITIZE:BOOL=ON' "$ST_BUILD/CMakeCache.txt" 2>/dev/null; then
    echo "1..0 # SKIP the Slurm tests run on the normal build, once per suite (this is the sanitizer build)"
    exit 0
fi

EXP="$ST_BUILD/bin/stexplore"
PY=/usr/bin/python3
SAME="$ST_SRC/tests/slurm/same_points.py"
tmp=$(mktemp -d)
# munged wants every folder above its socket reachable by all.
chmod 755 "$tmp"
mkdir "$tmp/cluster"
cleanup() {
    "$ST_SRC/tests/slurm/cluster.sh" down "$tmp/cluster"
    # ST_KEEP=1 keeps the folder (job logs, files, the daemons' logs) to look at.
    if [ "${ST_KEEP:-}" = 1 ]; then
        echo "# kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
cd "$tmp" || exit 1
export SLURM_CONF="$tmp/cluster/slurm.conf"
export STEXPLORE="$EXP"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
JOB="$ST_SRC/hpc/slurm.sh"
PATH="$PATH:/usr/sbin:/sbin"

# cluster_up: start the cluster, or end the test: skipped (or failed under CI) with the
# reason when it cannot start here, failed when it should have and did not.
cluster_up() {
    local rc=0 why
    "$ST_SRC/tests/slurm/cluster.sh" up "$tmp/cluster" 2>"$tmp/up.err" || rc=$?
    why=$(tr '\n' ' ' <"$tmp/up.err")
    if [ $rc -eq 77 ] && [ "${CI:-}" != true ] && "$PY" -c 'import h5py' 2>/dev/null; then
        echo "1..0 # SKIP no Slurm cluster here: $why"
        exit 0
    fi
    if [ $rc -ne 0 ]; then
        echo "1..1"
        echo "not ok 1 - slurm-0 a one-node Slurm cluster starts (CI=${CI:-}): $why"
        exit 1
    fi
    "$PY" -c 'import h5py' 2>/dev/null || {
        echo "1..1"
        echo "not ok 1 - slurm-0 h5py for /usr/bin/python3 (python3-h5py)"
        exit 1
    }
}

# now: seconds since the epoch, with milliseconds.
now() { date +%s.%3N; }

# sweep_file NAME POINTS: a sweep of POINTS points of nearly equal cost (one network, the
# seed swept), in NAME.lua.
sweep_file() {
    cat >"$1.lua" <<EOF
return { name = "$1", network = "fmnist-resnet", fixed = { p = 0.5, batch = 16 },
  params = { seed = st.range(1, $2) } }
EOF
}

# points_for SECONDS RANKS: how many points of sweep_file's kind last about SECONDS on
# RANKS ranks here, from a probe of 24 points on one process (so a sanitizer build, or a
# slower machine, gets fewer points rather than a longer test).
points_for() {
    local t0 t1
    sweep_file probe 24
    t0=$(now)
    "$EXP" -q --force -o probe.h5 probe.lua >/dev/null 2>&1
    t1=$(now)
    awk -v s="$1" -v r="$2" -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
        'BEGIN { n = int(s * 24 / t * (r > 1 ? 0.9 * r : 1)); print (n < 40 ? 40 : n) }'
}

# jobs_left: how many jobs the cluster has not finished (squeue lists only those; their
# state may be PENDING, RUNNING, COMPLETING, but also SIGNALING while Slurm delivers a
# --signal), or 1 when squeue fails: a controller too busy to answer has not said that
# it is idle.
jobs_left() {
    local out
    out=$(squeue -h -o %i 2>/dev/null) || {
        echo 1
        return
    }
    printf '%s' "$out" | grep -c .
}

# wait_until SECONDS CMD...: run CMD every 0.2 s until it succeeds; 1 on time out.
wait_until() {
    local n=$(($1 * 5))
    shift
    until "$@"; do
        n=$((n - 1))
        [ $n -le 0 ] && return 1
        sleep 0.2
    done
    return 0
}

# no_jobs: no job left, seen twice a second apart (a chain's next link is submitted
# before its link ends, but better sure).
no_jobs() { [ "$(jobs_left)" -eq 0 ] && sleep 1 && [ "$(jobs_left)" -eq 0 ]; }

# wait_idle SECONDS: until no job is left; 1 on time out (the jobs left are listed).
wait_idle() { wait_until "$1" no_jobs || { squeue | sed 's/^/# /'; return 1; }; }

# wait_file SECONDS PATH: until PATH exists; 1 on time out.
wait_file() { wait_until "$1" test -e "$2"; }

# wait_grep SECONDS TEXT FILE: until FILE holds TEXT; 1 on time out.
wait_grep() { wait_until "$1" grep -qF -- "$2" "$3" 2>/dev/null; }

# at TEXT FILE: the time (seconds since the epoch) of the first job-log line of FILE that
# holds TEXT.
at() {
    date -d "$(grep -F -- "$1" "$2" | head -n 1 | awk '{ print $2 }')" +%s.%3N
}

# logs_if_failed: after a failed test, the job logs as TAP comments.
logs_if_failed() {
    [ "$tap_fail" -eq 0 ] && return
    for f in *.log; do
        echo "# --- $f"
        sed 's/^/#   /' "$f"
    done
}

# resubmission_times LOG: for each stop in the job log of a chain, the seconds from the
# SIGUSR1 to the link's end and to the next link's start, as TAP comments.
resubmission_times() {
    grep -E "SIGUSR1 received|launcher exit status|link [0-9]+ of the chain" "$1" |
        awk '{ print $2, $3 }' | while read -r t what; do
            s=$(date -d "$t" +%s.%3N)
            case "$what" in
            SIGUSR1) sig=$s ;;
            launcher) [ -n "${sig:-}" ] && stop=$(awk -v a="$sig" -v b="$s" 'BEGIN { printf "%.1f", b - a }') ;;
            link) [ -n "${sig:-}" ] &&
                echo "# measured: signal to the link's end ${stop} s, to the next link's start $(awk -v a="$sig" -v b="$s" 'BEGIN { printf "%.1f", b - a }') s"
                sig= ;;
            esac
        done
}

# evaluated LOG: the points the links of a chain evaluated, added up from its job log.
evaluated() {
    sed -n 's/.*, \([0-9]*\) points evaluated by this link/\1/p' "$1" | awk '{ s += $1 } END { print s + 0 }'
}

# same A.h5 B.h5 ID TEXT: a test that the two files hold the same points by id.
same() {
    local msg
    msg=$("$PY" "$SAME" "$1" "$2" 2>&1)
    ok_ $? "$3 $4"
    [ -n "$msg" ] && echo "$msg" | sed 's/^/#   /'
}
