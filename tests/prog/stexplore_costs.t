#!/usr/bin/python3
# stexplore_costs.t - the costs a sweep script can ask for before a point is simulated
# (st.area_mm2, st.sram_kib, st.peak_macs): equal to what the simulator reports for the
# same point (the area_mm2 column of the result file, bit for bit; stsim --json), to the
# area formula of docs/energy-area.md computed here from the point's parameters, and an
# area cap in `where` prunes exactly the points this script finds above the cap. Bad
# arguments are refused with the script's line and the parameter.
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import BIN, end, ok, skip  # noqa: E402

EXP = os.path.join(BIN, "stexplore")
SIM = os.path.join(BIN, "stsim")

try:
    import h5py
except ImportError:
    print("1..1")
    skip("costs", "no h5py for /usr/bin/python3")
    end()

print("1..12")
tmp = tempfile.mkdtemp()
os.chdir(tmp)


def area_formula(q):
    """docs/energy-area.md: PEs * (macs_per_pe * area_mac_mm2 + (kreg_len * data_bits +
    oreg_len * psum_bits) * area_reg_bit_mm2) + (ch0 + ch1 + ch2 KiB) * area_sram_mm2_per_kib"""
    pe = q["macs_per_pe"] * q["area_mac_mm2"] + (
        q["kreg_len"] * q["data_bits"] + q["oreg_len"] * q["psum_bits"]) * q["area_reg_bit_mm2"]
    return q["pe_rows"] * q["pe_cols"] * pe + (q["ch0_kib"] + q["ch1_kib"] + q["ch2_kib"]) * \
        q["area_sram_mm2_per_kib"]


# The defaults of every parameter, from stsim's point (the formula's inputs).
r = subprocess.run([SIM, "fmnist-cnn", "fidelity=sampled", "sample_fraction=0.05", "--json",
                    "--no-layers"], capture_output=True, text=True)
defaults = json.loads(r.stdout)["point"]

CAP = 0.5
script = """return st.sweep {
  name = "costs", network = "fmnist-cnn",
  params = { pe_rows = {4, 8, 16, 32}, pe_cols = {4, 16, 32}, ch0_kib = {16, 64},
             macs_per_pe = {1, 2}, data_bits = {8, 16} },
  fixed = { fidelity = "sampled", sample_fraction = 0.05 },
  where = function(p)
    print(string.format("COST %d %d %d %d %d %.17g %.17g %d", p.pe_rows, p.pe_cols,
          p.ch0_kib, p.macs_per_pe, p.data_bits, st.area_mm2(p), st.sram_kib(p),
          st.peak_macs(p)))
    return st.area_mm2(p) < %CAP%
  end,
}
""".replace("%CAP%", repr(CAP))
with open("costs.lua", "w") as f:
    f.write(script)
r = subprocess.run([EXP, "--progress", "none", "costs.lua"], capture_output=True, text=True)
ok(r.returncode == 0, "costs-1.1 a sweep whose where calls st.area_mm2 runs", r.stderr)

printed = {}
for line in r.stderr.splitlines():
    if line.startswith("COST "):
        f = line.split()[1:]
        key = tuple(int(x) for x in f[:5])
        printed[key] = (float(f[5]), float(f[6]), int(f[7]))
ok(len(printed) == 4 * 3 * 2 * 2 * 2, "costs-1.2 where saw all 96 candidates",
   "%d seen" % len(printed))

# Independent: the formula, the capacity and the peak from the parameters.
bad = []
for (rows, cols, ch0, macs, bits), (area, kib, peak) in printed.items():
    q = dict(defaults, pe_rows=rows, pe_cols=cols, ch0_kib=ch0, macs_per_pe=macs, data_bits=bits)
    want = area_formula(q)
    if abs(area - want) > 1e-12 * want or kib != ch0 + q["ch1_kib"] + q["ch2_kib"] or \
            peak != rows * cols * macs:
        bad.append((rows, cols, ch0, macs, bits, area, want, kib, peak))
ok(not bad, "costs-1.3 area, capacity and peak equal the formulas of docs/energy-area.md",
   "\n".join(map(str, bad[:5])))

# Equal to what the simulator reported for the same points, bit for bit.
with h5py.File("results/costs.h5", "r") as h:
    cols = {k: h["params"][k][()] for k in ("pe_rows", "pe_cols", "ch0_kib", "macs_per_pe",
                                            "data_bits")}
    area_col = h["metrics"]["area_mm2"][()]
    status = h["points/status"][()]
    excluded = int(h.attrs["excluded"])
keys = list(zip(*(cols[k] for k in ("pe_rows", "pe_cols", "ch0_kib", "macs_per_pe",
                                    "data_bits"))))
keys = [tuple(int(x) for x in k) for k in keys]
ok_pts = [i for i in range(len(keys)) if status[i] == 0]
diff = [(keys[i], area_col[i], printed[keys[i]][0]) for i in ok_pts
        if area_col[i] != printed[keys[i]][0]]
ok(len(ok_pts) > 10 and not diff,
   "costs-1.4 st.area_mm2 equals the simulated area_mm2 of every evaluated point exactly",
   "%d ok points; %s" % (len(ok_pts), diff[:3]))

# The cap: exactly the candidates at or above it are excluded, none of them is in the file.
above = {k for k, v in printed.items() if not v[0] < CAP}
ok(excluded == len(above) and not (set(keys) & above) and len(keys) == 96 - len(above),
   "costs-1.5 the area cap in where excludes the %d candidates at or above %g mm^2" %
   (len(above), CAP), "excluded %d, in file %d" % (excluded, len(keys)))

# stsim on a few points: its area, its buffers and its utilisation's peak.
points = [("pe_rows=32", "pe_cols=8", "ch0_kib=128"),
          ("pe_rows=4", "pe_cols=16", "macs_per_pe=2", "data_bits=8"),
          ("pe_rows=12", "pe_cols=20", "ch1_kib=48", "ch2_kib=100", "kreg_len=8")]
lua = ["local pts = {"]
for p in points:
    lua.append("  {" + ", ".join(a.replace("=", " = ") for a in p) + "},")
lua.append("}")
lua.append("for _, p in ipairs(pts) do")
lua.append('  print(string.format("PT %.17g %.17g %d", st.area_mm2(p), st.sram_kib(p), '
           'st.peak_macs(p)))')
lua.append("end")
lua.append('return st.sweep { name = "pts", network = "fmnist-cnn" }')
with open("pts.lua", "w") as f:
    f.write("\n".join(lua) + "\n")
r = subprocess.run([EXP, "--check", "pts.lua"], capture_output=True, text=True)
got = [l.split()[1:] for l in r.stderr.splitlines() if l.startswith("PT ")]
ok(len(got) == 3, "costs-2.1 st.area_mm2 and the others take a table of a few parameters",
   r.stderr)
mism = []
for p, g in zip(points, got):
    r = subprocess.run([SIM, "fmnist-cnn", "fidelity=sampled", "sample_fraction=0.05", "--json",
                        "--no-layers"] + list(p), capture_output=True, text=True)
    j = json.loads(r.stdout)
    q, tot = j["point"], j["total"]
    run = tot["run"]
    peak_sim = run["useful_macs"] / (run["cycles"] * run["pe_util"])
    if abs(float(g[0]) - tot["area_mm2"]) > 1e-8 * tot["area_mm2"] or \
            float(g[1]) != q["ch0_kib"] + q["ch1_kib"] + q["ch2_kib"] or \
            abs(int(g[2]) - peak_sim) > 1e-4 * peak_sim:
        mism.append((p, g, tot["area_mm2"], peak_sim))
ok(len(got) == 3 and not mism,
   "costs-2.2 area, buffers and peak MACs/cycle equal stsim's for 3 points (area to its 9 "
   "printed digits, peak as useful_macs / (cycles * pe_util))", mism)

# Bad arguments: the line and the parameter.
cases = [
    ("st.area_mm2{pe_rows = 0}", r"bad\.lua:2: st\.area_mm2\(point\): pe_rows = 0: must be in"),
    ("st.sram_kib{pe_row = 4}", r"bad\.lua:2: st\.sram_kib\(point\): .*pe_row"),
    ("st.peak_macs('big')", r"bad\.lua:2: st\.peak_macs\(point\): point must be a table"),
    ("st.area_mm2{sync = 'sometimes'}", r"bad\.lua:2: st\.area_mm2\(point\): .*sometimes"),
    ("st.area_mm2{p = {}}", r"bad\.lua:2: st\.area_mm2\(point\): p = table: must be"),
]
for k, (call, want) in enumerate(cases):
    with open("bad.lua", "w") as f:
        f.write("local x = 1\nlocal a = %s\nreturn st.sweep { name = 'b', network = 'alexnet' }\n"
                % call)
    r = subprocess.run([EXP, "--check", "bad.lua"], capture_output=True, text=True)
    ok(r.returncode == 2 and re.search(want, r.stderr) is not None,
       "costs-3.%d %s is refused naming the line and the value" % (k + 1, call),
       "status %d: %s" % (r.returncode, r.stderr))
end()
