#!/bin/sh
# stnet.t - the workload-table program as a user runs it: help, tables,
# machine output, and every kind of bad input (message, exit status 2).
. "${ST_SRC:-.}/tests/prog/tap.sh"

STNET="$ST_BUILD/bin/stnet"
TOPO="$ST_SRC/tests/data/topologies"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

plan 29

run "$STNET" --help
is_status 0 "stnet-1.1 --help exits 0"
has_out "--p P" "stnet-1.2 --help documents --p"
has_out "resnet50" "stnet-1.3 --help lists the built-in networks"

run "$STNET" resnet18
is_status 0 "stnet-2.1 resnet18 table exits 0"
has_out "conv1" "stnet-2.2 table names the first layer"
# The default p is the parameter table's, 0 (docs/parameters.md): nothing is pruned, so
# every layer's dZ density equals its natural density.
has_out "p = 0," "stnet-2.3 the default pruning rate is the table's p = 0"
run "$STNET" --csv fmnist-cnn
ok_cmd "stnet-2.4 at the default p, dZ density = natural dZ density in every layer" \
    awk -F, 'NR > 1 && $16 != $17 { bad = 1 } NR > 1 { n++ } END { exit bad || n < 2 }' "$tmp/out"

# The FP total of ResNet-18 at 224x224: 1.81 GMAC in torchvision's model
# table (its "GFLOPS" column counts multiply-accumulates).
run "$STNET" --csv --p 0.5 resnet18
is_status 0 "stnet-3.1 --csv exits 0"
fp=$(awk -F, 'NR > 1 { s += $12 } END { printf "%d", s }' "$tmp/out")
ok_cmd "stnet-3.2 csv FP MACs sum to 1.81e9 +- 0.005e9 (got $fp)" \
    awk -v v="$fp" 'BEGIN { exit !(v > 1.805e9 && v < 1.815e9) }'
bp1=$(awk -F, '$1 == "conv1" { print $13 }' "$tmp/out")
ok_cmd "stnet-3.3 the first layer has no BP MACs (got '$bp1')" test "$bp1" = 0
ok_cmd "stnet-3.4 every density is in [0, 1]" \
    awk -F, 'NR > 1 && ($15 < 0 || $15 > 1 || $16 < 0 || $16 > 1 || $17 < 0 || $17 > 1) { bad = 1 } END { exit bad }' "$tmp/out"

run "$STNET" resnet19
is_status 2 "stnet-4.1 unknown network exits 2"
has_err "resnet19" "stnet-4.2 the message names the unknown network"

run "$STNET" --p 1 resnet18
is_status 2 "stnet-4.3 p = 1 exits 2"
has_err "p = 1" "stnet-4.4 the message names p and its value"

run "$STNET" --p -0.1 resnet18
is_status 2 "stnet-4.5 p < 0 exits 2"

run "$STNET" --batch 0 resnet18
is_status 2 "stnet-4.6 batch 0 exits 2"

run "$STNET" --law cauchy resnet18
is_status 2 "stnet-4.7 an unknown law exits 2"
has_err "grad_law = 'cauchy': must be one of normal, laplace, lognormal" \
    "stnet-4.8 the message is the table's, naming grad_law and the value"

run "$STNET" --seed 2147483648 resnet18
is_status 2 "stnet-4.9 a seed above the table's bound exits 2"
has_err "seed = 2147483648: must be in [0, 2147483647]" "stnet-4.10 the message gives the table's range"

printf 'Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nc1,8,8,3,3,4,8,0,\n' >"$tmp/stride0.csv"
run "$STNET" "$tmp/stride0.csv"
is_status 2 "stnet-5.1 a layer list with stride 0 exits 2"
has_err "stride0.csv:2" "stnet-5.2 the message names the file and line"

printf 'Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nc1,8,8,9,9,4,8,1,\n' >"$tmp/big.csv"
run "$STNET" "$tmp/big.csv"
is_status 2 "stnet-5.3 a kernel larger than the input exits 2"

printf 'Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nc1,8,8,3,3,0,8,1,\n' >"$tmp/zero.csv"
run "$STNET" "$tmp/zero.csv"
is_status 2 "stnet-5.5 a layer list with zero channels exits 2"
has_err "Channels" "stnet-5.6 the message names the field"

run "$STNET" "$tmp/none.csv"
is_status 2 "stnet-5.4 a missing layer list exits 2"

run "$STNET" "$TOPO/Resnet18.csv"
is_status 0 "stnet-6.1 a SCALE-Sim layer list prints its table"
run "$STNET" --list
has_out "fmnist-resnet" "stnet-6.2 --list names the small residual network"
tap_end
