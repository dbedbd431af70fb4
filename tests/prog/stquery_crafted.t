#!/bin/sh
# stquery_crafted.t - stquery on hostile result files: craft.py writes one variant of a
# real result per case (attributes and datasets of the wrong type, shape or size, 1 MiB
# texts, repeated ids, statuses and rows out of range); every command must end with its
# output or with a message naming the file (status 2), never a crash, under the normal and
# the sanitizer builds. The cases that must be refused are checked for their message.
. "${ST_SRC:-.}/tests/prog/tap.sh"

EXP="$ST_BUILD/bin/stexplore"
Q="$ST_BUILD/bin/stquery"
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

if ! [ -x "$PY" ] || ! "$PY" -c 'import h5py, numpy' 2>/dev/null; then
    plan 1
    skip "no h5py or numpy for /usr/bin/python3 to craft files with" "crafted-1"
    exit 0
fi

cat >base.lua <<'EOF2'
return st.sweep {
  name = "base", network = "fmnist-cnn", batch = 1, detail = true,
  params = { pe_rows = {4, 8}, pe_cols = {8, 16}, sync = {"lockstep", "fifo"} },
  fixed = { fidelity = "sampled", sample_fraction = 0.1 },
}
EOF2
run "$EXP" -q base.lua -o base.h5
is_status 0 "crafted-0.1 the base file is written"
"$PY" "$ST_SRC/tests/prog/craft.py" base.h5 v >cases.txt
ok_ $? "crafted-0.2 craft.py writes the hostile variants"

# Every command on every variant: status 0 or 2, and a status 2 names the file.
for c in $(cat cases.txt); do
    bad=""
    for cmd in "info" "info --script" "list --columns all" "front --min cycles --min energy_pj" \
        "hv --min cycles --min energy_pj --ref 1e15,1e15" "export --json" "layers --row 0" \
        "ranks --min cycles --max speedup"; do
        run "$Q" $cmd "v/$c.h5"
        if [ "$st" -ne 0 ] && { [ "$st" -ne 2 ] || ! grep -qF "v/$c.h5" "$tmp/err"; }; then
            bad="$bad [$cmd: status $st: $(head -c 200 "$tmp/err" | tr '\n' ' ')]"
        fi
    done
    [ -z "$bad" ]
    ok_ $? "crafted-1.$c every command ends with output or a message naming the file"
    [ -z "$bad" ] || echo "#  $bad"
done

# refused CASE MESSAGE: stquery list refuses the variant with that message.
refused() {
    run "$Q" list "v/$1.h5"
    [ "$st" -eq 2 ] && grep -qF -- "$2" "$tmp/err"
    r=$?
    ok_ $r "crafted-2.$1 refused: $2"
    [ $r -eq 0 ] || sed 's/^/#   /' "$tmp/err" | head -3
}
refused ids_repeat "is at rows 0 and 7: a result file holds every point once"
refused ids_all_same "is at rows 0 and 1: a result file holds every point once"
refused ids_short "/points/id is not an integer column of 8 rows"
refused ids_missing "/points/id is not an integer column of 8 rows"
refused ids_2d "/points/id is not an integer column of 8 rows"
refused index_float "/points/index is not an integer column of 8 rows"
refused status_float_nan "/points/status is not an integer column of 8 rows"
refused status_out_of_range "/points/status is 7 at row 1: must be 0 (ok), 1 (failed) or 2"
refused failures_rows_beyond "/failures/row holds row 1000000000000; the file has 8 points"
refused failures_messages_short "cannot read /failures"
refused format_version_array "format_version is missing or not a single number"
refused metric_2d "/metrics/cycles is not a numeric column of 8 rows"

# What is only unusual is read: an array where one value belongs is left out, long texts
# are cut to the output's bounds, and JSON stays JSON.
run "$Q" info v/prov_script_int_array.h5
is_status 0 "crafted-3.1 an integer array as provenance/script: info still describes the file"
has_out "8: 8 ok" "crafted-3.2 ... with its points"
run "$Q" hv v/unit_huge.h5 --min cycles --min energy_pj --ref 1e15,1e15
is_status 0 "crafted-3.3 1 MiB units: hv answers"
[ "$(head -1 "$tmp/out" | wc -c)" -lt 400 ]
ok_ $? "crafted-3.4 ... on a line cut to its buffer ($(head -1 "$tmp/out" | wc -c) bytes)"
run "$Q" export --json v/unit_huge.h5
ok_cmd "crafted-3.5 ... and export --json is valid JSON with the whole unit" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
u = [c["unit"] for c in d["columns"] if c["name"] == "cycles"][0]
assert len(u) == 1 << 20 and len(d["rows"]) == 8' "$tmp/out"
run "$Q" list v/enum_range_huge.h5 --where "sync = nosuch"
is_status 2 "crafted-3.6 100000 enum choices: a bad filter value is refused"
[ "$(wc -c <"$tmp/err")" -lt 1000 ]
ok_ $? "crafted-3.7 ... with a message cut to its buffer"

plan "$tap_n"
tap_end
