#!/bin/sh
# stparams.t - docs/parameters.md is the parameter table's page: stparams regenerates it
# and any difference fails, naming the first line that differs.
. "${ST_SRC:-.}/tests/prog/tap.sh"

STPARAMS="$ST_BUILD/bin/stparams"
DOC="$ST_SRC/docs/parameters.md"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

plan 6

run "$STPARAMS"
is_status 0 "stparams-1.1 stparams exits 0"
# The first line where the two texts differ (or where one ends), 0 when they are equal
# byte for byte; a difference awk cannot see (a line ending) counts at the last line.
first=0
cmp -s "$tmp/out" "$DOC" || first=$(awk 'NR == FNR { a[FNR] = $0; na = FNR; next }
             { nb = FNR; if (!d && (FNR > na || a[FNR] != $0)) d = FNR }
             END { if (!d && na != nb) d = (na < nb ? na : nb) + 1; print d + 0 }' \
    "$tmp/out" "$DOC")
[ "$first" -eq 0 ] && ! cmp -s "$tmp/out" "$DOC" && first=$(wc -l <"$DOC")
ok_ "$([ "$first" -eq 0 ]; echo $?)" \
    "stparams-1.2 docs/parameters.md equals the output of stparams (first differing line: $first)"
if [ "$first" -ne 0 ]; then
    echo "#   docs/parameters.md:$first: $(sed -n "${first}p" "$DOC")"
    echo "#   stparams output:$first: $(sed -n "${first}p" "$tmp/out")"
    echo "#   regenerate: build/bin/stparams > docs/parameters.md"
fi
rows=$(grep -c '^| `' "$tmp/out")
ok_cmd "stparams-1.3 one table line per parameter ($rows)" test "$rows" -ge 40
# Every row's name and default appear in stsim --help, which lays out the same table its
# own way: the page is not shifted or cut.
run "$ST_BUILD/bin/stsim" --help
cp "$tmp/out" "$tmp/help"
"$STPARAMS" | awk -F' [|] ' '/^\| `/ { gsub(/`/, "", $1); sub(/^\| /, "", $1); print $1, $4 }' \
    >"$tmp/pairs"
missing=$(while read -r name def; do
    grep -Eq "^  $name +[^ ]+ +$def " "$tmp/help" || echo "$name"
done <"$tmp/pairs" | head -3)
ok_cmd "stparams-1.4 every name and default matches stsim --help${missing:+ (not: $missing)}" \
    test -z "$missing"

run "$STPARAMS" --markdown
is_status 2 "stparams-2.1 an argument exits 2"
has_err "takes no arguments" "stparams-2.2 the message says the program takes no arguments"
tap_end
