#!/bin/sh
# hostile.t - the programs against a hostile user (docs/hardening.md): stsim never prints
# NaN or infinity and its JSON always parses, whatever the parameters; changed helper
# tables, escapes from the instruction budget and endless loops in stexplore and stquery
# lua, with one process and under mpirun; stops by SIGINT, SIGTERM and SIGHUP within a
# second, exiting 130 through hpc/local.sh, hpc/pbs.sh and hpc/slurm.sh, whose
# resubmission is checked with stand-ins for qsub and sbatch; domains of 10^6 and 10^7
# values; the messages of the smaller cases. Parts that need mpirun or h5py skip without.
. "${ST_SRC:-.}/tests/prog/tap.sh"

STSIM="$ST_BUILD/bin/stsim"
EXP="$ST_BUILD/bin/stexplore"
STQ="$ST_BUILD/bin/stquery"
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
MPI="mpirun --oversubscribe -np"
have_mpi=0
command -v mpirun >/dev/null 2>&1 && have_mpi=1
have_h5py=0
"$PY" -c 'import h5py' 2>/dev/null && have_h5py=1

plan 55

# now: seconds since the epoch with nanoseconds; since T0: seconds elapsed.
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
within() { awk -v t="$1" -v m="$2" 'BEGIN { exit !(t <= m) }'; }

# bg CMD...: start CMD in the background with SIGINT and SIGQUIT at their defaults (a
# non-interactive shell starts background jobs with them ignored, and an ignored signal
# stays ignored across exec: without this, SIGINT could not reach them).
bg() {
    perl -e '$SIG{INT} = "DEFAULT"; $SIG{QUIT} = "DEFAULT"; exec @ARGV or die "exec: $!"' \
        "$@" >"$tmp/bg.out" 2>"$tmp/bg.err" &
    pid=$!
}

# stop_after SECONDS SIG: send SIG to $pid after SECONDS, wait for it; $st is its status
# and $took the seconds from the signal to its end.
stop_after() {
    sleep "$1"
    t0=$(now)
    kill -"$2" $pid
    st=0
    wait $pid || st=$?
    took=$(since "$t0")
}

# --------------------------------------------------------------- 1. no NaN, valid JSON
run "$STSIM" fmnist-cnn sram_ref_kib=5e-324 --json
is_status 2 "hostile-1.1 stsim sram_ref_kib=5e-324 --json is refused (it printed -nan)"
has_err "sram_ref_kib = 5e-324: must be in [0.0625, 65536]" "hostile-1.2 ... naming the range"
[ ! -s "$tmp/out" ]
ok_ $? "hostile-1.3 ... with nothing on stdout"
run "$STSIM" fmnist-cnn e_mac_pj=0 e_reg_pj=0 e_sram_ref_pj=0 e_dram_pj_per_bit=0 \
    leak_mw_per_kib=0 leak_mw_per_mm2=0 --json
is_status 2 "hostile-1.4 a point whose energy is 0 has no gain to print (0/0)"
has_err "energy_gain is 0/0" "hostile-1.5 ... and says so"
# Every real and whole-number parameter at each end of its range, and just inside an open
# end, as JSON and as text: either status 0 with JSON that parses (NaN and Infinity
# refused) and text without nan or inf, or status 2 with a message and no output.
"$STSIM" --help >help.txt
cat >edges.py <<'EOF2'
import json, re, subprocess, sys
stsim = sys.argv[1]
rows = re.findall(r"^  (\w+) +\S+ +\S+ +([\[(])([-\d.e+]+), ([-\d.e+]+)([\])])$",
                  open("help.txt").read(), re.M)
bad, runs = [], 0
def refuse(c):
    raise ValueError("not JSON: " + c)
for name, lb, lo, hi, hb in rows:
    lo, hi = float(lo), float(hi)
    # batch at 65536 images only takes long (a minute): its figures scale with it.
    vals = [hi if hb == "]" else hi * (1 - 1e-12)] if name != "batch" else [4096]
    vals.append(lo if lb == "[" else (5e-324 if lo == 0 else lo * (1 + 1e-12)))
    vals.append(lo + (hi - lo) * 1e-9)
    for v in vals:
        for js in (True, False):
            args = [stsim, "fmnist-cnn", "--no-layers", "%s=%r" % (name, v)] + (["--json"] if js else [])
            p = subprocess.run(args, capture_output=True, text=True)
            runs += 1
            if p.returncode == 0:
                try:
                    if js:
                        json.loads(p.stdout, parse_constant=refuse)
                    elif re.search(r"\b(-?nan|-?inf)\b", p.stdout, re.I):
                        raise ValueError("nan or inf in the text")
                except ValueError as e:
                    bad.append("%s=%r: %s" % (name, v, e))
            elif p.returncode != 2 or p.stdout or "stsim: " not in p.stderr:
                bad.append("%s=%r: status %d, stderr %r" % (name, v, p.returncode, p.stderr[:80]))
print("%d parameters, %d runs" % (len(rows), runs))
for b in bad[:10]:
    print("bad:", b)
sys.exit(1 if bad or len(rows) < 30 else 0)
EOF2
if [ -x "$PY" ]; then
    run "$PY" edges.py "$STSIM"
    is_status 0 "hostile-1.6 stsim at the ends of every range: valid JSON or a clean refusal ($(head -1 "$tmp/out"))"
    [ "$st" -eq 0 ] || sed 's/^/#   /' "$tmp/out" | head -12
else
    skip "no /usr/bin/python3" "hostile-1.6 stsim at the ends of every range"
fi

# --------------------------------------------------------------- 2. changed helper tables
cat >tamper.lua <<'EOF2'
local d = st.range(4, 16, 4)
d.kind = nil
return { name = "tamper", network = "fmnist-cnn", eval = "none",
  params = { pe_rows = d } }
EOF2
run "$EXP" -q -o tamper.h5 tamper.lua
is_status 2 "hostile-2.1 a helper table with kind = nil is an error, not a crash"
has_err "tamper.lua:1: pe_rows: the domain's kind = nil" "hostile-2.2 ... naming the line"
[ ! -e tamper.h5 ] && [ ! -e tamper.h5.journal ]
ok_ $? "hostile-2.3 ... and writing nothing"
if [ $have_mpi -eq 1 ]; then
    for np in 1 2 4; do
        run timeout 60 $MPI $np "$EXP" -q -o tamper.h5 tamper.lua
        [ "$st" -eq 2 ] && grep -q "the domain's kind = nil" "$tmp/err" && ! grep -q "Segmentation" "$tmp/err"
        ok_ $? "hostile-2.4.$np ... also under mpirun at $np ranks (status $st)"
    done
else
    for np in 1 2 4; do skip "mpirun is not installed" "hostile-2.4.$np under mpirun"; done
fi

# --------------------------------------------------------------- 3. the budget, stops
cat >escape.lua <<'EOF2'
while true do pcall(function() while true do end end) end
EOF2
t0=$(now)
run timeout 60 "$EXP" --check --max-instructions 10000000 escape.lua
is_status 2 "hostile-3.1 while true do pcall(<endless loop>) end meets the budget ($(since "$t0") s)"
has_err "escape.lua:1: instruction budget of 10000000 exceeded" "hostile-3.2 ... with its line"
cat >keep.lua <<'EOF2'
return { name = "keep", network = "fmnist-cnn", params = { pe_rows = {4, 8} },
  keep = function(m, p) while true do pcall(function() while true do end end) end end }
EOF2
run timeout 60 "$EXP" -q --max-instructions 10000000 -o keep.h5 keep.lua
is_status 2 "hostile-3.3 ... also inside keep"
has_err "instruction budget of 10000000 exceeded" "hostile-3.4 ... saying so"
[ ! -e keep.h5 ] && [ ! -e keep.h5.journal ]
ok_ $? "hostile-3.5 ... and leaving no file, as no point was saved"
if [ $have_mpi -eq 1 ]; then
    run timeout 60 $MPI 2 "$EXP" -q --max-instructions 10000000 -o keep.h5 keep.lua
    is_status 2 "hostile-3.6 ... also under mpirun at 2 ranks"
else
    skip "mpirun is not installed" "hostile-3.6 keep under mpirun"
fi
run timeout 60 "$STQ" lua --max-instructions 10000000 escape.lua
is_status 2 "hostile-3.7 stquery lua: the same escape meets the budget"
has_err "instruction budget of 10000000 exceeded" "hostile-3.8 ... saying so"
cat >gc.lua <<'EOF2'
setmetatable({}, {__gc = function() while true do end end})
EOF2
run timeout 60 "$STQ" lua gc.lua
is_status 2 "hostile-3.9 stquery lua: a __gc finalizer is refused"
has_err "gc.lua:1: setmetatable: a __gc metamethod is not available in the sandbox" \
    "hostile-3.10 ... saying why"
cat >pat.lua <<'EOF2'
return string.rep("a", 1e6):find(".-b")
EOF2
t0=$(now)
run timeout 60 "$EXP" --check pat.lua
is_status 2 "hostile-3.11 string.rep('a', 1e6):find('.-b') is refused at once ($(since "$t0") s)"
has_err "pat.lua:1: string.find: the pattern '.-b' may need up to 1e+12 steps" \
    "hostile-3.12 ... naming the pattern and the bound"

# Stops inside Lua: the budget set far away, so only the signal can end the loop.
cat >spin.lua <<'EOF2'
while true do pcall(function() while true do end end) end
EOF2
cat >spinwhere.lua <<'EOF2'
return { name = "spinwhere", network = "fmnist-cnn", params = { pe_rows = {4, 8} },
  where = function(p) while true do pcall(function() while true do end end) end end }
EOF2
for sig in INT TERM; do
    bg "$EXP" --max-instructions 1000000000000000 spin.lua
    stop_after 0.5 $sig
    [ "$st" -eq 130 ] && within "$took" 1
    ok_ $? "hostile-3.13.$sig SIG$sig stops the script's main chunk within a second (status $st, $took s)"
    bg "$EXP" --max-instructions 1000000000000000 -o spinwhere.h5 spinwhere.lua
    stop_after 0.5 $sig
    [ "$st" -eq 130 ] && within "$took" 1 && grep -q "resume" "$tmp/bg.err"
    ok_ $? "hostile-3.14.$sig ... and where, saying to resume (status $st, $took s)"
    rm -f spinwhere.h5 spinwhere.h5.journal
done
bg "$STQ" lua --max-instructions 1000000000000000 spin.lua
stop_after 0.5 INT
[ "$st" -eq 130 ] && within "$took" 1
ok_ $? "hostile-3.15 SIGINT stops stquery lua within a second (status $st, $took s)"

# --------------------------------------------------------------- 4. large domains
cat >lin6.lua <<'EOF2'
return { name = "lin6", network = "fmnist-cnn", eval = "none",
  params = { p = st.linspace(0, 0.9, 1e6) } }
EOF2
t0=$(now)
run "$EXP" --check lin6.lua
took=$(since "$t0")
[ "$st" -eq 0 ] && grep -q "candidates: 1000000" "$tmp/out" && within "$took" 1
ok_ $? "hostile-4.1 st.linspace(0, 0.9, 1e6) checks in under a second ($took s)"
sed 's/1e6/1e7/' lin6.lua >lin7.lua
bg "$EXP" --check lin7.lua
stop_after 0.2 INT
[ "$st" -eq 130 ] && within "$took" 1
ok_ $? "hostile-4.2 the expansion of 10^7 values stops on SIGINT within a second (status $st, $took s)"

# --------------------------------------------------------------- 5. exit 130 on every path
# A sweep of some seconds at 2 ranks: long enough to be stopped in the middle.
cat >slow.lua <<'EOF2'
return { name = "slow", network = "alexnet",
  params = { pe_rows = st.range(8, 40), pe_cols = st.range(8, 40) } }
EOF2
# The job scripts' stops are shell, signal and timing behaviour: they run once, on the
# normal build (under the sanitizer each takes the sanitizer's slowdown of a sweep).
sanitized=0
grep -q '^ST_SANITIZE:BOOL=ON' "$ST_BUILD/CMakeCache.txt" 2>/dev/null && sanitized=1
if [ $have_mpi -eq 1 ] && [ $sanitized -eq 0 ]; then
    for sig in INT TERM HUP; do
        rm -f slow.h5 slow.h5.journal
        NP=2 bg "$ST_SRC/hpc/local.sh" --progress none -o slow.h5 slow.lua
        for i in $(seq 1 100); do [ -e slow.h5.journal ] && break; sleep 0.1; done
        stop_after 1 $sig
        [ "$st" -eq 130 ] && [ -e slow.h5.journal ]
        ok_ $? "hostile-5.1.$sig hpc/local.sh at 2 ranks: SIG$sig exits 130 with the journal kept (status $st, $took s)"
    done
    run "$STQ" info slow.h5
    [ "$st" -eq 0 ] && grep -q "incomplete" "$tmp/out"
    ok_ $? "hostile-5.2 ... and the result file it left is readable, marked incomplete"
    # Job scripts, with stand-ins for the batch system that record what they are asked.
    mkdir -p stub
    cat >stub/qsub <<'EOF2'
#!/bin/sh
echo "qsub $*" >>"$STUB_LOG"
EOF2
    cat >stub/qstat <<'EOF2'
#!/bin/sh
exit 1
EOF2
    cat >stub/sbatch <<'EOF2'
#!/bin/sh
echo "sbatch $*" >>"$STUB_LOG"
EOF2
    cat >stub/scontrol <<'EOF2'
#!/bin/sh
exit 1
EOF2
    chmod +x stub/*
    export STUB_LOG="$tmp/stub.log"
    rm -f slow.h5 slow.h5.journal stub.log
    # PBS signals every process of the job at the walltime: the whole process group here.
    # A stop-grace of 0.5 s: mpirun kills the ranks 5 s after the SIGTERM, and rank 0 must
    # have saved by then on a loaded machine.
    PATH="$tmp/stub:$PATH" SCRIPT=slow.lua OUTPUT=slow.h5 STEXPLORE="$EXP" PBS_JOBID=$$ \
        STEXPLORE_ROOT="$ST_SRC" LAUNCH="mpirun --oversubscribe -np 2" OPTIONS="--stop-grace 0.5" \
        setsid bash "$ST_SRC/hpc/pbs.sh" >pbs.out 2>&1 &
    pid=$!
    for i in $(seq 1 100); do [ -e slow.h5.journal ] && break; sleep 0.1; done
    sleep 1
    kill -TERM -$pid
    st=0
    wait $pid || st=$?
    [ "$st" -eq 130 ] && grep -q "qsub -v SCRIPT=slow.lua,OUTPUT=slow.h5,OPTIONS=--stop-grace 0.5,STEXPLORE_LINK=2,STEXPLORE_IDLE=0 .*hpc/pbs.sh" stub.log
    ok_ $? "hostile-5.3 pbs.sh: SIGTERM to the job exits 130 and resubmits (status $st; $(cat stub.log 2>/dev/null))"
    for how in USR1 TERM; do
        rm -f slow.h5 slow.h5.journal stub.log
        PATH="$tmp/stub:$PATH" STEXPLORE="$EXP" STEXPLORE_ROOT="$ST_SRC" SLURM_JOB_ID=$$ \
            LAUNCH="mpirun --oversubscribe -np 2" \
            setsid bash "$ST_SRC/hpc/slurm.sh" --stop-grace 0.5 -o slow.h5 slow.lua >slurm.out 2>&1 &
        pid=$!
        for i in $(seq 1 100); do [ -e slow.h5.journal ] && break; sleep 0.1; done
        sleep 1
        if [ $how = USR1 ]; then
            kill -USR1 $pid # --signal=B:USR1: to the batch shell only
        else
            kill -TERM -$pid # scancel or the time limit: every process of the job
        fi
        st=0
        wait $pid || st=$?
        [ "$st" -eq 130 ] && grep -q "sbatch .*hpc/slurm.sh --stop-grace 0.5 -o slow.h5 slow.lua" stub.log
        ok_ $? "hostile-5.4.$how slurm.sh: SIG$how exits 130 and resubmits (status $st; $(cat stub.log 2>/dev/null))"
    done
    # A stop in the first moments, before mpirun has started the ranks or while they load:
    # mpirun forwarded it to no rank (the sweep ran on to its end) or ended a rank still
    # loading (rank 0 then waited in MPI_Init for ever). local.sh now passes it on once
    # rank 0 has written 'running' to the status file. A watchdog ends a hang.
    for d in 0.05 0.4; do
        rm -f slow5.h5 slow5.h5.journal
        NP=2 bg "$ST_SRC/hpc/local.sh" --progress none -o slow5.h5 slow.lua
        (sleep 120 && pkill -KILL -f -- "-o slow5.h5 slow.lua") >/dev/null 2>&1 &
        dog=$!
        stop_after $d TERM
        kill $dog 2>/dev/null
        [ "$st" -eq 130 ] && within "$took" 110
        ok_ $? "hostile-5.5.$d hpc/local.sh stopped $d s after its start, before the ranks run: exits 130 (status $st, $took s)"
    done
else
    why="mpirun is not installed"
    [ $sanitized -eq 1 ] && why="run on the normal build; this is the sanitizer build"
    for t in 5.1.INT 5.1.TERM 5.1.HUP 5.2 5.3 5.4.USR1 5.4.TERM 5.5.0.05 5.5.0.4; do
        skip "$why" "hostile-$t exit 130 through the job scripts"
    done
fi

# --------------------------------------------------------------- 6. smaller cases
# The status file: 'running' once the ranks run, then the exit status; a path that cannot
# be written is refused before anything runs.
rm -f slow.h5 slow.h5.journal sf
bg "$EXP" --progress none --status-file sf -o slow.h5 slow.lua
for i in $(seq 1 100); do [ -e slow.h5.journal ] && break; sleep 0.1; done
running=$(cat sf 2>/dev/null)
stop_after 0.2 INT
[ "$running" = running ] && [ "$st" -eq 130 ] && [ "$(cat sf)" = 130 ]
ok_ $? "hostile-6.0.1 --status-file: 'running' while the sweep runs ($running), then its status 130 ($(cat sf 2>/dev/null))"
rm -f slow.h5 slow.h5.journal
run "$EXP" --status-file "$tmp/no/such/dir/sf" -o slow.h5 slow.lua
[ "$st" -eq 2 ] && grep -q "stexplore: --status-file $tmp/no/such/dir/sf: cannot write it: No such file or directory" "$tmp/err" &&
    [ ! -e slow.h5 ] && [ ! -e slow.h5.journal ]
ok_ $? "hostile-6.0.2 a --status-file that cannot be written: exit 2 naming it, nothing run or written"
run "$STSIM" fmnist-cnn pe_rows=1e9
is_status 2 "hostile-6.1 stsim pe_rows=1e9 is refused"
has_err "pe_rows = 1e9: must be in [1, 4096]" "hostile-6.2 ... naming the range, not 'whole number'"
cat >derived.lua <<'EOF2'
return { name = "derived", network = "fmnist-cnn", params = { pe_rows = {1, 2} },
  derived = { pe_cols = function(p) return p.pe_rows == 1 and 2^70 or -2^70 end } }
EOF2
run "$EXP" -q -o derived.h5 derived.lua
is_status 0 "hostile-6.3 a derived pe_cols = 2^70 fails its point, not the sweep"
if [ $have_h5py -eq 1 ]; then
    ok_cmd "hostile-6.4 ... stored saturated (2147483647, -2147483648), never wrapped, with the range in /failures" \
        "$PY" -c '
import h5py
f = h5py.File("derived.h5", "r")
assert list(f["params/pe_cols"][:]) == [2147483647, -2147483648], f["params/pe_cols"][:]
m = [x.decode() for x in f["failures/message"][:]]
assert m == ["pe_cols = 1.1805916207174113e+21: must be in [1, 4096]",
             "pe_cols = -1.1805916207174113e+21: must be in [1, 4096]"], m
'
else
    skip "h5py is not installed" "hostile-6.4 the stored derived value"
fi
run "$STQ" export derived.h5 --json
if [ -x "$PY" ]; then
    cp "$tmp/out" export.json
    ok_cmd "hostile-6.5 stquery export --json of failed points (NaN metrics) is valid JSON" \
        "$PY" -c 'import json, sys
def refuse(c): raise ValueError(c)
json.load(open("export.json"), parse_constant=refuse)'
else
    skip "no /usr/bin/python3" "hostile-6.5 stquery export --json"
fi
for hook in 'where = function(p) error("boom") end' 'keep = function(m, p) error("boom") end' \
    'derived = { pe_cols = function(p) error("boom") end }'; do
    printf 'return { name = "err", network = "fmnist-cnn", params = { pe_rows = {4, 8} },\n  %s }\n' \
        "$hook" >err.lua
    run "$EXP" -q -o err.h5 err.lua
    [ "$st" -eq 2 ] && [ ! -e err.h5 ] && [ ! -e err.h5.journal ] && grep -q "err.lua:2: boom" "$tmp/err"
    ok_ $? "hostile-6.6 ${hook%% *}: an error before any point is saved exits 2 and leaves nothing (status $st)"
done
cat >late.lua <<'EOF2'
return { name = "late", network = "fmnist-cnn", params = { pe_rows = st.range(1, 32) },
  where = function(p) if p.pe_rows > 20 then error("late") end return true end }
EOF2
run "$EXP" -q --batch 4 -o late.h5 late.lua
[ "$st" -eq 2 ] && [ -e late.h5.journal ]
ok_ $? "hostile-6.7 an error after points were saved keeps them for --resume (status $st)"
printf 'local t = %s%s\n' "$(printf '%.0s{' $(seq 1 300))" "$(printf '%.0s}' $(seq 1 300))" >deep.lua
run "$EXP" --check deep.lua
is_status 2 "hostile-6.8 tables nested deeper than Lua's parser allows: status 2"
has_err "deep.lua:1: " "hostile-6.9 ... with the script and the line"
cat >nul.lua <<'EOF2'
return { name = "nul", network = "fmnist-cnn", eval = "none",
  fixed = { fidelity = "sampled\0junk" } }
EOF2
run "$EXP" --check nul.lua
is_status 2 "hostile-6.10 fidelity = 'sampled\\0junk' is refused, not cut to 'sampled'"
has_err "nul.lua:2: fidelity = 'sampled\\0junk': must be one of exact, sampled" "hostile-6.11 ... showing the NUL"

tap_end
