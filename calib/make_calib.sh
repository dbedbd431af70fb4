#!/bin/sh
# make_calib.sh - regenerate calib/fmnist.calib, the calibration of the sparsity model built
# into the simulator (sparsity=calibrated): train each small network one epoch on 10,000
# Fashion-MNIST images at p = 0.9 (the pruning's defaults otherwise), trace four iterations
# of the second half of the epoch, and fit the model to them with stcalib, which prints the
# fit. The traces stay in results/calib/ for stsim --trace.
#   calib/make_calib.sh [build-dir]        (default: build; then rebuild to embed the file)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
mkdir -p "$ROOT/results/calib"
cd "$ROOT/results/calib"
for net in fmnist-cnn fmnist-resnet; do
    "$BUILD/bin/sttrain" "$net" --epochs 1 --train-images 10000 --test-images 1000 --seed 1 \
        --trace "$net.h5" --trace-iters 100,115,130,145 --quiet p=0.9
done
"$BUILD/bin/stcalib" --images 32 -o "$ROOT/calib/fmnist.calib" fmnist-cnn.h5 fmnist-resnet.h5
