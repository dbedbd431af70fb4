#!/usr/bin/python3
"""engine_table.py - the per-network table of docs/engine.md.

For every built-in network at p = 0 and p = 0.9 on the default design point
(exact fidelity, batch 1 unless given), runs `stsim --json` and prints, as
Markdown: speedup and energy gain per phase and in total, DRAM traffic of the
design point and of its dense baseline (MB) and over the compulsory floor, and
the energy breakdown of the design point. With --before STSIM, a second stsim
binary (an older build) is run on the same points and its figures are shown
next to this build's; the floor is this build's (the older one does not
report it), so the older traffic is divided by the same floor.

usage: bench/engine_table.py [--before PATH] [--batch N] [NETWORK ...]
"""
import argparse
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETS = ["alexnet", "vgg16", "resnet18", "resnet34", "resnet50", "fmnist-cnn", "fmnist-resnet"]
PHASES = ["fp", "bp", "wg"]


def stsim(binary, net, p, batch):
    out = subprocess.run([binary, net, "p=%g" % p, "batch=%d" % batch, "--json"],
                         capture_output=True, text=True, check=True).stdout
    d = json.loads(out)
    run = {ph: {"c": 0, "dc": 0, "e": 0.0, "de": 0.0} for ph in PHASES}
    for layer in d["layers"]:
        for ph in PHASES:
            if ph in layer:
                r, s = layer[ph]["run"], layer[ph]["dense"]
                run[ph]["c"] += r["cycles"]
                run[ph]["dc"] += s["cycles"]
                run[ph]["e"] += r["energy_pj"]
                run[ph]["de"] += s["energy_pj"]
    t = d["total"]
    return {"phase": run, "speedup": t["speedup"], "gain": t["energy_gain"],
            "mb": t["run"]["dram_bytes"] / 1e6, "dmb": t["dense"]["dram_bytes"] / 1e6,
            "floor": t["run"].get("dram_floor_bytes", 0) / 1e6,
            "dfloor": t["dense"].get("dram_floor_bytes", 0) / 1e6,
            "breakdown": t["run"]["energy_breakdown_pj"], "energy": t["run"]["energy_pj"]}


def ratio(a, b):
    return a / b if b else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("nets", nargs="*")
    a = ap.parse_args()
    now = os.path.join(os.environ.get("ST_BUILD", os.path.join(ROOT, "build")), "bin", "stsim")
    nets = a.nets or NETS
    print("| network | p | build | speedup fp / bp / wg / total | energy gain fp / bp / wg / "
          "total | DRAM MB (dense) | over floor (dense) |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for net in nets:
        for p in (0, 0.9):
            builds = [("after", now)] + ([("before", a.before)] if a.before else [])
            res = {name: stsim(b, net, p, a.batch) for name, b in builds}
            floor, dfloor = res["after"]["floor"], res["after"]["dfloor"]
            for name, _ in reversed(builds):
                r = res[name]
                sp = " / ".join("%.2f" % ratio(r["phase"][ph]["dc"], r["phase"][ph]["c"])
                                for ph in PHASES if r["phase"][ph]["c"])
                eg = " / ".join("%.2f" % ratio(r["phase"][ph]["de"], r["phase"][ph]["e"])
                                for ph in PHASES if r["phase"][ph]["e"])
                print("| %s | %g | %s | %s / **%.2f** | %s / **%.2f** | %.1f (%.1f) | %.2f (%.2f) |"
                      % (net, p, name, sp, r["speedup"], eg, r["gain"], r["mb"], r["dmb"],
                         ratio(r["mb"], floor), ratio(r["dmb"], dfloor)))
            rows.append((net, p, res["after"]))
    print()
    print("Energy of the design point by component (this build), % of its total:")
    print()
    comps = ["mac", "reg", "ch0", "ch1", "ch2", "dram", "leak"]
    print("| network | p | " + " | ".join(comps) + " |")
    print("|---|---|" + "---|" * len(comps))
    for net, p, r in rows:
        print("| %s | %g | " % (net, p) + " | ".join(
            "%.1f" % (100 * r["breakdown"][c] / r["energy"]) for c in comps) + " |")


if __name__ == "__main__":
    main()
