#!/bin/sh
# sttrain.t - the trainer as a user runs it: a short run on a few hundred Fashion-MNIST
# images, its tables and JSON, a network from a Lua file, the HDF5 trace, and every kind
# of bad input.
. "${ST_SRC:-.}/tests/prog/tap.sh"

STTRAIN="$ST_BUILD/bin/sttrain"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
Q="--train-images 200 --test-images 100"

plan 46

run "$STTRAIN" --help
is_status 0 "sttrain-1.1 --help exits 0"
has_out "--train-images" "sttrain-1.2 --help lists the image limit"
has_out "prune_skip_zeros" "sttrain-1.3 --help lists the pruning parameters"

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    for i in $(seq 4 46); do skip "Fashion-MNIST is not installed (dataset-fashion-mnist)" "sttrain-data"; done
    exit 0
fi

run "$STTRAIN" fmnist-cnn $Q p=0.9
is_status 0 "sttrain-2.1 a short run exits 0"
has_out "epoch 1: training loss" "sttrain-2.2 the epoch line gives the loss"
has_out "test accuracy" "sttrain-2.3 ... and the test accuracy"
has_out "conv2" "sttrain-2.4 the layer table names the layers"
has_out "natural" "sttrain-2.5 ... and gives the natural share"

run "$STTRAIN" fmnist-resnet $Q --json --epochs 2 p=0.7 prune_fc=false
is_status 0 "sttrain-3.1 --json exits 0"
cp "$tmp/out" "$tmp/run.json"
ok_cmd "sttrain-3.2 the JSON parses: 2 epochs, densities in [0, 1], pruning lowers them, shares add up" \
    /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["network"] == "fmnist-resnet" and d["p"] == 0.7 and d["prune_fc"] is False, d
assert len(d["epochs"]) == 2
for e in d["epochs"]:
    assert 0 <= e["test_accuracy"] <= 1 and e["time_s"] > 0
    for l in e["layers"]:
        for k in ("act_density", "dz_density_in", "dz_density_out"):
            assert 0 <= l[k] <= 1, l
        assert l["dz_density_out"] <= l["dz_density_in"], l
        s = l["natural_share"] + l["artificial_share"]
        assert abs(s - 1) < 1e-9 or s == 0, l
        if l["kind"] == "fc":
            assert not l["pruned"] and l["tau"] == 0 and l["dz_density_out"] == l["dz_density_in"], l
        else:
            assert l["pruned"] and l["tau"] > 0, l
' "$tmp/run.json"

# the same seed gives the same run
run "$STTRAIN" fmnist-cnn $Q --json --seed 5 p=0.9
cp "$tmp/out" "$tmp/a.json"
run "$STTRAIN" fmnist-cnn $Q --json --seed 5 p=0.9
cp "$tmp/out" "$tmp/b.json"
ok_cmd "sttrain-3.3 the same seed gives the same losses, accuracy and densities" \
    /usr/bin/python3 -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
for x in (a, b):
    for e in x["epochs"]:
        del e["time_s"], e["cpu_s"], e["images_per_s"]
assert a == b
' "$tmp/a.json" "$tmp/b.json"

# a network from a Lua file, with strided, grouped convolution and both poolings
cat >"$tmp/net.lua" <<'LUA'
return st.network {
    name = "tiny", input = {1, 28, 28},
    st.conv{name = "c1", out = 8, k = 3, stride = 2, pad = 1},
    st.bn{}, st.relu{},
    st.conv{name = "c2", out = 8, k = 3, pad = 1, groups = 2},
    st.relu{},
    st.maxpool{k = 2},
    st.avgpool{k = 3, stride = 1, pad = 1},
    st.fc{name = "out", out = 10},
}
LUA
run "$STTRAIN" "$tmp/net.lua" $Q --quiet
is_status 0 "sttrain-4.1 a Lua-defined network trains"
has_out "sttrain: tiny," "sttrain-4.2 ... under its own name"

# the trace
run "$STTRAIN" fmnist-cnn $Q --quiet p=0.9 --trace "$tmp/t.h5" --trace-iters 0,2
is_status 0 "sttrain-5.1 --trace exits 0"
if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
    ok_cmd "sttrain-5.2 the trace holds iterations 0 and 2, masks of the right shapes, pruned dZ inside dZ" \
        /usr/bin/python3 -c '
import h5py, sys
import numpy as np
f = h5py.File(sys.argv[1], "r")
assert f.attrs["network"] == b"fmnist-cnn" or f.attrs["network"] == "fmnist-cnn", f.attrs["network"]
assert f.attrs["iterations"] == 2 and f.attrs["p"] == 0.9
assert sorted(f.keys()) == ["iter_000000", "iter_000002"], list(f.keys())
g = f["iter_000002"]
assert sorted(g.keys()) == ["layer_000", "layer_003", "layer_006", "layer_008"], list(g.keys())
c2 = g["layer_003"]
assert c2.attrs["name"] in (b"conv2", "conv2")
assert c2["act"].shape == (64, 16, 14, 14) and c2["dz_out"].shape == (64, 32, 14, 14)
for l in g.values():
    a, b = l["dz_in"][()], l["dz_out"][()]
    assert set(np.unique(a)) <= {0, 1} and np.all(b <= a)
    assert l.attrs["tau"] > 0
assert g["layer_003"]["dz_out"][()].sum() < g["layer_003"]["dz_in"][()].sum()
' "$tmp/t.h5"
else
    skip "no python3-h5py" "sttrain-5.2"
fi
[ ! -e "$tmp/t.h5.tmp" ]
ok_ $? "sttrain-5.3 no temporary file is left behind"
run "$STTRAIN" fmnist-cnn $Q --quiet --trace "$tmp/t2.h5" --trace-iters 1,500
is_status 0 "sttrain-5.4 iterations beyond the run are not an error"
has_err "1 of the iterations to trace lie beyond the last one run (3)" "sttrain-5.5 ... but are reported"

# bad input
run "$STTRAIN" nonet $Q
is_status 2 "sttrain-6.1 an unknown network exits 2"
has_err "unknown network 'nonet' (known: alexnet" "sttrain-6.2 ... and lists the known ones"
run "$STTRAIN" fmnist-cnn --data "$tmp/nowhere" $Q
is_status 1 "sttrain-6.3 a missing dataset exits 1"
has_err "dataset-fashion-mnist" "sttrain-6.4 ... naming the Debian package"
run "$STTRAIN" fmnist-cnn --batch 0
is_status 2 "sttrain-6.5 batch 0 exits 2"
has_err "batch = 0: must be a whole number in [1, 65536]" "sttrain-6.6 ... with the range"
run "$STTRAIN" fmnist-cnn p=1
has_err "p = 1" "sttrain-6.7 p = 1 is refused with the parameter table's message"
run "$STTRAIN" fmnist-cnn pe_rows=8
has_err "parameter 'pe_rows' does not apply to training" "sttrain-6.8 a simulator parameter is refused"
run "$STTRAIN" fmnist-cnn --lr -1
has_err "lr = -1: must be a number in (0, 100]" "sttrain-6.9 a negative learning rate"
run "$STTRAIN" fmnist-cnn --frobnicate 3
has_err "unknown option '--frobnicate'" "sttrain-6.10 an unknown option"
run "$STTRAIN" fmnist-cnn $Q --trace "$tmp/x.h5" --trace-iters 1,x
is_status 2 "sttrain-6.11 a bad iteration list exits 2"
has_err "trace-iters = '1,x'" "sttrain-6.12 ... quoting it"
printf 'return st.network { name = "rgb", input = {3, 32, 32},\n  st.conv{name = "c", out = 4, k = 3}, st.gap{}, st.fc{out = 10} }\n' >"$tmp/rgb.lua"
run "$STTRAIN" "$tmp/rgb.lua" $Q
has_err "layer 'c' reads 3x32x32 inputs: the data has 1x28x28 images" \
    "sttrain-6.13 a network for other inputs is refused"
cat >"$tmp/bad.lua" <<'LUA'
return st.network {
    name = "bad", input = {1, 28, 28},
    st.conv{out = 4, k = 3},
    st.fc{out = 7},
}
LUA
run "$STTRAIN" "$tmp/bad.lua" $Q
has_err "last layer 'fc1' gives 7 outputs" "sttrain-6.14 a network without 10 outputs is refused"
printf 'return st.network { name = "b", input = {1, 28, 28},\n  st.conv{out = 4, k = 99} }\n' >"$tmp/bad2.lua"
run "$STTRAIN" "$tmp/bad2.lua" $Q
is_status 2 "sttrain-6.15 a bad layer in a Lua file exits 2"
has_err "bad2.lua:2:" "sttrain-6.16 ... naming the file and line"
echo 'return 42' >"$tmp/num.lua"
run "$STTRAIN" "$tmp/num.lua" $Q
has_err "num.lua: the file must return st.network{...} or a sweep with a network, not number" \
    "sttrain-6.17 a Lua file that returns no network"
echo 'return st.sweep { name = "s", network = "fmnist-nope" }' >"$tmp/sw.lua"
run "$STTRAIN" "$tmp/sw.lua" $Q
has_err "sw.lua: network: unknown network 'fmnist-nope'" "sttrain-6.18 a sweep naming an unknown network"
echo 'return st.sweep { name = "s", network = "fmnist-cnn" }' >"$tmp/sw2.lua"
run "$STTRAIN" "$tmp/sw2.lua" $Q --quiet
is_status 0 "sttrain-4.3 a sweep file's built-in network trains"
has_out "sttrain: fmnist-cnn," "sttrain-4.4 ... under the built-in's name"

# trace files that cannot be written, and bad iteration lists
run "$STTRAIN" fmnist-cnn $Q --quiet --trace "$tmp/nowhere/t.h5"
is_status 1 "sttrain-7.1 a trace in a missing folder exits 1"
has_err "nowhere/t.h5.tmp: cannot create the trace file" "sttrain-7.2 ... naming the file"
mkdir "$tmp/adir"
run "$STTRAIN" fmnist-cnn $Q --quiet --trace "$tmp/adir" --trace-iters 0
is_status 1 "sttrain-7.3 a trace named after a folder exits 1"
has_err "adir.tmp: cannot rename to $tmp/adir: Is a directory (the trace is left in $tmp/adir.tmp)" "sttrain-7.4 ... and says the rename failed"
[ -s "$tmp/adir.tmp" ]
ok_ $? "sttrain-7.5 ... keeping the trace in the temporary file, which the message names"
run "$STTRAIN" fmnist-cnn $Q --trace "$tmp/x.h5" --trace-iters every:0
has_err "trace-iters = 'every:0': every:N needs a whole number N >= 1" "sttrain-7.6 every:0"
run "$STTRAIN" fmnist-cnn $Q --trace "$tmp/x.h5" --trace-iters "$(seq -s, 0 4096)"
has_err "trace-iters = '0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,2...': more than 4096 iterations" \
    "sttrain-7.7 too many iterations, the list shortened in the message"
[ ! -e "$tmp/x.h5" ] && [ ! -e "$tmp/x.h5.tmp" ]
ok_ $? "sttrain-7.8 a refused trace leaves no file"

tap_end
