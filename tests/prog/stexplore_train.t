#!/bin/sh
# stexplore_train.t - accuracy in the design space: a sweep with train = {...} trains each
# distinct setting once (two rates of pruning for 50 points: two trainings), gives
# every point the accuracy and losses sttrain reports for that setting and the cycles of
# stsim replaying that training's trace; a kill -9 and --resume, --force, and mpirun -np 2
# train nothing twice; bad training settings are refused, and a network the trainer cannot
# take fails its points with the trainer's message; lua_scripts/accuracy.lua's front.
. "${ST_SRC:-.}/tests/prog/tap.sh"
normal_build_only "trainings in sub-processes, minutes under the sanitizer"

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
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "1..0 # SKIP Fashion-MNIST is not installed (Debian: dataset-fashion-mnist)"
    exit 0
fi

plan 23

cat >acc.lua <<'EOF'
return st.sweep {
    name = "acc",
    network = "fmnist-cnn",
    batch = 2,
    params = { p = {0, 0.9}, pe_rows = st.pow2(1, 16), pe_cols = st.pow2(1, 16) },
    train = { epochs = 1, train_images = 256, test_images = 128, batch = 32, seed = 3 },
}
EOF
# trained LOG: how many trainings the log says ended well.
trained() { grep -c "^stexplore: trained .* ok$" "$1"; }

run "$EXP" -o full.h5 acc.lua
cp "$tmp/err" full.log
is_status 0 "train-1.1 a sweep of 50 points with train = {...} runs"
[ "$(trained full.log)" -eq 2 ] && grep -q "2 training settings: 0 in full.h5.train, 2 to train" full.log
ok_ $? "train-1.2 ... training each of its 2 settings once: $(grep -c trained full.log) lines"

# The figures of each point's training against sttrain's own report of the same setting.
for p in 0 0.9; do
    "$TRAIN" fmnist-cnn --epochs 1 --batch 32 --train-images 256 --test-images 128 --seed 3 \
        --json p=$p >"sttrain$p.json" 2>/dev/null
done
"$PY" - full.h5 >check.txt 2>&1 <<'EOF'
import json, sys, h5py
f = h5py.File(sys.argv[1], "r")
bad = []
for r in range(f["points/id"].shape[0]):
    p = float(f["params/p"][r])
    last = json.load(open("sttrain%s.json" % ("0" if p == 0 else "0.9")))["epochs"][-1]
    for m in ("test_accuracy", "test_loss", "train_loss"):
        # sttrain prints them with 9 significant digits
        if not abs(f["metrics/" + m][r] - last[m]) <= 1e-8 * max(1, abs(last[m])):  # NaN fails
            bad.append("row %d %s %r/%r" % (r, m, f["metrics/" + m][r], last[m]))
print("ok" if not bad and f["points/status"][:].tolist() == [0] * 50 else "; ".join(bad[:3]) or "status")
EOF
grep -qx ok check.txt
ok_ $? "train-1.3 every point's accuracy and losses are sttrain's for its setting: $(head -c 300 check.txt)"

# Each point simulates with its training's trace: stsim --trace on the cached file.
"$PY" - full.h5 "$SIM" >check.txt 2>&1 <<'EOF'
import json, subprocess, sys, h5py
f = h5py.File(sys.argv[1], "r")
labels = [s.strip() for s in f["params/trace"].attrs["range"].split(",")]
bad = []
for r in (0, 7, 30, 49):
    key = labels[f["params/trace"][r]]
    cmd = [sys.argv[2], "fmnist-cnn", "--json", "--trace", "full.h5.train/%s.h5" % key[6:],
           "batch=2", "pe_rows=%d" % f["params/pe_rows"][r], "pe_cols=%d" % f["params/pe_cols"][r],
           "seed=%d" % f["params/seed"][r]]
    sim = json.loads(subprocess.run(cmd, capture_output=True, check=True).stdout)
    if sim["total"]["run"]["cycles"] != f["metrics/cycles"][r] or not key.startswith("train-"):
        bad.append("row %d %s: %d/%d" % (r, key, sim["total"]["run"]["cycles"], f["metrics/cycles"][r]))
print("ok" if not bad and len(labels) == 3 else "; ".join(bad) or str(labels))
EOF
grep -qx ok check.txt
ok_ $? "train-1.4 each point's cycles are stsim's replaying its training's trace: $(head -c 300 check.txt)"
ok_cmd "train-1.5 the two settings give two traces, each shared by the 25 points of its p" \
    "$PY" -c "
import h5py, sys, collections
f = h5py.File('full.h5', 'r')
c = collections.Counter(zip(f['params/p'][:].tolist(), f['params/trace'][:].tolist()))
sys.exit(0 if sorted(c.values()) == [25, 25] and len({t for _, t in c}) == 2 else 1)"

run "$EXP" --check --first 50 acc.lua
"$PY" -c "
import h5py, sys
ids = {'%016x' % i for i in h5py.File('full.h5', 'r')['points/id'][:]}
shown = {l.split()[1] for l in open('$tmp/out') if l.startswith('  ') and l.split()[0].isdigit()}
sys.exit(0 if ids == shown else 1)"
ok_ $? "train-1.6 --check shows the ids the run gives its points (the training settings in them)"
has_out "training settings: 2 (each trained once by a run)" "train-1.7 ... and counts the settings"

# kill -9 while the points are evaluated (the journal exists once the trainings are done),
# then --resume: nothing is trained again and the file is the uninterrupted one.
"$EXP" --batch 1 --sync 0 -o k.h5 acc.lua >/dev/null 2>k1.log &
pid=$!
i=0
while [ $i -lt 1000 ]; do
    sz=$(stat -c %s k.h5.journal 2>/dev/null || echo 0)
    [ "$sz" -gt 5000 ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.01
    i=$((i + 1))
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -f k.h5.journal ]
ok_ $? "train-2.1 the sweep was killed in the middle of its points"
run "$EXP" --resume -o k.h5 acc.lua
cp "$tmp/err" k2.log
is_status 0 "train-2.2 --resume completes it"
[ "$(trained k1.log)" -eq 2 ] && [ "$(grep -c "training" k2.log)" -eq 1 ] &&
    grep -q "2 training settings: 2 in k.h5.train, 0 to train" k2.log
ok_ $? "train-2.3 ... without training again: 2 trainings before the kill, none after"
run "$PY" "$ST_SRC/tests/prog/h5same.py" full.h5 k.h5
is_status 0 "train-2.4 the resumed file equals the uninterrupted one: $(head -c 200 "$tmp/out")"
run "$EXP" --force -o full.h5 acc.lua
grep -q "2 training settings: 2 in full.h5.train, 0 to train" "$tmp/err" && [ "$(trained "$tmp/err")" -eq 0 ]
ok_ $? "train-2.5 --force starts the sweep over and takes the trainings from the cache"

# Under mpirun: the settings go to both ranks, each trained once.
if ! command -v mpirun >/dev/null 2>&1; then
    for i in 1 2; do skip "mpirun is not installed (Debian: openmpi-bin)" "train-3"; done
else
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_MCA_btl_vader_single_copy_mechanism=none
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    run mpirun --oversubscribe -np 2 "$EXP" -o m.h5 acc.lua
    [ "$(trained "$tmp/err")" -eq 2 ] && grep -q "trained fmnist-cnn (rank 0)" "$tmp/err" &&
        grep -q "trained fmnist-cnn (rank 1)" "$tmp/err"
    ok_ $? "train-3.1 mpirun -np 2 trains each setting once, one on each rank: $(grep trained "$tmp/err" | tr '\n' ' ')"
    run "$PY" "$ST_SRC/tests/prog/h5same.py" --ranks full.h5 m.h5
    is_status 0 "train-3.2 ... and writes the file of the run without mpirun: $(head -c 200 "$tmp/out")"
fi

# Bad settings.
cat >bad1.lua <<'EOF'
return st.sweep {
    name = "bad1", network = "fmnist-cnn",
    train = { epoch = 1 },
}
EOF
run "$EXP" --check bad1.lua
is_status 2 "train-4.1 an unknown training setting exits 2"
has_err "bad1.lua:3: train: unknown setting 'epoch' (settings: epochs," "train-4.2 ... naming it and the known ones"
cat >bad2.lua <<'EOF'
return st.sweep {
    name = "bad2", network = "fmnist-cnn", batch = 64,
    train = { batch = 32 },
}
EOF
run "$EXP" --check bad2.lua
has_err "bad2.lua:2: batch = 64: more than the training's batch of 32" "train-4.3 a batch larger than the training's is refused"
cat >bad3.lua <<'EOF'
return st.sweep {
    name = "bad3", network = "fmnist-cnn",
    fixed = { trace = "none" },
    train = { epochs = 0 },
}
EOF
run "$EXP" --check bad3.lua
has_err "bad3.lua:4: train: epochs = 0: must be a whole number in [1, 1000]" "train-4.4 epochs = 0 is refused, naming the value"
sed -i 's/epochs = 0/epochs = 1/' bad3.lua
run "$EXP" --check bad3.lua
has_err "train: the points replay the traces of their own training; the sweep cannot set trace too" \
    "train-4.5 train and trace together are refused"
cat >alex.lua <<'EOF'
return st.sweep {
    name = "alex",
    params = { network = {"fmnist-cnn", "alexnet"} },
    fixed = { fidelity = "sampled", sample_fraction = 0.05 },
    train = { train_images = 64, test_images = 32, batch = 16 },
}
EOF
run "$EXP" -o alex.h5 alex.lua
is_status 0 "train-4.6 a sweep with a network the trainer cannot take still runs"
ok_cmd "train-4.7 ... its points fail with the trainer's message, the others have an accuracy" \
    "$PY" -c "
import h5py, math, sys
f = h5py.File('alex.h5', 'r')
msg = f['failures/message'][0].decode()
acc = f['metrics/test_accuracy'][:]
ok = (f['points/status'][:].tolist() == [0, 1] and 'training failed: network \'alexnet\'' in msg
      and 'the data has 10 classes' in msg and 0 <= acc[0] <= 1 and math.isnan(acc[1]))
sys.exit(0 if ok else 1)"

# lua_scripts/accuracy.lua: its front trades accuracy against cycles and energy; the front
# stquery prints against one computed here from the file.
run "$EXP" --progress none -o accuracy.h5 "$ST_SRC/lua_scripts/accuracy.lua"
is_status 0 "train-5.1 lua_scripts/accuracy.lua runs in full"
run "$ST_BUILD/bin/stquery" front accuracy.h5 --min cycles --min energy_pj --max test_accuracy \
    --columns row
cp "$tmp/out" front.txt
"$PY" - accuracy.h5 front.txt >check.txt 2>&1 <<'EOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
c, e, a = (f["metrics/" + m][:].astype(float) for m in ("cycles", "energy_pj", "test_accuracy"))
n = len(c)
front = [i for i in range(n)
         if not any(c[j] <= c[i] and e[j] <= e[i] and a[j] >= a[i]
                    and (c[j] < c[i] or e[j] < e[i] or a[j] > a[i]) for j in range(n))]
rows = sorted(int(l.split()[0]) for l in open(sys.argv[2]) if l.strip()[:1].isdigit())
ok = rows == front and len(front) >= 2 and len({a[i] for i in front}) == len(front)
print("ok" if ok else "stquery %s, here %s" % (rows, front))
EOF
grep -qx ok check.txt
ok_ $? "train-5.2 its front (stquery front) is the brute-force front, with several accuracies: $(head -c 200 check.txt)"
tap_end
