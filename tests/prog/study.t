#!/bin/sh
# study.t - the SparseTrain study's report (analysis/study.py --tiny: a few points of every
# sweep and a training of 256 images, on one process): it is written, its plots are PNG
# files, and every number in it is a value of the result files or is recomputed from them
# by study_check.py with h5py and numpy.
. "${ST_SRC:-.}/tests/prog/tap.sh"
normal_build_only "sweeps and a training in sub-processes"

prog_setup
export OMP_NUM_THREADS=1

if ! "$PY" -c 'import h5py, numpy, pandas, matplotlib' 2>/dev/null; then
    echo "1..0 # SKIP no h5py, numpy, pandas or matplotlib for /usr/bin/python3"
    exit 0
fi
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "1..0 # SKIP Fashion-MNIST is not installed (Debian: dataset-fashion-mnist)"
    exit 0
fi

plan 8
run env ST_BUILD="$ST_BUILD" "$PY" "$ST_SRC/analysis/study.py" --tiny --np 1 --out "$tmp/tiny"
is_status 0 "study-1.1 analysis/study.py --tiny runs"
rep="$tmp/tiny/study.md"
n=0
for s in "## Assumptions" "## Speedup and energy gain over dense" "## Load imbalance" \
    "## Where the energy goes" "## The Pareto front" "## Accuracy as a fourth axis"; do
    grep -qF "$s" "$rep" 2>/dev/null && n=$((n + 1))
done
[ "$n" -eq 6 ]
ok_ $? "study-1.2 the report has its six sections"
n=0
for f in speedup imbalance energy pareto accuracy; do
    head -c 8 "$tmp/tiny/sparsetrain_$f.png" 2>/dev/null | od -An -tx1 | grep -q '89 50 4e 47' &&
        n=$((n + 1))
done
[ "$n" -eq 5 ]
ok_ $? "study-1.3 the five plots are PNG files"
"$PY" "$ST_SRC/tests/prog/study_check.py" "$tmp/tiny" "$rep" 4 || tap_fail=$((tap_fail + 1))
tap_n=8
tap_end
