#!/usr/bin/python3
"""plot.py - render the figures stquery asks for, as PNG files.

stquery computes everything (fronts, ranks, per-layer sums) in C and hands this
script a JSON description; the script only draws. Usage:

    plot.py front  DESCRIPTION.json OUT.png
    plot.py layers DESCRIPTION.json OUT.png

front:  {"title", "x": {"name", "unit", "values"}, "y": {...}, "front": [row, ...]}
layers: {"title", "layers": [names], "phases": ["fp", "bp", "wg"],
         "cycles": {"run": [[per phase] per layer], "dense": [...]},
         "energy_pj": {"run": [...], "dense": [...]}}

Figures are 1000 x 600 pixels (10 x 6 inches at 100 dpi).
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)

WIDTH_IN, HEIGHT_IN, DPI = 10, 6, 100


def label(axis):
    unit = axis.get("unit") or ""
    return f"{axis['name']} [{unit}]" if unit else axis["name"]


def plot_front(d, out):
    xs, ys = d["x"]["values"], d["y"]["values"]
    front = sorted(d["front"], key=lambda i: (xs[i], ys[i]))
    fig, ax = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    ax.scatter(xs, ys, s=12, color="0.65", label=f"all points ({len(xs)})")
    ax.plot([xs[i] for i in front], [ys[i] for i in front], "o-", color="C3", ms=5,
            label=f"Pareto front ({len(front)})")
    ax.set_xlabel(label(d["x"]))
    ax.set_ylabel(label(d["y"]))
    ax.set_title(d.get("title", ""))
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)


def plot_layers(d, out):
    layers, phases = d["layers"], d["phases"]
    fig, axes = plt.subplots(2, 1, figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, sharex=True)
    n = len(layers)
    width = 0.8 / (2 * len(phases))
    for ax, key, name in ((axes[0], "cycles", "cycles"), (axes[1], "energy_pj", "energy [pJ]")):
        for p, phase in enumerate(phases):
            for k, (kind, shade) in enumerate((("dense", 0.35), ("run", 1.0))):
                vals = [d[key][kind][i][p] for i in range(n)]
                pos = [i - 0.4 + width * (2 * p + k + 0.5) for i in range(n)]
                ax.bar(pos, vals, width, color=f"C{p}", alpha=shade,
                       label=f"{phase} {'dense' if kind == 'dense' else 'sparse'}")
        ax.set_ylabel(name)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].legend(ncol=len(phases), fontsize="small")
    axes[0].set_title(d.get("title", ""))
    axes[1].set_xticks(range(n))
    axes[1].set_xticklabels(layers, rotation=90, fontsize="x-small")
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)


def main(argv):
    if len(argv) != 4 or argv[1] not in ("front", "layers"):
        sys.stderr.write(__doc__)
        return 2
    with open(argv[2]) as f:
        d = json.load(f)
    (plot_front if argv[1] == "front" else plot_layers)(d, argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
