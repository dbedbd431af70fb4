#!/usr/bin/python3
"""study_check.py OUT REPORT - tests/prog/study.t's checks of a study report: every number
in REPORT must be a value of the result files in OUT, or one recomputed here from them
with h5py and numpy (not with the report's code, nor its loader), at the precision the
report prints it. Prints TAP lines from number FIRST (argument 3) on.
"""
import json
import math
import os
import re
import sys

import h5py
import numpy as np

OUT, REPORT, FIRST = sys.argv[1], sys.argv[2], int(sys.argv[3])
n = FIRST - 1


def ok(cond, desc, diag=()):
    global n
    n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, desc))
    for d in diag:
        print("#   %s" % d)


def read(name):
    """A result file as {column: array} with the status, and the network names."""
    with h5py.File(os.path.join(OUT, name + ".h5"), "r") as f:
        c = {"status": f["points/status"][()]}
        for g in ("params", "metrics"):
            for k in f[g]:
                c[k] = f[g][k][()]
        labels = [v.decode() if isinstance(v, bytes) else v
                  for v in f["params/network"].attrs["labels"]]
        c["_net"] = np.array([labels[i] for i in c["network"]])
        c["_space"] = f["provenance"].attrs["space"]
        if isinstance(c["_space"], bytes):
            c["_space"] = c["_space"].decode()
        c["_default"] = {k: f["params"][k].attrs["default"] for k in f["params"]}
    return c


# The values each part of the report may print, by the file they come from: a number of a
# section must be found among its own files' values, not anywhere.
pools = {}
TAG = None


def add(*vals):
    for v in vals:
        v = np.asarray(v, dtype=float).ravel()
        pools.setdefault(TAG, []).extend(float(x) for x in v if np.isfinite(x))


def nondominated(v):
    """Brute force: the rows of v (minimise every column) no other row dominates."""
    return [i for i in range(len(v))
            if not any(np.all(v[j] <= v[i]) and np.any(v[j] < v[i]) for j in range(len(v)))]


files = {k: read(k) for k in ("speedup", "imbalance", "energy", "pareto", "accuracy",
                              "accuracy_seed2")}
for TAG, c in files.items():
    TAG = TAG.replace("_seed2", "")
    for k, v in c.items():
        if not k.startswith("_"):
            add(v)
TAG = "manifest"
man = json.load(open(os.path.join(OUT, "manifest.json")))


def walk(x):
    if isinstance(x, dict):
        for v in x.values():
            walk(v)
    elif isinstance(x, list):
        for v in x:
            walk(v)
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        add(x)
    elif isinstance(x, str):
        add([float(t) for t in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", x)])


walk(man)
TAG = "pareto"
exact = json.load(open(os.path.join(OUT, "pareto_exact.json")))["points"]
for e in exact:
    add(e["cycles"], e["energy_pj"])

# speedup: geometric means over the networks, pruning's factor, calibrated over default
TAG = "speedup"
s = files["speedup"]
ok_s = s["status"] == 0
nets = sorted(set(s["_net"]))
cols = ["speedup", "speedup_fp", "speedup_bp", "speedup_wg", "energy_gain", "energy_gain_fp",
        "energy_gain_bp", "energy_gain_wg"]
for p in set(s["p"]):
    for model in set(s["sparsity"]):
        m = ok_s & (s["p"] == p) & (s["sparsity"] == model)
        for col in cols:
            add(math.exp(np.mean(np.log(s[col][m]))))
for net in nets:
    for model in set(s["sparsity"]):
        m = ok_s & (s["_net"] == net) & (s["sparsity"] == model)
        p0 = m & (s["p"] == s["p"][m].min())
        for col in cols:
            add(s[col][m] / s[col][p0][0])
    for p in set(s["p"]):
        a = s["speedup"][ok_s & (s["_net"] == net) & (s["p"] == p)]
        if len(a) == 2:
            add(a[0] / a[1], a[1] / a[0])
# energy shares, per image
for TAG in ("speedup", "energy"):
    c = files[TAG]
    for comp in ("mac", "reg", "ch0", "ch1", "ch2", "dram", "leak"):
        add(c["energy_pj_" + comp] / c["energy_pj"],
            c["dense_energy_pj_" + comp] / c["dense_energy_pj"])
    add(c["energy_pj"] / c["batch"], c["dense_energy_pj"] / c["batch"])
# imbalance
TAG = "imbalance"
c = files["imbalance"]
ideal = c["dense_macs"] / c["useful_macs"]
add(ideal, c["speedup"] / ideal, 1 - c["speedup"] / ideal, c["stall_cycles"] / c["cycles"])
# the fronts and their counts
TAG = "pareto"
fronts = {}
for name, objs, maxs in (("pareto", ["cycles", "energy_pj", "area_mm2"], []),):
    c = files[name]
    for net in set(c["_net"]):
        m = c["_net"] == net
        okm = m & (c["status"] == 0)
        v = np.column_stack([c[o][okm] for o in objs] + [-c[o][okm] for o in maxs])
        fr = nondominated(v)
        fronts[(name, net)] = (np.nonzero(okm)[0][fr])
        add(len(fr), m.sum(), okm.sum(), m.sum() - okm.sum())
# the default design against every other of its network: the ratios of the three objectives
pp = files["pareto"]
dm = np.ones(len(pp["status"]), bool)
for c in ("pe_rows", "pe_cols", "ch0_kib", "ch1_kib", "ch2_kib"):
    dm &= pp[c] == pp["_default"][c]
for i in np.nonzero(dm & (pp["status"] == 0))[0]:
    same = (pp["_net"] == pp["_net"][i]) & (pp["status"] == 0)
    for c in ("cycles", "energy_pj", "area_mm2"):
        add(pp[c][same] / pp[c][i])
# sampled against exact
p = files["pareto"]
gc = [abs(p["cycles"][e["row"]] / e["cycles"] - 1) for e in exact]
ge = [abs(p["energy_pj"][e["row"]] / e["energy_pj"] - 1) for e in exact]
add(np.mean(gc), max(gc), np.mean(ge), max(ge), len(exact))
# accuracy: the two seeds' sweeps, design by design (network, p, PE rows, PE columns)
TAG = "accuracy"
a1, a2 = files["accuracy"], files["accuracy_seed2"]
for a in (a1, a2):
    train = dict(re.findall(r"(\w+) ([\d.e+-]+)",
                            a["_space"].split("train:", 1)[1].splitlines()[0]))
    add([float(v) for v in train.values()])
HWA = ["cycles", "energy_pj", "area_mm2", "speedup", "energy_gain", "test_accuracy"]


def designs(a):
    out = {}
    for i in np.nonzero(a["status"] == 0)[0]:
        out[(a["_net"][i], a["p"][i], a["pe_rows"][i], a["pe_cols"][i])] = \
            [a[c][i] for c in HWA]
    return out


d1, d2 = designs(a1), designs(a2)
mean = {k: [(x + y) / 2 for x, y in zip(d1[k], d2[k])] for k in d1 if k in d2}
for v in mean.values():
    add(v)
picks = []
for net in sorted(set(a1["_net"])):
    keys = [k for k in mean if k[0] == net]
    add(len(keys))
    v = np.array([mean[k][:3] + [-mean[k][5]] for k in keys])
    fr = nondominated(v)
    add(len(fr), sorted(set(keys[i][1] for i in fr)))
    # one training per (network, p, seed): its accuracy is every design's
    acc = {}
    for k in keys:
        acc[k[1]] = (d1[k][5], d2[k][5])
    ss = sum((x - (x + y) / 2) ** 2 + (y - (x + y) / 2) ** 2 for x, y in acc.values())
    sd = math.sqrt(ss / len(acc))  # pooled over the rates, k - 1 = 1
    tol = 2 * sd  # two standard errors of a difference of two means of two: sd * sqrt(2/2)
    add(sd, tol)
    dflt = [k for k in keys if k[2] == a1["_default"]["pe_rows"] and
            k[3] == a1["_default"]["pe_cols"]]
    k0 = min(dflt, key=lambda k: k[1])
    good = [k for k in dflt if mean[k][5] >= mean[k0][5] - tol]
    best = max(good, key=lambda k: mean[k][3])
    picks.append("Pick p = %g: speedup %.3f" % (best[1], mean[best][3]))

# --- the report's numbers -----------------------------------------------------------
text = open(REPORT).read()
body = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
body = re.sub(r"`[^`]*`", " ", body)
body = re.sub(r"\]\([^)]*\)", "]", body)
SECTIONS = {"": ["manifest"], "In short": ["speedup", "imbalance", "accuracy"],
            "Assumptions": ["speedup"], "Speedup": ["speedup"], "Load imbalance": ["imbalance"],
            "Where the energy": ["speedup", "energy"], "The Pareto": ["pareto"],
            "Accuracy": ["accuracy"]}
bad, count = [], 0
for part in re.split(r"^## ", body, flags=re.M):
    sect = [k for k in SECTIONS if k and part.startswith(k)]
    tags = SECTIONS[sect[0] if sect else ""]
    pool_a = np.array([v for t in tags for v in pools.get(t, [])])
    cands = np.concatenate([pool_a, 100 * pool_a, pool_a / 1e6, pool_a / 1e9])
    for t, percent in re.findall(r"(?<![\w.\-])(\d+(?:\.\d+)?)(%?)(?![\w]|\.\d)", part):
        count += 1
        dec = len(t.split(".")[1]) if "." in t else 0
        tol = 0.5 * 10 ** -dec * (1 + 1e-9) + 1e-12
        if not np.any(np.abs(cands - float(t)) <= tol):
            bad.append("%s (%s)" % (t + percent, sect[0] if sect else "header"))
ok(count >= 40, "study-2.1 the report holds numbers to check (%d)" % count)
ok(not bad, "study-2.2 every number of the report is a value of the result files or "
   "recomputed from them", ["not found: %s" % " ".join(bad[:20])] if bad else ())

# strong checks of a few figures, recomputed here and looked for as printed
want = []
for net in nets:
    for p_ in sorted(set(s["p"])):
        m = ok_s & (s["_net"] == net) & (s["p"] == p_)
        want += ["%.3f" % v for v in s["speedup"][m]]
miss = [w for w in want if w not in text]
ok(not miss, "study-2.3 the total speedup of every network and p is in the report",
   ["missing: %s" % " ".join(miss)] if miss else ())
sent = "the sampled cycles are off by %.2f%% on average and %.2f%% at most" % (
    100 * np.mean(gc), 100 * max(gc))
ok(sent in text, "study-2.4 the sampled-against-exact gap, recomputed: '%s'" % sent)
# the designer's pick, recomputed above from the two seeds' files
miss = [w for w in picks if w not in text]
ok(not miss, "study-2.5 the pick of p per small network, recomputed",
   ["missing: %s" % " | ".join(miss)] if miss else ())
