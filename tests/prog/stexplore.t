#!/bin/sh
# stexplore.t - the explorer as a user runs it: --help, every example script (in full and
# with --check), the README's h5py-to-pandas lines, every kind of bad input, failed
# points, progress, a 10^12-point grid checked lazily, and a sweep killed with kill -9
# twice, resumed, and compared with an uninterrupted run.
. "${ST_SRC:-.}/tests/prog/tap.sh"

EXP="$ST_BUILD/bin/stexplore"
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

plan 97

run "$EXP" --help
is_status 0 "stexplore-1.1 --help exits 0"
has_out "--resume" "stexplore-1.2 --help documents --resume"
has_out "exit status" "stexplore-1.3 --help documents the exit statuses"

# ------------------------------------------------------------ the examples
for ex in quickstart pe_buffers pruning lua_network networks accuracy lhs_many; do
    run "$EXP" --check "$ST_SRC/lua_scripts/$ex.lua"
    is_status 0 "stexplore-2.$ex --check of lua_scripts/$ex.lua exits 0"
done
has_out "first points:" "stexplore-2.6 --check shows the first points"
has_out "candidates: 200" "stexplore-2.7 --check counts the points of the LHS example"
[ ! -e results ]
ok_ $? "stexplore-2.8 --check writes nothing"

start=$(date +%s)
run "$EXP" --progress none "$ST_SRC/lua_scripts/quickstart.lua"
is_status 0 "stexplore-3.1 the quick start runs"
[ $(($(date +%s) - start)) -le 30 ]
ok_ $? "stexplore-3.2 ... within 30 s"
has_out "24 points evaluated" "stexplore-3.3 ... and evaluates its 24 points"
[ -f results/quickstart.h5 ] && [ ! -e results/quickstart.h5.journal ]
ok_ $? "stexplore-3.4 the default output is results/<name>.h5, and the journal is gone"
for ex in pe_buffers pruning lua_network lhs_many networks; do
    run "$EXP" --progress none "$ST_SRC/lua_scripts/$ex.lua"
    is_status 0 "stexplore-3.$ex lua_scripts/$ex.lua runs in full"
done
has_out "failed" "stexplore-3.9 the summary counts failures"

if [ -x "$PY" ] && "$PY" -c 'import h5py, numpy' 2>/dev/null; then
    ok_cmd "stexplore-4.1 the files hold what the scripts asked for" "$PY" - <<'PYEOF'
import h5py, numpy as np
with h5py.File("results/quickstart.h5", "r") as f:
    assert f.attrs["complete"] == 1 and f.attrs["points"] == 24
    assert sorted(set(f["params/pe_rows"][()])) == [4, 8, 16]
    assert np.all(f["points/index"][()] == np.arange(24))
    assert len(set(f["points/id"][()])) == 24
    assert f["metrics/energy_pj"].attrs["unit"] == "pJ"
    assert f["params/ch0_kib"].attrs["unit"] == "KiB"
    assert f["params/fidelity"].attrs["role"] == "fixed"
    assert "quickstart" in f["provenance"].attrs["script"]
    c, d = f["metrics/cycles"][()], f["metrics/dense_cycles"][()]
    assert np.allclose(f["metrics/speedup"][()], d / c)
with h5py.File("results/pe_buffers.h5", "r") as f:
    st = f["points/status"][()]
    assert (st == 1).sum() == f.attrs["failed"] > 0
    assert len(f["failures/message"]) == f.attrs["failed"]
    assert f.attrs["excluded"] > 0
    r, c = f["params/pe_rows"][()], f["params/pe_cols"][()]
    assert np.all(r * c <= 512)
    assert np.all(f["params/ch2_kib"][()] == f["params/ch0_kib"][()])
with h5py.File("results/pruning.h5", "r") as f:
    assert f["detail/row"].shape[0] > 0 and f["detail/row"][()].max() == f.attrs["points"] - 1
    assert len(set(f["params/seed"][()])) == 1
with h5py.File("results/lhs_many.h5", "r") as f:
    st, s = f["points/status"][()], f["metrics/speedup"][()]
    assert np.all(s[st == 2] < 1) and np.all(s[st == 0] >= 1)
with h5py.File("results/lua_network.h5", "r") as f:
    assert f["network"].attrs["source"] == "lua"
    assert b"b2_proj" in list(f["network/layer_name"][()])
PYEOF
    # The README's lines, exactly as printed there, run on the quick start's file.
    sed -n '/<!-- h5py-pandas -->/,/^```$/p' "$ST_SRC/README.md" | sed '1,2d;$d' >readme.py
    [ -s readme.py ]
    ok_ $? "stexplore-4.2 the README shows h5py lines"
    if "$PY" -c 'import pandas' 2>/dev/null; then
        printf '\nassert len(df) == 24 and "speedup" in df and "pe_rows" in df\n' >>readme.py
        ok_cmd "stexplore-4.3 the README's h5py-to-pandas lines run" "$PY" readme.py
    else
        skip "python3-pandas is not installed" "stexplore-4.3"
    fi
else
    skip "no h5py" "stexplore-4.1"
    skip "no h5py" "stexplore-4.2"
    skip "no h5py" "stexplore-4.3"
fi

# ------------------------------------------------------------- bad input
# Each: status 2, the message, and no result file.
head='return st.sweep {
  name = "bad",
  network = "fmnist-cnn",'
bad() { # id description expected-message script-text [options]
    printf '%s\n' "$4" >bad.lua
    run "$EXP" --max-instructions 20000000 --max-memory 64 bad.lua $5
    is_status 2 "stexplore-5.$1 $2: exit 2"
    has_err "$3" "stexplore-5.$1 ... says: $3"
    [ ! -e results/bad.h5 ]
    ok_ $? "stexplore-5.$1 ... and leaves no result file"
}
bad 1 "a syntax error" "bad.lua:5: '}' expected" "$head
  params = { pe_rows = {4} }
  fixed = {}
}"
bad 2 "a runtime error" "bad.lua:3: attempt to perform arithmetic" "local function f(x)
  local t = {}
  return t.missing + x
end
return f(1)"
has_err "stack traceback" "stexplore-5.2 ... with a traceback"
bad 3 "an unknown parameter" "bad.lua:5: unknown parameter 'pe_row'; did you mean 'pe_rows'?" "$head
  params = {
    pe_row = {4, 8},
  },
}"
bad 4 "a value out of range" "bad.lua:5: pe_rows = 0: must be in [1, 4096]" "$head
  params = {
    pe_rows = {0, 8},
  },
}"
bad 5 "a value of the wrong type" "bad.lua:5: dram_gbps = 'fast': must be a number, not a string" "$head
  fixed = {
    dram_gbps = 'fast',
  },
}"
bad 6 "an empty space" "bad.lua:4: pe_rows = {}: no values (the space is empty)" "$head
  params = { pe_rows = {} },
}"
bad 7 "a duplicate parameter" "bad.lua:6: duplicate parameter 'p'" "$head
  params = { p = {0, 0.5} },
  fixed = {
    p = 0.9,
  },
}"
bad 8 "an endless loop" "bad.lua:2: instruction budget of 20000000 exceeded" "while true do
  local x = 1
end"
bad 9 "a memory bomb" "memory cap of 64 MiB" "local s = 'x'
while true do s = s .. s end"
bad 10 "os.execute in a sandboxed script" "bad.lua:1: os.execute is not available in the sandbox" "os.execute('touch pwned')
return {}"
[ ! -e pwned ]
ok_ $? "stexplore-5.10 ... and nothing was executed"

printf '%s\n  params = { pe_rows = {4, 8} },\n}\n' "$head" >good.lua
run "$EXP" -o /proc/stexplore-cannot/x.h5 good.lua
is_status 2 "stexplore-6.1 an unwritable output path exits 2"
has_err "cannot create" "stexplore-6.2 ... and says what could not be created"
run "$EXP" -q good.lua
is_status 0 "stexplore-6.3 a good script runs"
sum1=$(cksum <results/bad.h5)
run "$EXP" good.lua
is_status 2 "stexplore-6.4 an existing output without --force or --resume exits 2"
has_err "already exists: --force overwrites it, --resume continues it" "stexplore-6.5 ... and says how to go on"
[ "$(cksum <results/bad.h5)" = "$sum1" ]
ok_ $? "stexplore-6.6 ... and leaves the file as it was"
run "$EXP" -q --force good.lua
is_status 0 "stexplore-6.7 --force overwrites it"
run "$EXP" --resume good.lua
is_status 0 "stexplore-6.8 --resume of a complete file has nothing to do"
has_out "complete already" "stexplore-6.9 ... and says so"
printf '%s\n  params = { pe_rows = {4, 16} },\n}\n' "$head" >changed.lua
run "$EXP" --resume -o results/bad.h5 changed.lua
is_status 2 "stexplore-6.10 --resume with another space exits 2"
has_err "param pe_rows: swept 2 values: 4, 8', the script has 'param pe_rows: swept 2 values: 4, 16'" \
    "stexplore-6.11 ... saying what differs"
head -c 3000 /dev/urandom >results/corrupt.h5
run "$EXP" --resume -o results/corrupt.h5 good.lua
is_status 2 "stexplore-6.12 --resume of a corrupt file exits 2"
has_err "is not an HDF5 file" "stexplore-6.13 ... and says so"
if [ -x "$PY" ] && "$PY" -c 'import h5py' 2>/dev/null; then
    "$PY" -c 'import h5py; h5py.File("results/foreign.h5", "w")["x"] = [1, 2, 3]'
    run "$EXP" --resume -o results/foreign.h5 good.lua
    is_status 2 "stexplore-6.14 --resume of a foreign HDF5 file exits 2"
    has_err "not a stexplore result" "stexplore-6.15 ... and says so"
else
    skip "no h5py" "stexplore-6.14"
    skip "no h5py" "stexplore-6.15"
fi
run "$EXP" --bogus good.lua
is_status 2 "stexplore-6.16 an unknown option exits 2"

# ------------------------------------------------------- points and progress
cat >fails.lua <<'EOF2'
return st.sweep {
  name = "fails",
  network = "fmnist-cnn",
  params = { ch2_kib = {1, 64}, psum_bits = {8, 32} },
  fixed = { fidelity = "sampled", sample_fraction = 0.05 },
}
EOF2
run "$EXP" --progress log fails.lua
is_status 0 "stexplore-7.1 a sweep with failing points exits 0"
has_out "4 points evaluated (1 ok, 3 failed" "stexplore-7.2 ... and the summary counts the failures"
has_err "points/s" "stexplore-7.3 without a terminal, progress is plain log lines"
run "$EXP" --progress live --force fails.lua
has_err "ETA" "stexplore-7.4 the live line shows the ETA"
cat >dups.lua <<'EOF2'
return st.sweep {
  name = "dups",
  network = "fmnist-cnn",
  eval = "none",
  sample = st.random{count = 100, seed = 5},
  params = { pe_rows = {4, 8, 16} },
}
EOF2
run "$EXP" dups.lua
has_out "3 points evaluated" "stexplore-7.5 duplicate points are evaluated once"
has_out "97 repeats" "stexplore-7.6 ... and counted as repeats"

cat >huge.lua <<'EOF2'
local ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
return st.sweep {
  name = "huge",
  network = "fmnist-cnn",
  params = { pe_rows = ten, pe_cols = ten, kreg_len = ten, oreg_len = ten, fifo_depth = ten,
             step_overhead = ten, macs_per_pe = ten, data_bits = ten, index_bits = ten,
             spatial_block = ten, batch = ten, seed = ten },
}
EOF2
run "$EXP" --check huge.lua
is_status 0 "stexplore-7.7 a grid of 10^12 points checks"
has_out "candidates: 1000000000000" "stexplore-7.8 ... counting 10^12 candidates without enumerating them"

# ------------------------------------------------------------ kill -9, resume
cat >long.lua <<'EOF2'
return st.sweep {
  name = "long",
  network = "fmnist-cnn",
  params = {
    pe_rows = {2, 4, 8, 16, 32},
    pe_cols = {2, 4, 8, 16, 32},
    p = st.linspace(0, 0.95, 20),
    sync = {"lockstep", "fifo"},
    ch2_kib = {4, 64},
  },
  fixed = { fidelity = "sampled", sample_fraction = 0.05 },
  where = function(p) return p.pe_rows * p.pe_cols >= 8 end,
  keep = function(m) return m.speedup > 1.1 end,
}
EOF2
run "$EXP" -q long.lua -o full.h5
is_status 0 "stexplore-8.1 the uninterrupted run finishes"
# Kill when the journal holds some frames; the result file must be readable then.
killed_at() { # bytes: start or resume, kill -9 once the journal exceeds that size
    "$EXP" -q --snapshot 0.05 --batch 8 $2 long.lua -o k.h5 &
    pid=$!
    n=0
    while [ $n -lt 600 ]; do
        s=$(stat -c %s k.h5.journal 2>/dev/null || echo 0)
        [ "$s" -gt "$1" ] && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.02
        n=$((n + 1))
    done
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
}
killed_at 60000 ""
[ -f k.h5.journal ]
ok_ $? "stexplore-8.2 the sweep was killed in the middle"
if [ -x "$PY" ] && "$PY" -c 'import h5py' 2>/dev/null; then
    ok_cmd "stexplore-8.3 the file on disk is readable, marked incomplete" "$PY" -c '
import h5py
with h5py.File("k.h5", "r") as f:
    assert f.attrs["complete"] == 0 and f["points/id"].shape[0] == f.attrs["points"]'
else
    skip "no h5py" "stexplore-8.3"
fi
killed_at 200000 --resume
run "$EXP" -q --resume long.lua -o k.h5
is_status 0 "stexplore-8.4 the twice-killed sweep resumes to the end"
[ ! -e k.h5.journal ]
ok_ $? "stexplore-8.5 ... and drops its journal"
if [ -x "$PY" ] && "$PY" -c 'import h5py' 2>/dev/null; then
    run "$PY" "$ST_SRC/tests/prog/h5same.py" full.h5 k.h5
    is_status 0 "stexplore-8.6 the resumed file equals the uninterrupted one, every point once"
    [ "$st" -eq 0 ] || sed 's/^/#   /' "$tmp/out"
else
    skip "no h5py" "stexplore-8.6"
fi
run "$EXP" --resume long.lua -o k.h5
has_out "complete already" "stexplore-8.7 resuming a finished sweep does nothing"

# ------------------------------------------------------ a layer list as the network
# A sweep over an imported SCALE-Sim file named from the script's folder (the run starts
# elsewhere). Its dense MACs are worked out here from the file alone: FP and WG every
# row, BP every row but the first, each the taps that fall inside the input (the SCALE-Sim
# output size puts at most one padded row and column at the bottom and right).
mkdir -p csvnet
cp "$ST_SRC/tests/data/topologies/alexnet.csv" csvnet/
cat >csvnet/sweep.lua <<'EOF'
return st.sweep {
  name = "csvnet",
  network = "alexnet.csv",
  params = { p = {0, 0.9}, pe_rows = {8, 16} },
  fixed = { fidelity = "sampled", sample_fraction = 0.1 },
}
EOF
run "$EXP" --progress none csvnet/sweep.lua -o csv.h5
is_status 0 "stexplore-9.1 a sweep whose network is a layer list runs"
has_out "4 points evaluated" "stexplore-9.2 ... and evaluates its 4 points"
want=$(awk -F, 'NR > 1 && NF >= 8 {
        ih = $2; iw = $3; fh = $4; fw = $5; c = $6; n = $7; s = $8
        oh = int((ih - fh + s - 1) / s) + 1; ow = int((iw - fw + s - 1) / s) + 1
        vh = int((ih - fh) / s) + 1; vw = int((iw - fw) / s) + 1
        th = vh * fh + (oh - vh) * (ih - vh * s); tw = vw * fw + (ow - vw) * (iw - vw * s)
        t += (rows++ ? 3 : 2) * th * tw * c * n
    } END { printf "%.0f", t }' csvnet/alexnet.csv)
if [ -x "$PY" ] && "$PY" -c 'import h5py, numpy' 2>/dev/null; then
    ok_cmd "stexplore-9.3 every point's dense MACs are the file's count, $want; BP runs" \
        "$PY" - "$want" "$tmp/csvnet/alexnet.csv" <<'PYEOF'
import sys, h5py, numpy as np
want, path = int(sys.argv[1]), sys.argv[2]
with h5py.File("csv.h5", "r") as f:
    assert f.attrs["points"] == 4
    assert np.all(f["metrics/dense_macs"][()] == want), (f["metrics/dense_macs"][()], want)
    assert np.all(f["metrics/dense_cycles_bp"][()] > 0)
    net = f["network"]
    src = net.attrs["source"]
    src = src.decode() if isinstance(src, bytes) else src
    text = net.attrs["csv_text"]
    text = text.decode() if isinstance(text, bytes) else text
    assert src == "csv", src
    assert text == open(path).read()
PYEOF
else
    skip "no h5py" "stexplore-9.3"
fi
run "$EXP" --check csvnet/sweep.lua
has_out "csv alexnet" "stexplore-9.4 --check describes the network as a layer list"

cat >csvnet/missing.lua <<'EOF'
return st.sweep {
  name = "missing",
  params = { p = {0, 0.5} },
  network = "nowhere.csv",
}
EOF
run "$EXP" --check csvnet/missing.lua
is_status 2 "stexplore-9.5 a missing layer list exits 2"
has_err "missing.lua:4: network = 'nowhere.csv': csvnet/nowhere.csv: cannot open" \
    "stexplore-9.6 ... naming the script line, the file and the reason"
printf 'Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nc1,8,8,3,3,4,8,1,\nc2,6,6,9,9,8,8,1,\n' >csvnet/bad.csv
sed 's/nowhere.csv/bad.csv/' csvnet/missing.lua >csvnet/bad.lua
run "$EXP" --check csvnet/bad.lua
is_status 2 "stexplore-9.7 a malformed layer list exits 2"
has_err "csvnet/bad.csv:3: field 'Filter Height' = 9 is larger than 'IFMAP Height' = 6" \
    "stexplore-9.8 ... naming the file, line and field"

tap_end
