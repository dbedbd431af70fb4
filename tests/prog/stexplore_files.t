#!/bin/sh
# stexplore_files.t - the explorer's files under hostile conditions: a full disk while the
# result file or the journal is written (on a small tmpfs, where the test can mount one),
# --force against a live run's files, a second run on a live journal (the message names
# the process), a journal holding a frame twice, and what a resume refuses. Each ends with
# a message naming the file, no crash, and a journal that --resume completes into the file
# an uninterrupted run writes. Last, a module the script requires, or the layer list of
# its network, changes between runs: the resume is refused, naming what changed.
. "${ST_SRC:-.}/tests/prog/tap.sh"

EXP="$ST_BUILD/bin/stexplore"
Q="$ST_BUILD/bin/stquery"
PY=/usr/bin/python3
tmp=$(mktemp -d)
disk="$tmp/disk"
mounted=0
trap '[ $mounted -eq 1 ] && umount "$disk"; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

have_py=0
if [ -x "$PY" ] && "$PY" -c 'import h5py, numpy' 2>/dev/null; then
    have_py=1
fi
same() { # id description A B: the two result files hold the same points
    if [ $have_py -eq 1 ]; then
        run "$PY" "$ST_SRC/tests/prog/h5same.py" "$3" "$4"
        is_status 0 "$1 $2"
        [ "$st" -eq 0 ] || sed 's/^/#   /' "$tmp/out"
    else
        skip "no h5py for /usr/bin/python3" "$1"
    fi
}

cat >grid.lua <<'EOF2'
return st.sweep {
  name = "grid", network = "fmnist-cnn", batch = 1, eval = "none",
  params = { pe_rows = st.range(1, 64), pe_cols = st.range(1, 64), p = {0, 0.5} },
}
EOF2
run "$EXP" -q grid.lua -o clean.h5
is_status 0 "files-0.1 the uninterrupted run"

# --------------------------------------------------------------- a full disk
# A tmpfs of 160 KiB holds the journal and one empty result file (89 KiB), not a second:
# the first snapshot after a batch fails inside HDF5. 50 KiB fails the first snapshot,
# 300 KiB the journal (its records are larger than the compressed file).
if [ "$(id -u)" -ne 0 ]; then
    why="not root: cannot mount a small tmpfs"
elif ! mkdir -p "$disk" || ! mount -t tmpfs -o size=160k tmpfs "$disk" 2>"$tmp/mnt"; then
    why="cannot mount a tmpfs here ($(head -1 "$tmp/mnt"))"
else
    mounted=1
    why=""
fi
if [ -n "$why" ]; then
    for id in 1.1 1.2 1.3 1.4 1.5 1.6 1.7 1.8 1.9 1.10 1.11 2.1 2.2 2.3 2.4 3.1 3.2 3.3 3.4; do
        skip "$why" "files-$id"
    done
else
    run "$EXP" --progress none --snapshot 0 --batch 16 grid.lua -o "$disk/r.h5"
    is_status 1 "files-1.1 a full disk while the result file is written: status 1, no crash"
    has_err "cannot write $disk/r.h5.tmp" "files-1.2 ... the message names the file"
    has_err "No space left on device" "files-1.3 ... and the system's reason"
    [ ! -e "$disk/r.h5.tmp" ] && [ -f "$disk/r.h5.journal" ]
    ok_ $? "files-1.4 ... the temporary file is gone, the journal is there"
    if [ $have_py -eq 1 ]; then
        ok_cmd "files-1.5 ... and the result file on disk is the last whole snapshot" "$PY" -c '
import h5py, sys
with h5py.File(sys.argv[1], "r") as f:
    assert f.attrs["complete"] == 0 and f["points/id"].shape[0] == f.attrs["points"]' "$disk/r.h5"
    else
        skip "no h5py" "files-1.5"
    fi
    mount -o remount,size=20m "$disk"
    run "$EXP" -q --resume grid.lua -o "$disk/r.h5"
    is_status 0 "files-1.6 with room again, --resume completes the sweep"
    same files-1.7 "... into the file of the uninterrupted run" clean.h5 "$disk/r.h5"

    # The same under mpirun: rank 0 writes, and every rank ends.
    rm -f "$disk"/r.h5*
    mount -o remount,size=160k "$disk"
    if command -v mpirun >/dev/null 2>&1; then
        run env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
            OMPI_MCA_btl_vader_single_copy_mechanism=none \
            ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
            mpirun --oversubscribe -np 2 "$EXP" --progress none --snapshot 0 --batch 16 grid.lua \
            -o "$disk/r.h5"
        is_status 1 "files-1.8 a full disk under mpirun -np 2: status 1, no crash"
        has_err "cannot write $disk/r.h5.tmp: No space left on device" "files-1.9 ... and the message"
        mount -o remount,size=20m "$disk"
        run env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
            OMPI_MCA_btl_vader_single_copy_mechanism=none \
            ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
            mpirun --oversubscribe -np 2 "$EXP" -q --resume grid.lua -o "$disk/r.h5"
        is_status 0 "files-1.10 --resume under mpirun completes it"
        if [ $have_py -eq 1 ]; then
            run "$PY" "$ST_SRC/tests/prog/h5same.py" --ranks clean.h5 "$disk/r.h5"
            is_status 0 "files-1.11 ... into the file of the uninterrupted run"
        else
            skip "no h5py" "files-1.11"
        fi
    else
        for id in 1.8 1.9 1.10 1.11; do skip "mpirun is not installed" "files-$id"; done
    fi

    rm -f "$disk"/r.h5*
    mount -o remount,size=300k "$disk"
    run "$EXP" --progress none --snapshot 0 --batch 16 grid.lua -o "$disk/r.h5"
    is_status 1 "files-2.1 a full disk while the journal is written: status 1"
    has_err "cannot write $disk/r.h5" "files-2.2 ... naming the file"
    has_err "No space left on device" "files-2.3 ... and the reason"
    mount -o remount,size=20m "$disk"
    run "$EXP" -q --resume grid.lua -o "$disk/r.h5"
    [ "$st" -eq 0 ] && [ ! -e "$disk/r.h5.journal" ]
    ok_ $? "files-2.4 --resume then completes it"

    rm -f "$disk"/r.h5*
    mount -o remount,size=50k "$disk"
    run "$EXP" --progress none grid.lua -o "$disk/r.h5"
    [ "$st" -ne 0 ] && [ "$st" -lt 128 ]
    ok_ $? "files-3.1 no room for the first snapshot: an error, no crash (status $st)"
    has_err "$disk/r.h5" "files-3.2 ... naming the file"
    has_err "No space left on device" "files-3.3 ... and the reason"
    [ -z "$(ls "$disk")" ]
    ok_ $? "files-3.4 ... and a run that never started leaves nothing behind"
    umount "$disk" && mounted=0
fi

# ----------------------------------------------------- a live run and its files
# A sweep slow enough to be caught alive: `keep` spins a little on every point.
cat >slow.lua <<'EOF2'
return st.sweep {
  name = "slow", network = "fmnist-cnn", batch = 1, eval = "none",
  params = { pe_rows = st.range(1, 40), pe_cols = st.range(1, 40) },
  keep = function(m) local x = 0 for i = 1, 20000 do x = x + i end return true end,
}
EOF2
run "$EXP" -q slow.lua -o slow_clean.h5
is_status 0 "files-4.1 the slow sweep runs alone"
"$EXP" -q --batch 4 --snapshot 0.05 slow.lua -o live.h5 2>live.err &
pid=$!
n=0
while [ $n -lt 500 ] && ! [ -s live.h5.journal ]; do
    sleep 0.01
    n=$((n + 1))
done
run "$EXP" -q --force slow.lua -o live.h5
is_status 2 "files-4.2 --force on a live run's files is refused (status 2)"
has_err "is locked by process $pid on $(hostname)" "files-4.3 ... naming the process that holds them"
has_err "--force will not start over" "files-4.4 ... and saying --force did nothing"
run "$EXP" -q --resume slow.lua -o live.h5
is_status 2 "files-4.5 --resume of a live run is refused too"
has_err "cannot resume: live.h5.journal is locked by process $pid on $(hostname)" \
    "files-4.6 ... in a message that says it once, with the process"
if grep -q "cannot resume: cannot resume" "$tmp/err"; then r=1; else r=0; fi
ok_ $r "files-4.7 ... not garbled"
wait $pid
st=$?
[ $st -eq 0 ] && [ ! -e live.h5.journal ]
ok_ $? "files-4.8 the live run finishes undisturbed (status $st)"
same files-4.9 "... with every point" slow_clean.h5 live.h5

# --------------------------------------------------- a journal with a frame twice
# Kill a run once its journal has frames, copy a whole frame to its end, and resume.
"$EXP" -q --batch 4 --snapshot 0.05 slow.lua -o twice.h5 2>/dev/null &
pid=$!
n=0
while [ $n -lt 500 ]; do
    s=$(stat -c %s twice.h5.journal 2>/dev/null || echo 0)
    [ "$s" -gt 20000 ] && break
    sleep 0.01
    n=$((n + 1))
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
if [ $have_py -eq 1 ]; then
    # head: magic, 4 x u32, i64 started, u64 script_len, u64 space_len, texts, u64 sum;
    # frame: 48-byte header (payload length at 40), payload, u64 checksum.
    ok_cmd "files-5.1 a whole frame of the journal is appended a second time" "$PY" -c '
import struct, sys
b = open(sys.argv[1], "rb").read()
ls, lp = struct.unpack_from("<QQ", b, 32)
off = 48 + ls + lp + 8
frames = []
while off + 48 <= len(b):
    plen = struct.unpack_from("<Q", b, off + 40)[0]
    if off + 48 + plen + 8 > len(b):
        break
    frames.append(b[off:off + 48 + plen + 8])
    off += 48 + plen + 8
assert len(frames) >= 2, len(frames)
open(sys.argv[1], "wb").write(b[:off] + frames[1])' twice.h5.journal
    run "$EXP" --progress log --resume slow.lua -o twice.h5
    is_status 0 "files-5.2 the sweep resumes"
    has_err "1 repeated frames of the journal skipped" "files-5.3 ... saying it skipped the copy"
    same files-5.4 "... and the file holds every point once, as the uninterrupted run" \
        slow_clean.h5 twice.h5
else
    for id in 5.1 5.2 5.3 5.4; do skip "no h5py" "files-$id"; done
fi

# A resume with no journal where one is needed, and a damaged journal: refused, once.
run "$EXP" --resume slow.lua -o slow_clean.h5
has_out "complete already" "files-6.1 resuming a complete file does nothing"
printf 'STXJRNL1 and then garbage' >bad.h5.journal
run "$EXP" -q --resume slow.lua -o bad.h5
is_status 2 "files-6.2 a damaged journal is refused"
has_err "cannot resume: bad.h5.journal is not a stexplore journal" "files-6.3 ... in a message naming it once"
if grep -q "cannot resume: cannot resume" "$tmp/err"; then r=1; else r=0; fi
ok_ $r "files-6.4 ... not garbled"

# ------------------------------------------------- what the script requires
# The keep threshold lives in a module, which requires another: a change in either, after
# a kill, must make --resume refuse (it would mix two thresholds in one file).
mkdir -p dep
cat >dep/inner.lua <<'EOF2'
return { spin = 20000 }
EOF2
cat >dep/lib_keep.lua <<'EOF2'
local inner = require "inner"
return { threshold = 1.1, spin = inner.spin }
EOF2
cat >dep/dep.lua <<'EOF2'
local lib = require "lib_keep"
return st.sweep {
  name = "dep", network = "fmnist-cnn", batch = 1,
  params = { pe_rows = st.range(1, 12), pe_cols = st.range(1, 12), p = {0, 0.9} },
  fixed = { fidelity = "sampled", sample_fraction = 0.05 },
  keep = function(m) local x = 0 for i = 1, lib.spin do x = x + i end
                     return m.speedup > lib.threshold end,
}
EOF2
run "$EXP" --check dep/dep.lua
has_out "requires lib_keep: " "files-7.1 --check lists the required modules with their hashes"
has_out "requires inner: " "files-7.2 ... also those that modules require"
run "$EXP" -q dep/dep.lua -o dep_clean.h5
is_status 0 "files-7.3 the sweep with modules runs"
"$EXP" -q --batch 2 --snapshot 0.05 dep/dep.lua -o dep.h5 2>/dev/null &
pid=$!
n=0
while [ $n -lt 500 ]; do
    s=$(stat -c %s dep.h5.journal 2>/dev/null || echo 0)
    [ "$s" -gt 8000 ] && break
    sleep 0.01
    n=$((n + 1))
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -f dep.h5.journal ]
ok_ $? "files-7.4 the run is killed in the middle"
cp dep/lib_keep.lua lib_keep.orig
sed -i 's/threshold = 1.1/threshold = 1.3/' dep/lib_keep.lua
js=$(stat -c %s dep.h5.journal)
run "$EXP" -q --resume dep/dep.lua -o dep.h5
is_status 2 "files-7.5 a changed module: --resume refuses"
has_err "the modules the script requires have changed since" "files-7.6 ... saying why"
has_err "requires lib_keep: " "files-7.7 ... naming the module"
[ "$(stat -c %s dep.h5.journal)" -eq "$js" ]
ok_ $? "files-7.8 ... and leaves the journal as it was"
cp lib_keep.orig dep/lib_keep.lua
sed -i 's/spin = 20000/spin = 20001/' dep/inner.lua
run "$EXP" -q --resume dep/dep.lua -o dep.h5
is_status 2 "files-7.9 a changed module of a module: refused too"
has_err "requires inner: " "files-7.10 ... naming it"
sed -i 's/spin = 20001/spin = 20000/' dep/inner.lua
run "$EXP" -q --resume dep/dep.lua -o dep.h5
is_status 0 "files-7.11 the modules as they were: --resume completes"
same files-7.12 "... into the file of the uninterrupted run" dep_clean.h5 dep.h5
if [ $have_py -eq 1 ]; then
    ok_cmd "files-7.13 the file records the modules' hashes in provenance/space" "$PY" -c '
import h5py, sys
with h5py.File("dep.h5", "r") as f:
    s = f["provenance"].attrs["space"]
    s = s.decode() if isinstance(s, bytes) else s
    assert "requires lib_keep: " in s and "requires inner: " in s, s'
else
    skip "no h5py" "files-7.13"
fi
# A module required only once the sweep runs could not have been checked: an error.
cat >dep/late.lua <<'EOF2'
return st.sweep {
  name = "late", network = "fmnist-cnn", batch = 1, eval = "none",
  params = { pe_rows = {4, 8} },
  keep = function(m) return require("lib_keep").threshold > 1 end,
}
EOF2
run "$EXP" -q dep/late.lua -o late.h5
[ "$st" -ne 0 ]
ok_ $? "files-7.14 require inside keep fails the run"
has_err "require 'lib_keep' while the sweep runs: require modules when the script is loaded" \
    "files-7.15 ... saying to require at the top level"

# Under --trust, Lua's own require finds modules on package.path (LUA_PATH): they are
# fingerprinted as well.
cat >dep/trusted.lua <<'EOF2'
local lib = require "lib_keep"
return st.sweep { name = "trusted", network = "fmnist-cnn", batch = 1, eval = "none",
  params = { pe_rows = {4, 8} }, keep = function(m) return lib.threshold > 1 end }
EOF2
run env LUA_PATH="$tmp/dep/?.lua;;" "$EXP" -q --trust dep/trusted.lua -o trusted.h5
is_status 0 "files-7.16 under --trust, a module from LUA_PATH"
sed -i 's/threshold = 1.1/threshold = 1.2/' dep/lib_keep.lua
run env LUA_PATH="$tmp/dep/?.lua;;" "$EXP" -q --trust --resume dep/trusted.lua -o trusted.h5
is_status 2 "files-7.17 ... changed: --resume refuses"
has_err "the modules the script requires have changed since" "files-7.18 ... saying why"
cp lib_keep.orig dep/lib_keep.lua

# A network read from a layer list: a change in the file that changes the network is
# refused too (its structure is fingerprinted in the description).
mkdir -p csvnet
cp "$ST_SRC/tests/data/topologies/alexnet.csv" csvnet/
cat >csvnet/sweep.lua <<'EOF2'
return st.sweep { name = "csvnet", network = "alexnet.csv", batch = 1, eval = "none",
  params = { pe_rows = {4, 8} } }
EOF2
run "$EXP" -q csvnet/sweep.lua -o csv.h5
is_status 0 "files-8.1 a sweep over a layer list"
sed -i '2s/,96 /,95 /' csvnet/alexnet.csv
run "$EXP" -q --resume csvnet/sweep.lua -o csv.h5
is_status 2 "files-8.2 the layer list changed (96 filters become 95): --resume refuses"
has_err "cannot resume csv.h5: the network has changed since" "files-8.3 ... saying the network changed"

plan "$tap_n"
tap_end
