# tap.sh - TAP helpers for the shell tests of the programs. Sourced, not run.
# run CMD...: runs it with stdout in $tmp/out, stderr in $tmp/err, status in $st.
# The caller sets $tmp to a private directory.
: "${ST_SRC:=.}"
: "${ST_BUILD:=$ST_SRC/build}"
tap_n=0
tap_fail=0

plan() { echo "1..$1"; }

# normal_build_only REASON: in the sanitizer build, skip the whole file with the reason.
# For tests of shell, signal and timing behaviour that run sub-processes for minutes under
# the sanitizer and find nothing there that the normal build's run does not: the suite
# runs them once, on the normal build, and stays within its time.
normal_build_only() {
    if grep -q '^ST_SANITIZE:BOOL=ON' "$ST_BUILD/CMakeCache.txt" 2>/dev/null; then
        echo "1..0 # SKIP $1 (run on the normal build; this is the sanitizer build)"
        exit 0
    fi
}

ok_() {
    tap_n=$((tap_n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $tap_n - $2"
    else
        echo "not ok $tap_n - $2"
        tap_fail=$((tap_fail + 1))
    fi
}

run() {
    st=0
    "$@" >"$tmp/out" 2>"$tmp/err" || st=$?
}

is_status() {
    [ "$st" -eq "$1" ]
    r=$?
    ok_ $r "$2"
    [ $r -eq 0 ] || { echo "#   status $st, want $1"; sed 's/^/#   stderr: /' "$tmp/err" | head -5; }
}

has_out() {
    grep -qF -- "$1" "$tmp/out"
    ok_ $? "$2"
}

has_err() {
    grep -qF -- "$1" "$tmp/err"
    r=$?
    ok_ $r "$2"
    [ $r -eq 0 ] || sed 's/^/#   stderr: /' "$tmp/err" | head -5
}

ok_cmd() {
    d=$1
    shift
    "$@"
    ok_ $? "$d"
}

skip() {
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $2 # SKIP $1"
}

tap_end() { [ "$tap_fail" -eq 0 ]; }

# need_h5py N NAME: when /usr/bin/python3 lacks h5py or numpy, skip the N tests of NAME and
# exit: tests that compare with h5py have nothing to compare with then.
need_h5py() {
    if ! [ -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import h5py, numpy' 2>/dev/null; then
        i=0
        while [ $i -lt "$1" ]; do
            skip "no h5py or numpy for /usr/bin/python3" "$2"
            i=$((i + 1))
        done
        exit 0
    fi
}

# prog_setup: the programs ($EXP stexplore, $Q stquery, $SIM stsim, $PY the system's
# Python) and a private folder $tmp, removed at exit, as the current directory.
prog_setup() {
    EXP="$ST_BUILD/bin/stexplore"
    Q="$ST_BUILD/bin/stquery"
    SIM="$ST_BUILD/bin/stsim"
    PY=/usr/bin/python3
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cd "$tmp" || exit 1
}
