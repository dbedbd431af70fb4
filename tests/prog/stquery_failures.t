#!/usr/bin/python3
# stquery_failures.t - failed points in the result file and in stquery: NaN in every
# metric column (read with h5py), whole counts exact for the other points (cycles against
# stsim for the same point), `list --status failed` with each point's message equal to
# /failures/message, and `info` grouping failures by pattern (numbers and quoted values
# replaced), checked against a grouping computed here. A file without failures has no
# message column, and asking for one is an error naming it.
import csv
import io
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import BIN, end, ok, skip  # noqa: E402

EXP = os.path.join(BIN, "stexplore")
Q = os.path.join(BIN, "stquery")
SIM = os.path.join(BIN, "stsim")

try:
    import h5py
    import numpy as np
except ImportError:
    print("1..1")
    skip("failures", "no h5py or numpy for /usr/bin/python3")
    end()

print("1..10")
tmp = tempfile.mkdtemp()
os.chdir(tmp)
# Three reasons, with values that differ from point to point: psum_bits below data_bits,
# buffers too small for conv1's forward rows, and for its weight-gradient rows.
with open("f.lua", "w") as f:
    f.write("""return st.sweep {
  name = "f", network = "fmnist-cnn",
  params = { pe_rows = {4, 8}, ch0_kib = {0.25, 0.5, 64}, psum_bits = {8, 12, 32} },
  fixed = { fidelity = "sampled", sample_fraction = 0.1 },
}
""")
r = subprocess.run([EXP, "-q", "f.lua"], capture_output=True, text=True)
ok(r.returncode == 0, "failures-1.1 a sweep with failing points runs", r.stderr)

with h5py.File("results/f.h5", "r") as h:
    status = h["points/status"][()]
    metrics = {k: h["metrics"][k][()] for k in h["metrics"]}
    mtype = {k: h["metrics"][k].attrs.get("type") for k in h["metrics"]}
    fail_row = h["failures/row"][()]
    fail_msg = [m.decode() if isinstance(m, bytes) else m for m in h["failures/message"][()]]
    params = {k: h["params"][k][()] for k in h["params"]}
bad = status == 1
ok(bad.sum() >= 10 and all(np.isnan(v[bad]).all() for v in metrics.values()),
   "failures-1.2 every metric column holds NaN for each of the %d failed points" % bad.sum(),
   [k for k, v in metrics.items() if not np.isnan(v[bad]).all()])
counts = [k for k, t in mtype.items() if t in (b"int", "int")]
whole = all(np.all(metrics[k][~bad] == np.floor(metrics[k][~bad])) for k in counts)
ok("cycles" in counts and whole and (~bad).sum() > 0,
   "failures-1.3 the counts (type int) are whole numbers for the other points")

# cycles of one successful point, against stsim run on the same point.
i = int(np.flatnonzero(~bad)[0])
r = subprocess.run([SIM, "fmnist-cnn", "--json", "--no-layers", "fidelity=sampled",
                    "sample_fraction=0.1", "pe_rows=%d" % params["pe_rows"][i],
                    "ch0_kib=%g" % params["ch0_kib"][i], "psum_bits=%d" % params["psum_bits"][i],
                    "seed=%d" % params["seed"][i]], capture_output=True, text=True)
j = json.loads(r.stdout)
ok(metrics["cycles"][i] == j["total"]["run"]["cycles"] and
   metrics["dram_bytes"][i] == j["total"]["run"]["dram_bytes"],
   "failures-1.4 cycles and dram_bytes of row %d equal stsim's for the same point" % i,
   "%s vs %s" % (metrics["cycles"][i], j["total"]["run"]["cycles"]))

# list --status failed: each failed point with its message.
r = subprocess.run([Q, "list", "results/f.h5", "--status", "failed"], capture_output=True,
                   text=True)
lines = r.stdout.splitlines()[2:]
want = {int(row): msg for row, msg in zip(fail_row, fail_msg)}
got = {}
for line in lines:
    m = re.match(r"\s*(\d+)\s", line)
    if m:
        got[int(m.group(1))] = line
ok(r.returncode == 0 and set(got) == set(want) and
   all(got[k].rstrip().endswith(want[k]) for k in want),
   "failures-2.1 list --status failed shows the %d failed points, each with its message" %
   len(want), r.stdout[:600] + r.stderr)
r = subprocess.run([Q, "export", "results/f.h5", "--csv", "--status", "failed"],
                   capture_output=True, text=True)
rows = list(csv.DictReader(io.StringIO(r.stdout)))
ok(r.returncode == 0 and {int(x["row"]): x["message"] for x in rows} == want and
   all(x["cycles"] in ("", "nan", "NaN") for x in rows),
   "failures-2.2 export --csv carries the message column, and no number for the metrics",
   r.stdout[:400] + r.stderr)


# info: the reasons, grouped here by a normaliser of our own.
def pattern(m):
    m = re.sub(r"'[^']*'|\"[^\"]*\"", "Q", m)
    return re.sub(r"(?<![A-Za-z0-9_.])[-+]?\d[\w.]*(?:[eE][-+]?\d+)?", "N", m)


groups = {}
for m in fail_msg:
    groups[pattern(m)] = groups.get(pattern(m), 0) + 1
r = subprocess.run([Q, "info", "results/f.h5"], capture_output=True, text=True)
m = re.search(r"failures\s+(\d+) points, (\d+) reasons", r.stdout)
ok(m and int(m.group(1)) == len(fail_msg) and int(m.group(2)) == len(groups),
   "failures-3.1 info counts %d failures in %d reasons (by pattern, not %d distinct texts)" %
   (len(fail_msg), len(groups), len(set(fail_msg))), r.stdout)
shown = sorted(int(c) for c in re.findall(r"^\s+(\d+) x  ", r.stdout, re.M))
ok(shown == sorted(groups.values()) and len(set(fail_msg)) > len(groups),
   "failures-3.2 ... with the count of each pattern %s" % sorted(groups.values()),
   r.stdout)

# No failures: no message column, and asking for it names it.
with open("g.lua", "w") as f:
    f.write('return st.sweep { name = "g", network = "fmnist-cnn", eval = "none",'
            ' params = { pe_rows = {4, 8} } }\n')
subprocess.run([EXP, "-q", "g.lua"], capture_output=True)
r = subprocess.run([Q, "list", "results/g.h5", "--columns", "row,message"], capture_output=True,
                   text=True)
ok(r.returncode == 2 and "message" in r.stderr,
   "failures-4.1 --columns message on a file without failures exits 2 naming the column",
   r.stderr)
r = subprocess.run([Q, "list", "results/g.h5", "--status", "failed"], capture_output=True,
                   text=True)
ok(r.returncode == 0 and len(r.stdout.splitlines()) <= 3,
   "failures-4.2 list --status failed of a file without failures lists none", r.stdout)
end()
