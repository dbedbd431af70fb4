#!/bin/sh
# setup.sh - install what is missing, build, and run the demo or the tests.
#   ./setup.sh          install the Debian packages the project needs, build
#   ./setup.sh demo     the same, then the quick-start sweep, its Pareto front and plot
#   ./setup.sh test     the same, then run the whole test suite (normal build
#                       and an AddressSanitizer + UBSan build) under prove
# Idempotent: packages already present are skipped, builds are incremental.
set -eu

cd "$(dirname "$0")"
ROOT=$(pwd)

# Every Debian package the project uses, now or in the parts still to come.
PACKAGES="build-essential cmake pkg-config perl clang-format
libopenmpi-dev openmpi-bin libhdf5-openmpi-dev libhdf5-dev hdf5-tools
liblua5.4-dev lua5.4 zlib1g-dev dataset-fashion-mnist libopenblas-dev
python3 python3-h5py python3-numpy python3-pandas python3-matplotlib
slurm-wlm munge"

install_packages() {
    missing=""
    for p in $PACKAGES; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $p"
        fi
    done
    [ -z "$missing" ] && return 0
    echo "setup: installing:$missing"
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "setup: not root and no sudo; install these packages first:$missing" >&2
        exit 1
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
}

# build DIR [cmake options...]
build() {
    dir=$1
    shift
    werror=OFF
    [ "${CI:-}" = "true" ] && werror=ON
    cmake -S "$ROOT" -B "$ROOT/$dir" -DST_WERROR=$werror "$@" >/dev/null
    cmake --build "$ROOT/$dir" -j "$(nproc)" >/dev/null
}

# run_suite DIR: every TAP test against the programs built in DIR. The tests of the job
# scripts on a real Slurm (tests/prog/slurm*.t), which spend most of their time waiting for
# the batch system, run one after the other beside the rest, which also run one at a time.
run_suite() {
    dir=$1
    echo "setup: test suite on $dir"
    ST_SRC=$ROOT ST_BUILD=$ROOT/$dir prove -f -j2 --rules='seq=**/slurm*.t' --rules='seq=**' \
        "$ROOT/$dir"/tests/core/t_* "$ROOT/$dir"/tests/explore/t_* \
        "$ROOT/$dir"/tests/analysis/t_* "$ROOT"/tests/prog/*.t
}

install_packages
build build

case "${1:-}" in
"") ;;
demo)
    # The quick-start sweep on 2 MPI ranks (one process where mpirun is
    # missing), then its Pareto front as a table and as a plot.
    NP=2 hpc/local.sh --force lua_scripts/quickstart.lua
    build/bin/stquery front results/quickstart.h5 --min cycles --min area_mm2 \
        --plot results/quickstart_front.png
    ;;
test)
    build build-asan -DST_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
    run_suite build
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        run_suite build-asan
    ;;
*)
    echo "usage: ./setup.sh [demo|test]" >&2
    exit 2
    ;;
esac
