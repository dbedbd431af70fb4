#!/bin/sh
# bench_explore.sh - the explorer's own cost per point: a sweep with the trivial
# evaluation (eval = "none") over N points, for N = 10^4, 10^5, 10^6, run as separate
# processes so that the peak memory of each can be compared. Prints wall time, time per
# point and peak resident memory. Measures, never checks.
#   bench/bench_explore.sh [build-dir]     (default: build)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%8s %10s %12s %12s\n' points wall_s us_per_point peak_rss_mb
for n in 10000 100000 1000000; do
    # A grid of n points over four parameters, as a real sweep would have.
    cat >"$tmp/b.lua" <<EOF2
return st.sweep {
  name = "bench",
  network = "fmnist-cnn",
  eval = "none",
  params = {
    pe_rows = st.range(1, 10),
    pe_cols = st.range(1, 10),
    ch0_kib = st.range(1, $((n / 1000))),
    p = st.linspace(0, 0.9, 10),
  },
}
EOF2
    /usr/bin/time -f '%e %M' -o "$tmp/time" "$BUILD/bin/stexplore" -q --force \
        -o "$tmp/b.h5" "$tmp/b.lua"
    read -r wall rss <"$tmp/time"
    awk -v n=$n -v w="$wall" -v r="$rss" \
        'BEGIN { printf "%8d %10.2f %12.2f %12.1f\n", n, w, w * 1e6 / n, r / 1024 }'
done
