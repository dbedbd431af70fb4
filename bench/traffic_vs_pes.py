#!/usr/bin/python3
"""traffic_vs_pes.py - does a bigger PE array ever move more DRAM bytes?

Draws design points (network, array, buffers, p, batch), runs each with
`stsim` and again with pe_rows or pe_cols doubled, and prints every point
where the bigger array moves more bytes (design point or dense baseline),
then how many there were. Not a test: it measures and prints.

usage: bench/traffic_vs_pes.py [POINTS] [SEED] [NAME=VALUE...]
       (default 40 points, seed 3; NAME=VALUE: parameters added to every run,
       e.g. pe_subarrays=1)
"""
import json
import os
import random
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STSIM = os.path.join(os.environ.get("ST_BUILD", os.path.join(ROOT, "build")), "bin", "stsim")


def run(net, args):
    p = subprocess.run([STSIM, net] + args + ["--json", "--no-layers"], capture_output=True,
                       text=True)
    if p.returncode:
        return None
    t = json.loads(p.stdout)["total"]
    return t["run"]["dram_bytes"], t["dense"]["dram_bytes"]


def main():
    points = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 3)
    extra = sys.argv[3:]
    bad = n = 0
    worst = 0.0
    for _ in range(points):
        net = rng.choice(["resnet18", "alexnet", "fmnist-cnn", "fmnist-resnet"])
        args = {"pe_rows": rng.randint(2, 16), "pe_cols": rng.randint(2, 16),
                "ch0_kib": rng.uniform(16, 256), "ch1_kib": rng.uniform(16, 256),
                "ch2_kib": rng.uniform(32, 256), "p": rng.uniform(0, 0.95),
                "batch": rng.randint(1, 2)}
        which = rng.choice(["pe_rows", "pe_cols"])
        big = dict(args, **{which: 2 * args[which]})
        r1 = run(net, ["%s=%s" % kv for kv in args.items()] + extra)
        r2 = run(net, ["%s=%s" % kv for kv in big.items()] + extra)
        if not r1 or not r2:
            continue  # a design the buffers refuse
        n += 1
        if r2[0] > r1[0] or r2[1] > r1[1]:
            bad += 1
            grow = max(r2[0] / r1[0], r2[1] / r1[1]) - 1
            worst = max(worst, grow)
            print("%s %s x2: %d -> %d bytes (dense %d -> %d), +%.2f%%  %s" % (
                net, which, r1[0], r2[0], r1[1], r2[1], 100 * grow,
                " ".join("%s=%g" % kv for kv in args.items())), flush=True)
    print("%d of %d points move more bytes with twice the PEs (at most +%.2f%%)" %
          (bad, n, 100 * worst))


if __name__ == "__main__":
    main()
