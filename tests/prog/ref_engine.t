#!/bin/sh
# ref_engine.t - the engine against its independent reference: random tiny
# networks, design points and masks (build/tests/ref/ref_dump) recomputed
# step by step from the model of docs/engine.md (tests/ref/ref_engine.py):
# MACs, cycles, stalls, DRAM bytes, loop orders, PEs in use, SRAM accesses,
# energy; one case in four also with pe_subarrays (the mapper may use a
# smaller array).
# REF_CASES (default 600, 200 on the sanitizer build) sets how many cases, REF_SEED (default 1) the first;
# the cases of REF_EXTRA (seeds, default 6318 6430: transfer times that are
# exact integers; 3848: a BP segment of two words followed by a short one;
# 9594: partial sums that go to DRAM between rounds) are added.
. "${ST_SRC:-.}/tests/prog/tap.sh"

DUMP="$ST_BUILD/tests/ref/ref_dump"
REF="$ST_SRC/tests/ref/ref_engine.py"
PY=/usr/bin/python3

if [ ! -x "$PY" ]; then
    echo "1..0 # SKIP /usr/bin/python3 is missing (Debian package python3)"
    exit 0
fi
if [ ! -x "$DUMP" ]; then
    echo "1..1"
    echo "not ok 1 - ref-0.1 $DUMP is built (cmake --build build)"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
st=0
# The sanitizer build looks for memory errors, not for more cases: 200 of them there.
cases=600
grep -q '^ST_SANITIZE:BOOL=ON' "$ST_BUILD/CMakeCache.txt" 2>/dev/null && cases=200
"$DUMP" "${REF_SEED:-1}" "${REF_CASES:-$cases}" >"$tmp/cases.jsonl" 2>"$tmp/err" || st=$?
for seed in ${REF_EXTRA-6318 6430 3848 9594}; do
    [ "$st" -ne 0 ] || "$DUMP" "$seed" >>"$tmp/cases.jsonl" 2>>"$tmp/err" || st=$?
done
if [ "$st" -ne 0 ]; then
    echo "1..1"
    echo "not ok 1 - ref-0.1 ref_dump draws and runs every case (status $st)"
    sed 's/^/#   /' "$tmp/err" | head -5
    exit 1
fi
exec "$PY" "$REF" --tap <"$tmp/cases.jsonl"
