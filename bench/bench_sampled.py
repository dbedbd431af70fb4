#!/usr/bin/python3
"""bench_sampled.py - sampled against exact fidelity on random design points.

Draws design points on AlexNet and ResNet-18 (PE array shape, ReLU density,
per-channel dispersion, gradient law, p, synchronisation, seed), runs each with
`stsim` in both fidelities and prints, per point and in summary, how far the
sampled total cycles and useful MACs are from exact. Not a test: it measures
and prints.

usage: bench/bench_sampled.py [POINTS] [SEED]     (default 50 points, seed 1)
"""
import json
import os
import random
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STSIM = os.path.join(os.environ.get("ST_BUILD", os.path.join(ROOT, "build")), "bin", "stsim")


def run(args):
    p = subprocess.run([STSIM] + args + ["--json", "--no-layers"], capture_output=True, text=True)
    if p.returncode:
        return None
    return json.loads(p.stdout)["total"]["run"]


def main():
    points = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    rows = []
    while len(rows) < points:
        cv = rng.choice([0.0, rng.uniform(0.05, 0.8)])
        args = [rng.choice(["alexnet", "resnet18"]),
                "pe_rows=%d" % rng.randint(2, 16), "pe_cols=%d" % rng.randint(2, 32),
                "relu_density=%.3f" % rng.uniform(0.1, 0.9), "channel_cv=%.2f" % cv,
                "grad_law=%s" % rng.choice(["normal", "laplace", "lognormal"]),
                "p=%.3f" % rng.choice([0.0, rng.uniform(0.0, 0.99)]),
                "sync=%s" % rng.choice(["lockstep", "fifo"]),
                "seed=%d" % rng.randint(1, 10**6)]
        ex = run(args + ["fidelity=exact"])
        sa = run(args + ["fidelity=sampled"])
        if ex is None or sa is None:
            continue  # a design the buffers refuse
        rows.append((sa["cycles"] / ex["cycles"] - 1, sa["useful_macs"] / ex["useful_macs"] - 1,
                     " ".join(args)))
        print("%+7.3f%% %+7.3f%%  %s" % (100 * rows[-1][0], 100 * rows[-1][1], rows[-1][2]),
              flush=True)
    for i, what in ((0, "cycles"), (1, "useful MACs")):
        errs = sorted(abs(r[i]) for r in rows)
        print("%s: sampled vs exact over %d points: mean |error| %.2f%%, 90th percentile %.2f%%, "
              "max %.2f%%" % (what, len(rows), 100 * sum(errs) / len(errs),
                              100 * errs[int(0.9 * (len(errs) - 1))], 100 * errs[-1]))


if __name__ == "__main__":
    main()
