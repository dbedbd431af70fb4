#!/bin/sh
# stcalib.t - stcalib fits the sparsity model to training traces: the densities it
# measures are h5py's count of the files, the lognormal shapes reproduce the pruned
# fraction through the closed form computed here with Python's own normal law, the ReLU
# densities reproduce the activations they were fitted on (directly, and through a 2x2
# max pool as 1 - (1 - d)^4); stsim and resnet50 read the calibration; bad input (no file,
# not HDF5, not a trace, p = 0, two traces of one family, a calibration without the
# family a network needs, a broken calibration line) is refused naming it, and a failed
# run leaves the output file as it was.
. "${ST_SRC:-.}/tests/prog/tap.sh"

STTRAIN="$ST_BUILD/bin/sttrain"
STCALIB="$ST_BUILD/bin/stcalib"
STSIM="$ST_BUILD/bin/stsim"
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
N=27

plan $N

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] ||
    ! "$PY" -c 'import h5py, numpy' 2>/dev/null; then
    for i in $(seq 1 $N); do
        skip "Fashion-MNIST (dataset-fashion-mnist) or h5py/numpy is missing" "stcalib"
    done
    exit 0
fi

run "$STTRAIN" fmnist-cnn --train-images 192 --test-images 32 --batch 32 --trace "$tmp/cnn.h5" \
    --trace-iters 1,3,5 p=0.9
is_status 0 "calib-1.1 sttrain writes a trace of fmnist-cnn at p = 0.9"
run "$STTRAIN" fmnist-resnet --train-images 64 --test-images 32 --batch 32 \
    --trace "$tmp/res.h5" --trace-iters 1 p=0.9 prune_skip_zeros=true
is_status 0 "calib-1.2 and one of fmnist-resnet with the statistic over non-zeros"

run "$STCALIB" --images 32 -o "$tmp/c.calib" "$tmp/cnn.h5" "$tmp/res.h5"
is_status 0 "calib-2.1 stcalib fits both traces"
cp "$tmp/out" "$tmp/table"

# Everything checked against the files, with h5py, numpy and statistics.NormalDist.
"$PY" - "$tmp/cnn.h5" "$tmp/res.h5" "$tmp/table" "$tmp/c.calib" >"$tmp/checks" 2>&1 <<'PYEOF'
import re, sys
from math import log
from statistics import NormalDist
import h5py, numpy as np

Phi = NormalDist().cdf
cnn, res, table, calib = sys.argv[1:5]

def measured(path):
    """Per layer name: densities of act, dz_in, dz_out over every iteration."""
    f = h5py.File(path, "r")
    ones, tot, order = {}, {}, []
    for it in f:
        for lk in f[it]:
            g = f[it][lk]
            name = g.attrs["name"]
            name = name.decode() if isinstance(name, bytes) else str(name)
            if name not in ones:
                order.append(name)
                ones[name], tot[name] = np.zeros(3), np.zeros(3)
            for i, ds in enumerate(("act", "dz_in", "dz_out")):
                a = g[ds][()]
                ones[name][i] += np.count_nonzero(a)
                tot[name][i] += a.size
    return {n: ones[n] / tot[n] for n in order}, dict(f.attrs)

# stcalib's table: "name  a / a / a   b / b / b   c / c / c", the first of each the measure
rows = {}
for line in open(table):
    m = re.match(r"\s+(\S+)\s+([\d.]+) / [\d.]+ / [\d.]+\s+([\d.]+) / [\d.]+ / [\d.]+\s+"
                 r"([\d.]+) / ([\d.]+) / [\d.]+", line)
    if m:
        rows.setdefault(m.group(1), []).append(
            (float(m.group(2)), float(m.group(3)), float(m.group(4)), float(m.group(5))))
# the calibration's rows, per family
fam, cal = None, {}
for line in open(calib):
    w = line.split("#")[0].split()
    if w[:1] == ["family"]:
        fam = w[1]
    elif len(w) == 4:
        cal.setdefault((fam, w[0], w[1]), []).append((float(w[2]), float(w[3]),
                                                       line.split("#")[1].split(":")[0].strip()))

out = []
for k, (path, fname, first_row) in enumerate(((cnn, "plain", 0), (res, "bn", None))):
    d, attrs = measured(path)
    bad = []
    for name, v in d.items():
        r = rows[name][0] if k == 0 or name not in ("conv1", "fc") else rows[name][-1]
        if max(abs(r[0] - v[0]), abs(r[1] - v[1]), abs(r[2] - v[2])) > 6e-5:
            bad.append("%s: %s vs %s" % (name, r[:3], v))
    out.append(("measure-%s" % fname, not bad, "; ".join(bad)))
    # the lognormal shape of each pruned layer gives back the kept fraction
    z = NormalDist().inv_cdf((1 + attrs["p"]) / 2)
    bad = []
    for g in ("conv", "fc"):
        for depth, s, name in cal.get((fname, "sigma", g), []):
            din, dout = d[name][1], d[name][2]
            kk = z * attrs["prune_sigma_scale"] * (1.0 if attrs["prune_skip_zeros"] else din)
            a = log(kk) / s
            kept = 1 - Phi(a + s / 2) + Phi(a - s / 2) / kk
            if abs(kept - dout / din) > 2e-5:
                bad.append("%s: sigma %g keeps %g, measured %g" % (name, s, kept, dout / din))
    n_sigma = sum(len(cal.get((fname, "sigma", g), [])) for g in ("conv", "fc"))
    out.append(("sigma-%s" % fname, not bad and n_sigma == (4 if k == 0 else 7), "; ".join(bad)))

d, _ = measured(cnn)
relu = {n: v for g in ("conv", "fc") for _, v, n in cal[("plain", "relu", g)]}
# relu3 feeds fc2 directly: its density is fc2's measured act; the model's sample of 32
# images of 128 draws has a standard error under 0.009: 4 of them
out.append(("relu-direct", abs(relu["relu3"] - d["fc2"][0]) < 0.035,
            "relu3 %g, act of fc2 %g" % (relu["relu3"], d["fc2"][0])))
# relu1 feeds conv2 through a 2x2 max pool of independent draws: 1 - (1 - d)^4 (the model's
# sample of 32 x 3136 pool outputs: standard error under 0.002)
pool = 1 - (1 - relu["relu1"]) ** 4
out.append(("relu-pool", abs(pool - d["conv2"][0]) < 0.01,
            "1-(1-%g)^4 = %g, act of conv2 %g" % (relu["relu1"], pool, d["conv2"][0])))
depths = [x[0] for x in cal[("plain", "relu", "conv")]] + [x[0] for x in cal[("plain", "sigma", "fc")]]
out.append(("depths", depths == [0.0, 1.0, 0.0, 1.0], str(depths)))
for name, good, why in out:
    print("%s %s %s" % ("ok" if good else "bad", name, why[:300]))
PYEOF
for c in measure-plain measure-bn sigma-plain sigma-bn relu-direct relu-pool depths; do
    grep -q "^ok $c" "$tmp/checks"
    ok_ $? "calib-3.$c $(grep " $c" "$tmp/checks" | head -c 300)"
done

# stsim reads the file: fmnist-cnn's activations are the measured ones
run "$STSIM" fmnist-cnn --calib "$tmp/c.calib" batch=8 --json
is_status 0 "calib-4.1 stsim --calib FILE simulates fmnist-cnn"
"$PY" - "$tmp/out" "$tmp/cnn.h5" >"$tmp/cmp" 2>&1 <<'PYEOF'
import json, sys, h5py, numpy as np
sim = {l["name"]: l for l in json.load(open(sys.argv[1]))["layers"]}
f = h5py.File(sys.argv[2], "r")
bad = []
for name, key in (("conv2", "layer_003"), ("fc1", "layer_006"), ("fc2", "layer_008")):
    act = np.mean([np.count_nonzero(f[it][key]["act"][()]) / f[it][key]["act"].size for it in f])
    if abs(sim[name]["act_density"] - act) > 0.05:
        bad.append("%s: %g vs %g" % (name, sim[name]["act_density"], act))
print("; ".join(bad) or "ok")
PYEOF
grep -qx ok "$tmp/cmp"
ok_ $? "calib-4.2 ... with the measured input densities: $(head -c 200 "$tmp/cmp")"
run "$STSIM" resnet50 --calib "$tmp/c.calib" --no-layers batch=1
is_status 0 "calib-4.3 resnet50 takes the family bn of the same file"
run "$STSIM" alexnet sparsity=calibrated --no-layers batch=1
is_status 0 "calib-4.4 alexnet takes the built-in calibration (sparsity=calibrated)"

# stnet --calibrated: VGG-16's first ReLU takes the built-in file's first 'relu conv' value
want=$(awk '$1 == "family" { f = $2 } f == "plain" && $1 == "relu" && $2 == "conv" { print $4; exit }' \
    "$ST_SRC/calib/fmnist.calib")
run "$ST_BUILD/bin/stnet" vgg16 --calibrated --csv
got=$(awk -F, '$1 == "conv1_2" { print $15 }' "$tmp/out")
"$PY" -c "import sys; sys.exit(0 if abs(float('$got') - float('$want')) < 0.005 else 1)"
ok_ $? "calib-4.5 stnet --calibrated: conv1_2 of vgg16 reads $got, the file's first conv ReLU $want"

# A calibration of one family only refuses a network of the other
run "$STCALIB" -o "$tmp/plain.calib" "$tmp/cnn.h5"
is_status 0 "calib-5.1 a calibration of the plain family alone"
run "$STSIM" resnet18 --calib "$tmp/plain.calib"
is_status 2 "calib-5.2 resnet18 with it exits 2"
has_err "holds no calibration of the family 'bn' (networks with batch norm), which network 'resnet18' needs" \
    "calib-5.3 ... naming the family and the network"

# Bad input
echo keep >"$tmp/keep.calib"
run "$STCALIB" -o "$tmp/keep.calib" "$tmp/none.h5"
is_status 1 "calib-6.1 a missing trace exits 1"
has_err "$tmp/none.h5: cannot open" "calib-6.2 ... naming it"
grep -qx keep "$tmp/keep.calib"
ok_ $? "calib-6.3 ... and the output file is as it was"
echo "not hdf5" >"$tmp/text.h5"
run "$STCALIB" "$tmp/text.h5"
has_err "$tmp/text.h5: not an HDF5 file" "calib-6.4 a file that is not HDF5 is refused"
"$PY" -c "import h5py; h5py.File('$tmp/other.h5', 'w').attrs['kind'] = 'something'"
run "$STCALIB" "$tmp/other.h5"
has_err "$tmp/other.h5: not a training trace" "calib-6.5 an HDF5 file that is not a trace is refused"
run "$STTRAIN" fmnist-cnn --train-images 32 --test-images 32 --batch 32 --trace "$tmp/p0.h5"
run "$STCALIB" "$tmp/p0.h5"
has_err "a run with p = 0: the law of dZ is fitted on what the pruning removes" \
    "calib-6.6 a trace of an unpruned run is refused"
run "$STCALIB" "$tmp/cnn.h5" "$tmp/cnn.h5"
has_err "a second trace of the family 'plain'" "calib-6.7 two traces of one family are refused"
run "$STSIM" fmnist-cnn --calib "$tmp/text.h5"
has_err "$tmp/text.h5:1: not a calibration file" "calib-6.8 stsim refuses a file that is not a calibration"
sed 's/^relu conv 1.000000/relu conv 2/' "$tmp/c.calib" >"$tmp/bad.calib"
line=$(grep -n '^relu conv 2' "$tmp/bad.calib" | cut -d: -f1)
run "$STSIM" fmnist-cnn --calib "$tmp/bad.calib"
has_err "$tmp/bad.calib:$line: depth '2': must be a number in [0, 1]" \
    "calib-6.9 a bad row is refused naming the line and the value"
tap_end
