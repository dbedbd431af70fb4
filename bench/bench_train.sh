#!/bin/sh
# bench_train.sh - the trainer's speed: one epoch of Fashion-MNIST (60,000 images, batch 64,
# p = 0.9) for each small network, with 1 and with 2 threads. Prints the wall time, the
# images per second, and the CPU time of the process (all threads), which shows what the
# run cost even when other work shares the machine. Measures, never checks.
#   bench/bench_train.sh [build-dir] [images]     (defaults: build, 60000)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
N=${2:-60000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "# $(uname -m), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
printf '%-14s %7s %8s %9s %8s %13s\n' network threads images wall_s img_per_s img_per_cpu_s
for net in fmnist-cnn fmnist-resnet; do
    for th in 1 2; do
        "$BUILD/bin/sttrain" "$net" --json --threads "$th" --train-images "$N" \
            --test-images 1000 p=0.9 >"$tmp/out.json"
        /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
e = d["epochs"][0]
print("%-14s %7d %8d %9.2f %8.0f %13.0f" % (d["network"], d["threads"], d["train_images"],
      e["time_s"], e["images_per_s"], d["train_images"] / e["cpu_s"]))
' "$tmp/out.json"
    done
done
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
