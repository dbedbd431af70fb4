#!/bin/sh
# stexplore_axes.t - the network, the batch and the training trace as swept parameters:
# one sweep over a built-in network, another, a layer list and a Lua network, whose
# every point equals stsim on the same network and parameters, whose detail rows name the
# layers of their own network, whose ids are those of a sweep over one network, and which
# resumes after kill -9 and runs under mpirun to the same file; a trace as the sparsity
# source, each point equal to stsim --trace; and the bad inputs (an unknown network in a
# list, a missing layer list, a trace of another network, a batch larger than the trace,
# a changed trace on resume) refused with messages naming them.
. "${ST_SRC:-.}/tests/prog/tap.sh"

EXP="$ST_BUILD/bin/stexplore"
SIM="$ST_BUILD/bin/stsim"
TRAIN="$ST_BUILD/bin/sttrain"
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
export OMP_NUM_THREADS=1

if ! "$PY" -c 'import h5py, numpy' 2>/dev/null; then
    echo "1..0 # SKIP h5py is not installed (Debian: python3-h5py)"
    exit 0
fi

plan 31

cat >small.csv <<'EOF'
Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Channels,Num Filter,Strides,
A,8,8,3,3,2,4,1,
B,6,6,3,3,4,5,1,
EOF
# $1: the values of p (a Lua expression); the sweep is written to axes.lua.
axes_script() {
    cat >axes.lua <<EOF
local tiny = st.network {
    name = "tiny", input = {1, 12, 12},
    st.conv{name = "c1", out = 4, k = 3, pad = 1}, st.relu{}, st.maxpool{k = 2},
    st.conv{name = "c2", out = 6, k = 3}, st.relu{}, st.fc{name = "out", out = 10},
}
return st.sweep {
    name = "axes",
    params = {
        network = {"fmnist-cnn", "fmnist-resnet", "small.csv", tiny},
        batch = {1, 2},
        p = $1,
    },
    detail = true,
}
EOF
}

# ------------------------------------------------------------- networks as an axis
axes_script '{0, 0.9}'
run "$EXP" -o axes.h5 axes.lua
is_status 0 "axes-1.1 a sweep over four networks (built-in, built-in, layer list, Lua) runs"

"$PY" - axes.h5 >check.txt 2>&1 <<'EOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
net = f["params/network"]
labels = [s.strip() for s in net.attrs["range"].split(",")]
codes = net[:]
ok = (net.attrs["type"] == "enum" and labels == ["fmnist-cnn", "fmnist-resnet", "small", "tiny"]
      and sorted(np.bincount(codes).tolist()) == [4, 4, 4, 4]
      and f["points/status"][:].tolist() == [0] * 16)
print("ok" if ok else "labels %s codes %s" % (labels, codes.tolist()))
EOF
grep -qx ok check.txt
ok_ $? "axes-1.2 the network column is a column of choices labelled by the networks' names: $(head -c 200 check.txt)"

# Every point of a built-in or listed network against stsim with its parameters and seed.
"$PY" - axes.h5 "$SIM" >check.txt 2>&1 <<'EOF'
import json, subprocess, sys, h5py
f = h5py.File(sys.argv[1], "r")
labels = [s.strip() for s in f["params/network"].attrs["range"].split(",")]
arg = {"fmnist-cnn": "fmnist-cnn", "fmnist-resnet": "fmnist-resnet", "small": "small.csv"}
names = [n.decode() if isinstance(n, bytes) else n for n in f["network/layer_name"][:]]
lnet = f["network/layer_network"][:]
drow, dlayer = f["detail/row"][:], f["detail/layer"][:]
bad, n = [], 0
for r in range(f["points/id"].shape[0]):
    net = labels[f["params/network"][r]]
    mine = {dlayer[k] for k in range(len(drow)) if drow[k] == r}
    # The detail rows of a point name layers of its own network only.
    if {lnet[l] for l in mine} != {f["params/network"][r]}:
        bad.append("row %d: detail rows of another network" % r)
    if net not in arg:
        continue
    cmd = [sys.argv[2], arg[net], "--json", "batch=%d" % f["params/batch"][r],
           "p=%r" % float(f["params/p"][r]), "seed=%d" % f["params/seed"][r]]
    sim = json.loads(subprocess.run(cmd, capture_output=True, check=True).stdout)
    tot = sim["total"]
    if (tot["run"]["cycles"] != f["metrics/cycles"][r]
            or tot["dense"]["cycles"] != f["metrics/dense_cycles"][r]
            # stsim prints the energy with 9 significant digits (%.9g)
            or not abs(tot["run"]["energy_pj"] - f["metrics/energy_pj"][r]) <= 5e-9 * tot["run"]["energy_pj"]):
        bad.append("row %d (%s): cycles %d/%d" % (r, net, tot["run"]["cycles"], f["metrics/cycles"][r]))
    if sorted(l["name"] for l in sim["layers"]) != sorted({names[l] for l in mine}):
        bad.append("row %d (%s): layers %s" % (r, net, sorted({names[l] for l in mine})))
    n += 1
print("ok" if not bad and n == 12 else "; ".join(bad[:3]) or "%d points" % n)
EOF
grep -qx ok check.txt
ok_ $? "axes-1.3 each point of the three file-free networks equals stsim with its network, batch, p and seed: $(head -c 300 check.txt)"
ok_cmd "axes-1.4 the Lua network's points have detail rows of its layers c1, c2 and out" \
    "$PY" -c "
import h5py, sys
f = h5py.File('axes.h5', 'r')
names = [n.decode() if isinstance(n, bytes) else n for n in f['network/layer_name'][:]]
rows = [r for r in range(16) if f['params/network'][r] == 3]
got = {names[l] for r, l in zip(f['detail/row'][:], f['detail/layer'][:]) if r in rows}
sys.exit(0 if got == {'c1', 'c2', 'out'} else 1)"

# The ids of a network's points do not depend on the other networks of the sweep.
cat >one.lua <<'EOF'
return st.sweep { name = "one", network = "fmnist-resnet", batch = {1, 2}, params = { p = {0, 0.9} } }
EOF
run "$EXP" -o one.h5 one.lua
ok_cmd "axes-1.5 a point's id and figures are those of the same point in a one-network sweep" \
    "$PY" -c "
import h5py, sys
a, b = h5py.File('axes.h5', 'r'), h5py.File('one.h5', 'r')
sel = [r for r in range(16) if a['params/network'][r] == 1]
ids = sorted(zip(a['points/id'][sel], a['metrics/cycles'][sel]))
sys.exit(0 if ids == sorted(zip(b['points/id'][:], b['metrics/cycles'][:])) else 1)"
run "$EXP" -o again.h5 axes.lua
run "$PY" "$ST_SRC/tests/prog/h5same.py" axes.h5 again.h5
is_status 0 "axes-1.6 the same sweep run again writes the same file (ids, values, detail)"
run "$ST_BUILD/bin/stquery" list axes.h5 --where 'network == "small"' --columns network,p
has_out "small" "axes-1.7 stquery filters on the network by its name"

# kill -9 in the middle, --resume, and the file of an uninterrupted run.
axes_script 'st.linspace(0, 0.9, 40)'
run "$EXP" -q -o full.h5 axes.lua
is_status 0 "axes-2.1 a longer sweep (320 points) runs uninterrupted"
"$EXP" -q --batch 2 --sync 0 -o k.h5 axes.lua >/dev/null 2>&1 &
pid=$!
i=0
while [ $i -lt 400 ]; do
    sz=$(stat -c %s k.h5.journal 2>/dev/null || echo 0)
    [ "$sz" -gt 60000 ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.01
    i=$((i + 1))
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -f k.h5.journal ]
ok_ $? "axes-2.2 the sweep was killed with its journal in place"
run "$EXP" -q --resume -o k.h5 axes.lua
is_status 0 "axes-2.3 --resume completes it"
run "$PY" "$ST_SRC/tests/prog/h5same.py" full.h5 k.h5
is_status 0 "axes-2.4 the resumed file equals the uninterrupted one: $(head -c 200 "$tmp/out")"

# Bad networks in a list.
cat >bad1.lua <<'EOF'
return st.sweep {
    name = "bad1",
    params = { network = {"fmnist-cnn", "nonet"}, p = {0} },
}
EOF
run "$EXP" --check bad1.lua
is_status 2 "axes-3.1 an unknown network in the list exits 2"
has_err "bad1.lua:3: network = 'nonet': unknown network 'nonet' (known: alexnet" "axes-3.2 ... naming the line, the name and the known ones"
cat >bad2.lua <<'EOF'
return st.sweep {
    name = "bad2",
    params = { network = {"alexnet", "lists/none.csv"} },
}
EOF
run "$EXP" --check bad2.lua
is_status 2 "axes-3.3 a layer list that does not exist exits 2"
has_err "bad2.lua:3: network = 'lists/none.csv': lists/none.csv: cannot open" "axes-3.4 ... naming the line and the file"
cat >bad3.lua <<'EOF'
return st.sweep {
    name = "bad3",
    network = "fmnist-cnn",
    params = { network = {"alexnet"} },
}
EOF
run "$EXP" --check bad3.lua
has_err "duplicate parameter 'network'" "axes-3.5 a network at sweep level and in params is refused"
[ ! -e results ]
ok_ $? "axes-3.6 refused scripts write nothing"

# ------------------------------------------------------------- a trace as the source
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    for i in $(seq 1 13); do
        skip "Fashion-MNIST is missing (Debian: dataset-fashion-mnist)" "trace"
    done
else
    run "$TRAIN" fmnist-cnn --train-images 64 --test-images 32 --batch 8 --trace t.h5 \
        --trace-iters 0,1 p=0.9 --quiet
    is_status 0 "axes-4.1 sttrain writes a trace of 8 images per iteration"
    cat >tr.lua <<'EOF'
return st.sweep {
    name = "tr",
    network = "fmnist-cnn",
    params = { trace = {"none", "t.h5"}, batch = {2, 8, 9}, pe_rows = {4, 8} },
    trace_iter = 1,
}
EOF
    run "$EXP" -o tr.h5 tr.lua
    is_status 0 "axes-4.2 a sweep over traces (the model and a trace) runs"
    "$PY" - tr.h5 "$SIM" >check.txt 2>&1 <<'EOF'
import json, subprocess, sys, h5py
f = h5py.File(sys.argv[1], "r")
labels = [s.strip() for s in f["params/trace"].attrs["range"].split(",")]
msgs = dict(zip(f["failures/row"][:], f["failures/message"][:]))
bad, n = [], 0
for r in range(f["points/id"].shape[0]):
    b, tr = int(f["params/batch"][r]), labels[f["params/trace"][r]]
    st = f["points/status"][r]
    if tr == "t.h5" and b == 9:
        m = msgs.get(r, b"").decode()
        if st != 1 or "batch = 9: trace t.h5 holds 8 images of iter_000001" not in m:
            bad.append("row %d: status %d %s" % (r, st, m))
        continue
    cmd = [sys.argv[2], "fmnist-cnn", "--json", "batch=%d" % b, "pe_rows=%d" % f["params/pe_rows"][r],
           "seed=%d" % f["params/seed"][r]]
    if tr == "t.h5":
        cmd += ["--trace", "t.h5", "--trace-iter", "1"]
    sim = json.loads(subprocess.run(cmd, capture_output=True, check=True).stdout)
    if st != 0 or sim["total"]["run"]["cycles"] != f["metrics/cycles"][r]:
        bad.append("row %d (%s): %d/%d" % (r, tr, sim["total"]["run"]["cycles"], f["metrics/cycles"][r]))
    n += 1
print("ok" if not bad and n == 10 and labels == ["none", "t.h5"] else "; ".join(bad[:3]) or "%d %s" % (n, labels))
EOF
    grep -qx ok check.txt
    ok_ $? "axes-4.3 each point equals stsim (with --trace t.h5 --trace-iter 1 where it names the trace); batch 9 > 8 images fails, naming both: $(head -c 300 check.txt)"
    ok_cmd "axes-4.4 a trace changes the point's id" "$PY" -c "
import h5py, sys
f = h5py.File('tr.h5', 'r')
ids = f['points/id'][:]
sys.exit(0 if len(set(ids.tolist())) == len(ids) else 1)"
    run "$EXP" --check tr.lua
    has_out "trace t.h5: $(stat -c %s t.h5) bytes, siphash" "axes-4.5 --check shows the trace's size and hash"

    cat >trbad.lua <<'EOF'
return st.sweep {
    name = "trbad",
    network = "fmnist-resnet",
    fixed = { trace = "t.h5" },
}
EOF
    run "$EXP" --check trbad.lua
    is_status 2 "axes-5.1 a trace of another network exits 2"
    has_err "trbad.lua:4: trace = 't.h5': a trace of network 'fmnist-cnn', not of the sweep's 'fmnist-resnet'" \
        "axes-5.2 ... naming the line and both networks"
    cat >trbatch.lua <<'EOF'
return st.sweep {
    name = "trbatch",
    network = "fmnist-cnn",
    batch = 16,
    fixed = { trace = "t.h5" },
}
EOF
    run "$EXP" --check trbatch.lua
    is_status 2 "axes-5.3 a fixed batch larger than the trace exits 2"
    has_err "batch = 16: trace 't.h5' holds 8 images of iter_000000" "axes-5.4 ... naming both"

    # A changed trace: the resume is refused, the file kept.
    cp tr.h5 tr.before.h5
    run "$TRAIN" fmnist-cnn --train-images 64 --test-images 32 --batch 8 --trace t.h5 \
        --trace-iters 0,1 p=0.9 --seed 2 --quiet
    run "$EXP" --resume -o tr.h5 tr.lua
    is_status 2 "axes-5.5 --resume after the trace changed exits 2"
    has_err "the file has 'trace t.h5:" "axes-5.6 ... naming the trace's line of the space"
    cmp -s tr.h5 tr.before.h5
    ok_ $? "axes-5.7 ... and leaves the file as it was"
fi

# ------------------------------------------------------------- under mpirun
if ! command -v mpirun >/dev/null 2>&1; then
    for i in 1 2; do skip "mpirun is not installed (Debian: openmpi-bin)" "mpi"; done
else
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_MCA_btl_vader_single_copy_mechanism=none
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    axes_script '{0, 0.9}'
    run mpirun --oversubscribe -np 2 "$EXP" -o np2.h5 axes.lua
    run "$PY" "$ST_SRC/tests/prog/h5same.py" --ranks axes.h5 np2.h5
    is_status 0 "axes-6.1 mpirun -np 2 writes the four-network file of the run without mpirun: $(head -c 200 "$tmp/out")"
    if [ -f t.h5 ]; then
        run "$EXP" --force -o tr1.h5 tr.lua
        run mpirun --oversubscribe -np 2 "$EXP" -o tr2.h5 tr.lua
        run "$PY" "$ST_SRC/tests/prog/h5same.py" --ranks tr1.h5 tr2.h5
        is_status 0 "axes-6.2 ... and the trace sweep's (the masks travel to the other rank): $(head -c 200 "$tmp/out")"
    else
        skip "no trace (Fashion-MNIST is missing)" "axes-6.2"
    fi
fi
tap_end
