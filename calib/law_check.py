#!/usr/bin/python3
"""law_check.py - does one lognormal shape per layer, fitted at one p, predict the density
of dZ after pruning at other p? For each network of the pruning study
(bench/study_pruning.py, results in results/study_pruning/), per layer and p: the measured
density of dZ after pruning in the last epoch (mean of the seeds), the calibrated law's
prediction from the measured density before pruning (the closed form of docs/sparsity.md
with the layer's sigma from calib/fmnist.calib), and the normal law's (the old default).

    /usr/bin/python3 calib/law_check.py [--study DIR] [--calib FILE]
"""
import argparse
import glob
import json
import os
import sys
from math import exp, log, pi, sqrt
from statistics import NormalDist

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHI, Q = NormalDist().cdf, NormalDist().inv_cdf


def kept_lognormal(s, k):
    a = log(k) / s
    return 1 - PHI(a + s / 2) + PHI(a - s / 2) / k


def kept_normal(k):
    # normal |g| with E|g| = 1 (sigma = sqrt(pi/2)): P(|g| >= t) + E[|g|; |g| < t] / t
    s = sqrt(pi / 2)
    t = k / s
    return 2 * (1 - PHI(t)) + sqrt(2 / pi) * (1 - exp(-t * t / 2)) / t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--study", default=os.path.join(ROOT, "results", "study_pruning"))
    ap.add_argument("--calib", default=os.path.join(ROOT, "calib", "fmnist.calib"))
    args = ap.parse_args()
    sigma, fam = {}, None
    for line in open(args.calib):
        w = line.split("#")[0].split()
        if w[:1] == ["family"]:
            fam = w[2]
        elif len(w) == 4 and w[0] == "sigma":
            sigma[fam, line.split("#")[1].split(":")[0].strip()] = float(w[3])
    for net in ("fmnist-cnn", "fmnist-resnet"):
        print("%s: dZ density after pruning, last epoch: measured / lognormal (calibrated) / "
              "normal" % net)
        print("%-22s %-24s %-24s %-24s" % ("layer", "p = 0.7", "p = 0.9", "p = 0.99"))
        runs = {p: [json.load(open(f)) for f in
                    sorted(glob.glob(os.path.join(args.study, "%s_p%g_s*.json" % (net, p))))]
                for p in (0.7, 0.9, 0.99)}
        if not all(runs.values()):
            sys.exit("law_check: no study results for %s in %s (bench/study_pruning.py)"
                     % (net, args.study))
        skip = runs[0.9][0]["prune_skip_zeros"]
        scale = runs[0.9][0]["prune_sigma_scale"]
        for i, l in enumerate(runs[0.9][0]["epochs"][-1]["layers"]):
            cells = []
            for p in (0.7, 0.9, 0.99):
                ls = [r["epochs"][-1]["layers"][i] for r in runs[p]]
                din = sum(x["dz_density_in"] for x in ls) / len(ls)
                dout = sum(x["dz_density_out"] for x in ls) / len(ls)
                k = Q((1 + p) / 2) * scale * (1.0 if skip else din)
                cells.append("%.3f / %.3f / %.3f" % (dout, din * kept_lognormal(
                    sigma[net, l["name"]], k), din * kept_normal(k)))
            print("%-22s %-24s %-24s %-24s" % (l["name"], *cells))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
