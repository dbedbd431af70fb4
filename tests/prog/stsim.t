#!/bin/sh
# stsim.t - the one-point simulator as a user runs it: --help from the
# parameter table, human and JSON output, and every kind of bad input.
. "${ST_SRC:-.}/tests/prog/tap.sh"

STSIM="$ST_BUILD/bin/stsim"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

plan 33

run "$STSIM" --help
is_status 0 "stsim-1.1 --help exits 0"
has_out "pe_rows" "stsim-1.2 --help lists pe_rows"
has_out "[1, 4096]" "stsim-1.3 --help shows ranges"
has_out "lockstep, fifo" "stsim-1.4 --help shows the choices of an enumeration"
has_out "(0, 65536]" "stsim-1.5 --help shows open bounds as open"

run "$STSIM" fmnist-cnn p=0.9
is_status 0 "stsim-2.1 a small network runs"
has_out "speedup" "stsim-2.2 the table reports the speedup"
has_out "conv1" "stsim-2.3 the table names the layers"

# JSON, read back by the system Python: totals agree with the layers.
run "$STSIM" fmnist-resnet --json p=0.9 pe_rows=8 --sync fifo
is_status 0 "stsim-3.1 --json with name=value and --name value exits 0"
if [ -x /usr/bin/python3 ]; then
    cp "$tmp/out" "$tmp/sim.json"
    ok_cmd "stsim-3.2 the JSON parses and its totals are the sums over layers and phases" \
        /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["point"]["pe_rows"] == 8 and d["point"]["sync"] == "fifo", d["point"]
t = d["total"]["run"]
cyc = sum(l[ph]["run"]["cycles"] for l in d["layers"] for ph in ("fp", "bp", "wg"))
mac = sum(l[ph]["run"]["useful_macs"] for l in d["layers"] for ph in ("fp", "bp", "wg"))
assert cyc == t["cycles"], (cyc, t["cycles"])
assert mac == t["useful_macs"]
e = sum(t["energy_breakdown_pj"].values())
assert abs(e - t["energy_pj"]) <= 1e-6 * e
dense = d["total"]["dense"]["cycles"]
assert abs(d["total"]["speedup"] - dense / t["cycles"]) < 1e-6
' "$tmp/sim.json"
else
    skip "no /usr/bin/python3" "stsim-3.2"
fi

run "$STSIM" resnet18 pe_row=3
is_status 2 "stsim-4.1 an unknown parameter exits 2"
has_err "did you mean 'pe_rows'" "stsim-4.2 ... and suggests the near name"
run "$STSIM" resnet18 pe_rows=0
is_status 2 "stsim-4.3 a value out of range exits 2"
has_err "pe_rows = 0: must be in [1, 4096]" "stsim-4.4 ... naming the parameter, value and range"
run "$STSIM" resnet18 pe_rows=2.5
is_status 2 "stsim-4.5 a value of the wrong type exits 2"
has_err "whole number" "stsim-4.6 ... saying what type is wanted"
run "$STSIM" resnet18 sync=fast
is_status 2 "stsim-4.7 an unknown choice exits 2"
run "$STSIM" resnet18 p=1
is_status 2 "stsim-4.8 p = 1 exits 2"
run "$STSIM" resnet19
is_status 2 "stsim-4.9 an unknown network exits 2"
has_err "resnet19" "stsim-4.10 ... and names it"
run "$STSIM" alexnet ch1_kib=0.01
is_status 2 "stsim-4.11 a design that cannot map exits 2"
has_err "ch1_kib" "stsim-4.12 ... naming the buffer that is too small"
run "$STSIM" alexnet --pe_rows
is_status 2 "stsim-4.13 an option without its value exits 2"
run "$STSIM"
is_status 2 "stsim-4.14 no network exits 2"
# A DRAM bandwidth that made a transfer's cycles wrap a 64-bit counter, or
# round to nothing, is out of the physically meaningful range.
for v in 1e-300 1e-15 0.009; do
    run "$STSIM" fmnist-cnn dram_gbps=$v
    is_status 2 "stsim-4.15 dram_gbps = $v exits 2"
    has_err "dram_gbps = $v: must be in [0.01, 10000]" "stsim-4.16 ... naming the range"
done

# An imported layer list is a chain: every row but the first has BP, and its dense BP MACs
# are SCALE-Sim's count oh*ow*fh*fw*c*n of the row less the taps on the bottom/right
# padding, which this awk works out from the file itself.
run "$STSIM" "$ST_SRC/tests/data/topologies/Resnet18.csv" --json batch=2 p=0.9
is_status 0 "stsim-5.1 a SCALE-Sim layer list runs"
cp "$tmp/out" "$tmp/csv.json"
awk -F, 'NR > 1 && NF >= 8 {
        ih = $2; iw = $3; fh = $4; fw = $5; c = $6; n = $7; s = $8
        oh = int((ih - fh + s - 1) / s) + 1; ow = int((iw - fw + s - 1) / s) + 1
        # outputs whose window lies inside the input, and the taps left inside for the one
        # padded row (column) beyond them: per axis vh * fh + (oh - vh) * (ih - vh * s)
        vh = int((ih - fh) / s) + 1; vw = int((iw - fw) / s) + 1
        th = vh * fh + (oh - vh) * (ih - vh * s); tw = vw * fw + (ow - vw) * (iw - vw * s)
        taps = th * tw
        printf "%.0f\n", (rows++ ? 2 * taps * c * n : 0)
    }' "$ST_SRC/tests/data/topologies/Resnet18.csv" >"$tmp/want"
/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("\n".join(str(l["bp"]["dense"]["dense_macs"]) for l in d["layers"]))
' "$tmp/csv.json" >"$tmp/got"
ok_cmd "stsim-5.2 dense BP MACs per row: none for the first, the valid count x 2 for the others" \
    cmp -s "$tmp/want" "$tmp/got"
cmp -s "$tmp/want" "$tmp/got" || paste "$tmp/want" "$tmp/got" | sed 's/^/#   want, got: /'
ok_cmd "stsim-5.3 at p = 0.9 the imported list gains energy (> 1) and its BP runs" \
    /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["total"]["energy_gain"] > 1, d["total"]["energy_gain"]
assert sum(l["bp"]["run"]["cycles"] for l in d["layers"]) > 0
' "$tmp/csv.json"
tap_end
