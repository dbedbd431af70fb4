#!/usr/bin/python3
"""plot.py - render the figures stquery asks for, as PNG files.

stquery computes everything (fronts, ranks, per-layer sums) in C and hands this
script a JSON description; the script only draws. Usage:

    plot.py front|layers|sweep|energy DESCRIPTION.json OUT.png

front:  {"title", "x": {"name", "unit", "values"}, "y": {...}, "front": [row, ...],
         "color": {"name", "unit", "values", "labels", "discrete"} (optional)}
layers: {"title", "layers": [names], "phases": ["fp", "bp", "wg"],
         "cycles": {"run": [[per phase] per layer], "dense": [...]},
         "energy_pj": {"run": [...], "dense": [...]}}
sweep:  {"title", "x": {"name", "unit", "ticks": [[code, name], ...] (choices)},
         "y": {"name", "unit"},
         "lines": [{"label", "points": [[x, y, points aggregated], ...]}]}
energy: {"title", "components": [names], "points": [{"label", "run": [per component],
         "dense": [...]}]}

Figures are 1000 x 600 pixels (10 x 6 inches at 100 dpi); the energy breakdown and the
layers of a network of more than 24 compute layers grow wider with the number of bars,
and the layers' figure is 1000 x 800 (a panel of speedups above the cycles and energy).
"""
import json
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)

WIDTH_IN, HEIGHT_IN, DPI = 10, 6, 100


def title(d, width=100):
    """The description's title, wrapped so that it stays inside the figure."""
    return "\n".join(textwrap.wrap(d.get("title", ""), width)) or ""


def label(axis):
    unit = axis.get("unit") or ""
    return f"{axis['name']} [{unit}]" if unit else axis["name"]


def scatter_colored(ax, xs, ys, c):
    """Every point coloured by a column: a legend entry per value when the column has
    choices or few values, a colour bar otherwise."""
    vals, labels = c["values"], c["labels"]
    distinct = sorted(set(v for v in vals if v == v))
    if c["discrete"] or len(distinct) <= 10:
        for k, v in enumerate(distinct):
            idx = [i for i, w in enumerate(vals) if w == v]
            ax.scatter([xs[i] for i in idx], [ys[i] for i in idx], s=16, color=f"C{k % 10}",
                       alpha=0.8, label=f"{c['name']} = {labels[idx[0]]}")
        return None
    return ax.scatter(xs, ys, s=16, c=vals, cmap="viridis", alpha=0.85)


def plot_front(d, out):
    xs, ys = d["x"]["values"], d["y"]["values"]
    front = sorted(d["front"], key=lambda i: (xs[i], ys[i]))
    fig, ax = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    bar = None
    if "color" in d:
        bar = scatter_colored(ax, xs, ys, d["color"])
        if bar is not None:
            fig.colorbar(bar, ax=ax, label=label(d["color"]))
    else:
        ax.scatter(xs, ys, s=12, color="0.65", label=f"all points ({len(xs)})")
    ax.plot([xs[i] for i in front], [ys[i] for i in front], "o-", ms=7 if "color" in d else 5,
            color="black" if "color" in d else "C3", mfc="none" if "color" in d else "C3",
            label=f"Pareto front ({len(front)})")
    ax.set_xlabel(label(d["x"]))
    ax.set_ylabel(label(d["y"]))
    ax.set_title(title(d))
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)


def stage(name):
    """The stage of a layer, from its name: "layer2.1.conv2" is in "layer2"; a name without
    a dot is a stage of its own."""
    return name.split(".")[0]


def plot_layers(d, out):
    layers, phases = d["layers"], d["phases"]
    n = len(layers)
    width_in = max(WIDTH_IN, 0.28 * n + 2) if n > 24 else WIDTH_IN
    fig, axes = plt.subplots(3, 1, figsize=(width_in, 8), dpi=DPI, sharex=True,
                             gridspec_kw={"height_ratios": [1.2, 1, 1]})
    # Speedup per layer and phase: dense cycles over sparse, 1 = no gain.
    for p, phase in enumerate(phases):
        sp = [d["cycles"]["dense"][i][p] / d["cycles"]["run"][i][p]
              if d["cycles"]["run"][i][p] > 0 else float("nan") for i in range(n)]
        axes[0].plot(range(n), sp, "o-" if n <= 60 else ".-", color=f"C{p}", ms=4, lw=1,
                     label=f"{phase}")
    axes[0].axhline(1, color="0.3", lw=0.8)
    axes[0].set_ylabel("speedup (dense / sparse)")
    axes[0].legend(ncol=len(phases), fontsize="small")
    width = 0.8 / (2 * len(phases))
    for ax, key, name in ((axes[1], "cycles", "cycles"), (axes[2], "energy_pj", "energy [pJ]")):
        for p, phase in enumerate(phases):
            for k, (kind, shade) in enumerate((("dense", 0.35), ("run", 1.0))):
                vals = [d[key][kind][i][p] for i in range(n)]
                pos = [i - 0.4 + width * (2 * p + k + 0.5) for i in range(n)]
                ax.bar(pos, vals, width, color=f"C{p}", alpha=shade,
                       label=f"{phase} {'dense' if kind == 'dense' else 'sparse'}")
        ax.set_ylabel(name)
    axes[1].legend(ncol=len(phases), fontsize="small")
    # Stages (ResNet's layer1 ... layer4) as bands, named above the top panel.
    stages = []
    for i, name in enumerate(layers):
        if not stages or stage(name) != stages[-1][0]:
            stages.append([stage(name), i, i])
        stages[-1][2] = i
    for ax in axes:
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_xlim(-0.6, n - 0.4)
        for k, (name, a, b) in enumerate(stages):
            if k % 2 == 1 and b > a:
                ax.axvspan(a - 0.5, b + 0.5, color="0.93", zorder=0)
    if len(stages) < n:
        for name, a, b in stages:
            if b > a:
                axes[0].text((a + b) / 2, 1.02, name, transform=axes[0].get_xaxis_transform(),
                             ha="center", va="bottom", fontsize="small")
    axes[0].set_title(title(d), pad=18 if len(stages) < n else 6)
    axes[2].set_xticks(range(n))
    axes[2].set_xticklabels(layers, rotation=90, fontsize="x-small" if n <= 60 else 6)
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)


def plot_sweep(d, out):
    fig, ax = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    markers = "os^vD<>pPX*h"
    for k, line in enumerate(d["lines"]):
        pts = line["points"]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=markers[k % len(markers)],
                color=f"C{k % 10}", ms=5, label=line["label"])
    ax.set_xlabel(label(d["x"]))
    ax.set_ylabel(label(d["y"]))
    if "ticks" in d["x"]:
        ax.set_xticks([t[0] for t in d["x"]["ticks"]])
        ax.set_xticklabels([t[1] for t in d["x"]["ticks"]])
    ax.set_title(title(d))
    ax.grid(True, alpha=0.3)
    if len(d["lines"]) > 1 or d["lines"][0]["label"] != d["y"]["name"]:
        ax.legend(fontsize="small", ncol=2 if len(d["lines"]) > 8 else 1)
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)


def plot_energy(d, out):
    comps, pts = d["components"], d["points"]
    n = len(pts)
    fig, ax = plt.subplots(figsize=(max(WIDTH_IN, 0.9 * n + 2), HEIGHT_IN), dpi=DPI)
    for side, (kind, shift, hatch) in enumerate((("run", -0.2, None), ("dense", 0.2, "//"))):
        bottom = [0.0] * n
        for c, comp in enumerate(comps):
            vals = [p[kind][c] for p in pts]
            ax.bar([i + shift for i in range(n)], vals, 0.38, bottom=bottom, color=f"C{c}",
                   hatch=hatch, edgecolor="white" if hatch else None, lw=0,
                   label=comp if side == 0 else None)
            bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xticks(range(n))
    ax.set_xticklabels([p["label"] for p in pts], fontsize="x-small")
    ax.set_ylabel("energy per training iteration [pJ]")
    ax.set_title(title(d))
    ax.grid(True, axis="y", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], fontsize="small", loc="upper left",
              bbox_to_anchor=(1.0, 1.0), title="component\n(hatched: dense)")
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)


PLOTS = {"front": plot_front, "layers": plot_layers, "sweep": plot_sweep, "energy": plot_energy}


def main(argv):
    if len(argv) != 4 or argv[1] not in PLOTS:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[2]) as f:
        d = json.load(f)
    PLOTS[argv[1]](d, argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
