#!/usr/bin/python3
# stsim_files.t - stsim's parameter files (@FILE, --params FILE: name = value lines with #
# and -- comments) give the same point and figures as name=value arguments, in
# command-line order; bad lines are refused with file:line and the value; --csv, the
# per-layer, per-phase report in SCALE-Sim's COMPUTE_REPORT.csv layout, agrees with
# --json layer by layer and with utilisations computed here; --version works on every
# program and names the git revision of the sources.
import csv
import io
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import BIN, SRC, end, ok  # noqa: E402

SIM = os.path.join(BIN, "stsim")


def sim(*args):
    return subprocess.run([SIM] + list(args), capture_output=True, text=True)


PROGS = ["stsim", "stexplore", "stquery", "stnet", "stparams", "sttrain", "stcalib", "bench_sim",
         "bench_front", "bench_sparsity"]
print("1..%d" % (13 + len(PROGS) + 1))
tmp = tempfile.mkdtemp()
os.chdir(tmp)

with open("point.txt", "w") as f:
    f.write("""# a design point, as a sweep's fixed = {...} would write it
pe_rows = 8          # rows of the array
pe_cols=32
-- buffers
ch0_kib = 128,
sync = "fifo"
fidelity = 'sampled'

sample_fraction = 0.2   -- a fifth of the rows
p = 0.9
""")
args = ["pe_rows=8", "pe_cols=32", "ch0_kib=128", "sync=fifo", "fidelity=sampled",
        "sample_fraction=0.2", "p=0.9"]
a = sim("alexnet", "@point.txt", "--json", "--no-layers")
b = sim("alexnet", "--json", "--no-layers", *args)
ja, jb = json.loads(a.stdout or "{}"), json.loads(b.stdout or "{}")
ok(a.returncode == 0 and ja == jb and ja["point"]["pe_cols"] == 32 and
   ja["point"]["sync"] == "fifo" and ja["point"]["sample_fraction"] == 0.2,
   "stsim-files-1.1 @FILE with comments, blank lines, quotes and a trailing comma gives the "
   "point and figures of the same name=value arguments", a.stderr + b.stderr)
c = sim("alexnet", "--params", "point.txt", "--json", "--no-layers")
ok(c.returncode == 0 and json.loads(c.stdout) == ja, "stsim-files-1.2 --params FILE is the same")
d = sim("alexnet", "pe_rows=4", "--params=point.txt", "pe_cols=16", "--json", "--no-layers")
jd = json.loads(d.stdout or "{}")
ok(d.returncode == 0 and jd["point"]["pe_rows"] == 8 and jd["point"]["pe_cols"] == 16,
   "stsim-files-1.3 in command-line order: the file overrides what came before, later "
   "arguments override the file", d.stderr)

bad = [
    ("pe_rows = 8\npe_cols 4\n", r"^stsim: bad\.txt:2: 'pe_cols 4': expected name = value"),
    ("# ok\n\npe_rows = 0\n", r"^stsim: bad\.txt:3: pe_rows = 0: must be in \[1, 4096\]"),
    ("pe_row = 8\n", r"^stsim: bad\.txt:1: .*'pe_row'.*pe_rows"),
    ("sync = sometimes\n", r"^stsim: bad\.txt:1: .*sometimes"),
    ("p =\n", r"^stsim: bad\.txt:1: .*expected name = value"),
]
for k, (text, want) in enumerate(bad):
    with open("bad.txt", "w") as f:
        f.write(text)
    r = sim("alexnet", "@bad.txt")
    ok(r.returncode == 2 and re.search(want, r.stderr) and not r.stdout,
       "stsim-files-2.%d a bad line (%r) exits 2 naming file:line and the value" %
       (k + 1, text.strip().splitlines()[-1]), r.stderr)
r = sim("alexnet", "@missing.txt")
ok(r.returncode == 2 and "missing.txt: cannot read it" in r.stderr,
   "stsim-files-2.6 a missing parameter file exits 2 naming it", r.stderr)

# --csv against --json, layer by layer and phase by phase.
pt = ["fmnist-resnet", "p=0.8", "pe_rows=8", "pe_cols=8", "macs_per_pe=2"]
r = sim(*pt, "--csv")
j = json.loads(sim(*pt, "--json").stdout)
lines = r.stdout.splitlines()
ok(r.returncode == 0 and lines and lines[0].startswith(
    "LayerID, Layer Name, Phase, Total Cycles, Stall Cycles, Overall Util %, Compute Util %,")
   and all(l.endswith(",") for l in lines),
   "stsim-files-3.1 --csv starts with SCALE-Sim's COMPUTE_REPORT columns, ', ' separated, "
   "each line ending in ','", r.stdout[:300] + r.stderr)
rows = list(csv.DictReader(io.StringIO(r.stdout), skipinitialspace=True))
peak = 8 * 8 * 2
want, bad_rows = [], []
for layer in j["layers"]:
    for ph in ("fp", "bp", "wg"):
        run, dense = layer[ph]["run"], layer[ph]["dense"]
        if run["cycles"] == 0 and dense["cycles"] == 0:
            continue
        want.append((layer["name"], ph, run, dense))
for row, (name, ph, run, dense) in zip(rows, want):
    util = 100 * run["useful_macs"] / (run["cycles"] * peak)
    cutil = 100 * run["useful_macs"] / (run["compute_cycles"] * peak)
    if (row["Layer Name"], row["Phase"]) != (name, ph) or \
            int(row["Total Cycles"]) != run["cycles"] or \
            int(row["Stall Cycles"]) != run["stall_cycles"] or \
            abs(float(row["Overall Util %"]) - util) > 1e-5 or \
            abs(float(row["Compute Util %"]) - cutil) > 1e-5 or \
            int(row["Dense Cycles"]) != dense["cycles"] or \
            int(row["Useful MACs"]) != run["useful_macs"] or \
            int(row["DRAM Bytes"]) != run["dram_bytes"] or \
            abs(float(row["Energy pJ"]) - run["energy_pj"]) > 1e-6 * run["energy_pj"]:
        bad_rows.append((row, name, ph))
ok(len(rows) == len(want) > 10 and not bad_rows,
   "stsim-files-3.2 each of the %d rows equals --json's layer and phase (cycles, stalls, "
   "MACs, DRAM, energy; utilisations recomputed as useful / (cycles x %d))" %
   (len(want), peak), bad_rows[:2])
ok(sum(int(x["Total Cycles"]) for x in rows) == j["total"]["run"]["cycles"],
   "stsim-files-3.3 the rows' cycles add up to the total")
r = sim("alexnet", "--csv", "--json")
ok(r.returncode == 2 and "--json and --csv" in r.stderr,
   "stsim-files-3.4 --csv with --json is refused", r.stderr)

# --version everywhere, with the revision of the sources: a commit of this repository that
# HEAD contains (the build may predate the last commits).
is_git = subprocess.run(["git", "-C", SRC, "rev-parse", "HEAD"], capture_output=True).returncode == 0


def known_revision(rev):
    return subprocess.run(["git", "-C", SRC, "merge-base", "--is-ancestor", rev, "HEAD"],
                          capture_output=True).returncode == 0


for p in PROGS:
    r = subprocess.run([os.path.join(BIN, p), "--version"], capture_output=True, text=True)
    m = re.match(r"^%s (\d+\.\d+\.\d+) \(git ([0-9a-f]{7,40})(-dirty)?\)" % p, r.stdout)
    ok(r.returncode == 0 and m and (not is_git or known_revision(m.group(2))),
       "stsim-files-4 %s --version prints the version and the git revision%s" %
       (p, "" if is_git else " (no git checkout: the revision not checked)"), r.stdout + r.stderr)
r = subprocess.run([os.path.join(BIN, "stsim"), "--version"], capture_output=True, text=True)
with open(os.path.join(SRC, "CMakeLists.txt")) as f:
    v = re.search(r"project\(\w+ VERSION ([\d.]+)", f.read()).group(1)
ok(r.stdout.split()[1] == v, "stsim-files-5 the version is the project's (%s)" % v, r.stdout)
end()
