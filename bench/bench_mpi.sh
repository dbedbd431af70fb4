#!/bin/sh
# bench_mpi.sh - the MPI scheduler of stexplore, measured (never checked):
#   1. dispatch rate: a grid of 10^6 points with the trivial evaluation (eval = "none") on
#      4 ranks, points per second through rank 0 (and one process without mpirun beside);
#   2. the master's cost per batch and per point: the same grid in batches of at most
#      1, 16, 256 and 4096 points, from --stats (what docs/hpc.md's model is fitted to);
#   3. parallel efficiency with the real simulator: one process without mpirun against
#      mpirun -np 2, on the same sweep; best of 3 runs of each (a shared machine is noisy).
# Figures are in docs/hpc.md.
#   bench/bench_mpi.sh [build-dir]     (default: build)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
EXP=$BUILD/bin/stexplore
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPI="mpirun --oversubscribe -np"

grid() { # name points-per-ch0-step
    cat >"$tmp/$1.lua" <<EOF2
return st.sweep {
  name = "$1",
  network = "fmnist-cnn",
  eval = "none",
  params = {
    pe_rows = st.range(1, 10),
    pe_cols = st.range(1, 10),
    ch0_kib = st.range(1, $2),
    p = st.linspace(0, 0.9, 10),
  },
}
EOF2
}
# The seconds ex_run took, from the summary line ("... this run in 1.2 s -> ...").
run_s() { sed -n 's/.* this run in \([0-9.]*\) s .*/\1/p' "$1"; }
# A field of the --stats lines.
stat_field() { sed -n "s/.*$2 \\([0-9.]*\\) $3.*/\\1/p" "$1" | head -1; }

echo "== 1. dispatch rate, eval = none, 10^6 points"
grid none 1000
"$EXP" --force --progress none -o "$tmp/n1.h5" "$tmp/none.lua" >"$tmp/o1" 2>&1
$MPI 4 "$EXP" --force --progress none --stats -o "$tmp/n4.h5" "$tmp/none.lua" >"$tmp/o4" 2>&1
wall=$(sed -n 's/.*messages, \([0-9.]*\) s;.*/\1/p' "$tmp/o4")
printf '%-28s %10s %14s\n' run seconds points_per_s
awk -v s="$(run_s "$tmp/o1")" 'BEGIN { printf "%-28s %10.2f %14.0f\n", "1 process (whole run)", s, 1e6 / s }'
awk -v s="$wall" 'BEGIN { printf "%-28s %10.2f %14.0f\n", "4 ranks (scheduling)", s, 1e6 / s }'
awk -v s="$(run_s "$tmp/o4")" 'BEGIN { printf "%-28s %10.2f %14.0f\n", "4 ranks (whole run)", s, 1e6 / s }'
grep 'master:' "$tmp/o4" | sed 's/^/  /'

echo "== 2. master cost per batch and per point (4 ranks, rank 0 schedules only)"
grid small 20
printf '%8s %8s %10s %8s %10s %12s %12s %12s\n' batch batches points wall_s batches_s busy_s \
    us_per_batch us_per_point
for b in 1 16 256 4096; do
    $MPI 4 "$EXP" --force --progress none --stats --master-eval no --batch $b \
        -o "$tmp/s.h5" "$tmp/small.lua" >"$tmp/os" 2>&1
    line=$(grep 'master: busy' "$tmp/os")
    busy=$(echo "$line" | sed -n 's/.*busy \([0-9.]*\) s.*/\1/p')
    nb=$(sed -n 's/.*master: \([0-9]*\) batches, \([0-9]*\) points.*/\1 \2/p' "$tmp/os")
    wall=$(sed -n 's/.*messages, \([0-9.]*\) s;.*/\1/p' "$tmp/os")
    echo "$b $nb $wall $busy" | awk '{ printf "%8d %8d %10d %8.3f %10.0f %12.3f %12.1f %12.3f\n", $1, $2, $3, $4, $2 / $4, $5, 1e6 * $5 / $2, 1e6 * $5 / $3 }'
done

echo "== 3. parallel efficiency, real simulator, 1 process vs mpirun -np 2 (best of 3)"
cat >"$tmp/eff.lua" <<'EOF2'
return st.sweep {
  name = "eff",
  network = "fmnist-resnet",
  batch = 4,
  params = {
    pe_rows = {4, 8, 16, 32},
    pe_cols = {4, 8, 16, 32},
    p = st.linspace(0, 0.95, 16),
    sync = {"lockstep", "fifo"},
  },
  fixed = { fidelity = "exact" },
}
EOF2
best1=999999
best2=999999
wall2=999999
for i in 1 2 3; do
    "$EXP" --force --progress none -o "$tmp/e1.h5" "$tmp/eff.lua" >"$tmp/e1" 2>&1
    t=$(run_s "$tmp/e1")
    best1=$(awk -v a="$best1" -v b="$t" 'BEGIN { print (b < a ? b : a) }')
    s0=$(date +%s.%N)
    mpirun -np 2 "$EXP" --force --progress none -o "$tmp/e2.h5" "$tmp/eff.lua" >"$tmp/e2" 2>&1
    w=$(awk -v a="$s0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    t=$(run_s "$tmp/e2")
    best2=$(awk -v a="$best2" -v b="$t" 'BEGIN { print (b < a ? b : a) }')
    wall2=$(awk -v a="$wall2" -v b="$w" 'BEGIN { print (b < a ? b : a) }')
done
awk -v a="$best1" -v b="$best2" -v w="$wall2" 'BEGIN {
    printf "1 process: %.2f s; 2 ranks: %.2f s (%.2f s with mpirun start-up)\n", a, b, w
    printf "speedup %.2f, efficiency %.0f%% (%.0f%% with start-up)\n", a / b, 100 * a / (2 * b), 100 * a / (2 * w) }'
