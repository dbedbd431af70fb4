#!/usr/bin/python3
"""compare.py - cycles of one design point from three sparsity sources: a training trace,
the calibrated model (sparsity=calibrated) and the old defaults (relu_density 0.5, normal
dZ). For each small network, the trace of results/calib/ (calib/make_calib.sh) at one of
its iterations; per phase the cycles and useful MACs, and per layer the densities the
engine ran on. Then the ImageNet-sized built-ins, calibrated against the defaults.

    /usr/bin/python3 calib/compare.py [--build DIR] [--iter N] [--batch B] [name=value ...]
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def stsim(args, net, extra):
    cmd = [os.path.join(args.build, "bin", "stsim"), net, "--json", "batch=%d" % args.batch,
           "p=%g" % args.p] + args.params + extra
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit("compare: %s: %s" % (" ".join(cmd), res.stderr.strip()))
    return json.loads(res.stdout)


def phases(d):
    ph = {}
    for k in ("fp", "bp", "wg"):
        ph[k] = sum(l[k]["run"]["cycles"] for l in d["layers"])
        ph[k + "_macs"] = sum(l[k]["run"]["useful_macs"] for l in d["layers"])
    return ph


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--traces", default=os.path.join(ROOT, "results", "calib"))
    ap.add_argument("--iter", type=int, default=145)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--p", type=float, default=0.9)
    ap.add_argument("params", nargs="*", help="more name=value for every run")
    args = ap.parse_args()
    print("# batch %d, p = %g, default hardware otherwise%s" % (
        args.batch, args.p, (", " + " ".join(args.params)) if args.params else ""))
    for net in ("fmnist-cnn", "fmnist-resnet"):
        trace = os.path.join(args.traces, net + ".h5")
        runs = [("trace", stsim(args, net, ["--trace", trace, "--trace-iter", str(args.iter)])),
                ("calibrated", stsim(args, net, ["sparsity=calibrated"])),
                ("default", stsim(args, net, []))]
        print("\n%s (trace: iteration %d of %s)" % (net, args.iter, os.path.relpath(trace, ROOT)))
        print("%-11s %9s %9s %9s %10s %8s   %s" % ("source", "FP cyc", "BP cyc", "WG cyc",
                                                 "total", "speedup", "useful MACs FP / BP / WG"))
        for name, d in runs:
            ph = phases(d)
            print("%-11s %9d %9d %9d %10d %8.3f   %d / %d / %d" % (
                name, ph["fp"], ph["bp"], ph["wg"], d["total"]["run"]["cycles"],
                d["total"]["speedup"], ph["fp_macs"], ph["bp_macs"], ph["wg_macs"]))
        print("%-22s %-22s %-22s" % ("layer", "act: trace/cal/def", "dZ: trace/cal/def"))
        for i, l in enumerate(runs[0][1]["layers"]):
            print("%-22s %-22s %-22s" % (
                l["name"], "/".join("%.3f" % r[1]["layers"][i]["act_density"] for r in runs),
                "/".join("%.3f" % r[1]["layers"][i]["grad_density"] for r in runs)))
    print("\nImageNet-sized networks, batch 1: calibrated / default")
    print("%-10s %14s %14s %9s %9s" % ("network", "cycles cal", "cycles def", "spd cal",
                                      "spd def"))
    for net in ("alexnet", "vgg16", "resnet18", "resnet34", "resnet50"):
        save = args.batch
        args.batch = 1
        c, d = stsim(args, net, ["sparsity=calibrated", "--no-layers"]), stsim(args, net, ["--no-layers"])
        args.batch = save
        print("%-10s %14d %14d %9.3f %9.3f" % (net, c["total"]["run"]["cycles"],
                                                d["total"]["run"]["cycles"],
                                                c["total"]["speedup"], d["total"]["speedup"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
