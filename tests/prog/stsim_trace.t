#!/bin/sh
# stsim_trace.t - stsim replays a training trace: the masks it simulates are the trace's
# (every layer's densities against h5py's count of the file), the engine's MACs follow
# them, and a trace of another network, a missing iteration, too large a batch, a file
# that is not a trace and a missing file are refused with a message naming them.
. "${ST_SRC:-.}/tests/prog/tap.sh"

STTRAIN="$ST_BUILD/bin/sttrain"
STSIM="$ST_BUILD/bin/stsim"
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1

plan 15

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] ||
    ! "$PY" -c 'import h5py' 2>/dev/null; then
    for i in $(seq 1 15); do
        skip "Fashion-MNIST (dataset-fashion-mnist) or h5py (python3-h5py) is missing" "trace"
    done
    exit 0
fi

run "$STTRAIN" fmnist-cnn --train-images 128 --test-images 64 --batch 32 --trace "$tmp/t.h5" \
    --trace-iters 0,2 p=0.9
is_status 0 "trace-1.1 sttrain writes a trace of iterations 0 and 2"

# The densities stsim reports per layer (averaged over its batch) against the file's.
for it in 0 2; do
    run "$STSIM" fmnist-cnn --trace "$tmp/t.h5" --trace-iter $it batch=3 --json
    is_status 0 "trace-2.$it.1 stsim replays iteration $it"
    cp "$tmp/out" "$tmp/sim$it.json"
    "$PY" - "$tmp/t.h5" "$tmp/sim$it.json" $it >"$tmp/cmp" 2>&1 <<'PYEOF'
import json, sys, h5py
f = h5py.File(sys.argv[1], "r")
sim = json.load(open(sys.argv[2]))
g = f["iter_%06d" % int(sys.argv[3])]
bad = []
by_name = {l["name"]: l for l in sim["layers"]}
for k in sorted(g):
    name = g[k].attrs["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    act = g[k]["act"][:3].reshape(3, -1).mean(axis=1).mean()
    dz = g[k]["dz_out"][:3].reshape(3, -1).mean(axis=1).mean()
    l = by_name[name]
    if abs(l["act_density"] - act) > 1e-5 or abs(l["grad_density"] - dz) > 1e-5:
        bad.append("%s: act %g/%g dz %g/%g" % (name, l["act_density"], act, l["grad_density"], dz))
print("ok" if not bad and len(g) == len(sim["layers"]) else "; ".join(bad) or "layer count")
PYEOF
    grep -qx ok "$tmp/cmp"
    ok_ $? "trace-2.$it.2 every layer's densities are the trace's: $(head -c 300 "$tmp/cmp")"
done
# Iteration 0 and iteration 2 differ in their masks, so in the MACs the engine issues.
"$PY" -c "
import json, sys
a = json.load(open('$tmp/sim0.json'))['total']['run']['useful_macs']
b = json.load(open('$tmp/sim2.json'))['total']['run']['useful_macs']
d = json.load(open('$tmp/sim0.json'))['total']['dense']['dense_macs']
sys.exit(0 if a != b and a < d and b < d else 1)"
ok_ $? "trace-3.1 the two iterations' masks give different useful MACs, both below dense"

run "$STSIM" fmnist-cnn --trace="$tmp/t.h5" --trace-iter=2 batch=3 --json
cmp -s "$tmp/out" "$tmp/sim2.json"
ok_ $? "trace-3.2 --trace=FILE --trace-iter=N, like every option, is --trace FILE --trace-iter N"

run "$STSIM" fmnist-resnet --trace "$tmp/t.h5"
is_status 2 "trace-4.1 a trace of another network exits 2"
has_err "a trace of network 'fmnist-cnn', not of 'fmnist-resnet'" "trace-4.2 ... naming both"
run "$STSIM" fmnist-cnn --trace "$tmp/t.h5" --trace-iter 5
is_status 2 "trace-4.3 an iteration the trace lacks exits 2"
has_err "holds no iteration 5" "trace-4.4 ... naming it"
run "$STSIM" fmnist-cnn --trace "$tmp/t.h5" batch=33
is_status 2 "trace-4.5 a batch larger than the trace's exits 2"
has_err "batch = 33: $tmp/t.h5 holds 32 images" "trace-4.6 ... naming both"
"$PY" -c "import h5py; h5py.File('$tmp/other.h5', 'w').attrs['kind'] = 'something'"
run "$STSIM" fmnist-cnn --trace "$tmp/other.h5"
has_err "not a training trace" "trace-4.7 an HDF5 file that is not a trace is refused"
run "$STSIM" fmnist-cnn --trace "$tmp/none.h5"
has_err "$tmp/none.h5: cannot open it" "trace-4.8 a missing file is refused, naming it"
