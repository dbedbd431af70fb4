"""study_report.py - the report of the SparseTrain study (analysis/study.py), written from
the result files of one run and nothing else.

write(out, report, figs) reads OUT/{speedup,imbalance,energy,pareto,accuracy}.h5,
OUT/pareto_exact.json and OUT/manifest.json, draws the plots into figs
(sparsetrain_*.png) and writes the Markdown report. Every figure of the report is
formatted from those files here; the fixed text holds none (tests/prog/study.t checks
every number of a report against the files).
"""
import json
import math
import os

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

import stload  # noqa: E402

PHASES = ["fp", "bp", "wg"]
TABLE_COLS = ["speedup_fp", "speedup_bp", "speedup_wg", "speedup", "energy_gain_fp",
              "energy_gain_bp", "energy_gain_wg", "energy_gain"]
COMPONENTS = ["mac", "reg", "ch0", "ch1", "ch2", "dram", "leak"]
COMPONENT_NAMES = {"mac": "MAC", "reg": "PE registers", "ch0": "ch0 buffer",
                   "ch1": "ch1 buffer", "ch2": "ch2 buffer", "dram": "DRAM",
                   "leak": "leakage"}
NET_NAMES = {"alexnet": "AlexNet", "resnet18": "ResNet-18", "resnet34": "ResNet-34",
             "resnet50": "ResNet-50", "vgg16": "VGG-16", "fmnist-cnn": "fmnist-cnn",
             "fmnist-resnet": "fmnist-resnet"}


# --- numbers: every figure of the report goes through one of these ------------------

def f3(x):
    """A ratio (speedup, gain): three decimals."""
    return "%.3f" % x


def pct(x):
    """A fraction as a percentage, one decimal."""
    return "%.1f%%" % (100 * x)


def mega(x):
    """A count in millions, four significant digits (cycles: Mcycles)."""
    return sig(x / 1e6, 4)


def pct2(x):
    """A small fraction (a gap) as a percentage, two decimals."""
    return "%.2f%%" % (100 * x)


def mj(x_pj):
    """Energy in pJ as mJ, three significant digits."""
    return sig3(x_pj / 1e9)


def sig3(x):
    return sig(x, 3)


def sig(x, n):
    """n significant digits, never in exponent form."""
    if x == 0:
        return "0"
    d = max(0, n - 1 - int(math.floor(math.log10(abs(x)))))
    return "%.*f" % (d, x)


def num(x):
    """A parameter's value as given: integers without a point."""
    if isinstance(x, str):
        return x
    if float(x) == int(x):
        return "%d" % int(x)
    return "%g" % x


def secs(x):
    return "%.0f s" % x


# --- data ---------------------------------------------------------------------------

def networks_of(df):
    """The networks of a result file that appear in its rows, in the sweep's order."""
    cats = list(df["network"].cat.categories)
    have = set(df["network"].astype(str))
    return [n for n in cats if n in have]


def front_rows(df, mins, maxs):
    """The index labels of the non-dominated rows of df, minimising mins and maximising
    maxs (a brute force: every pair)."""
    cols = [df[c].to_numpy(float) for c in mins] + [-df[c].to_numpy(float) for c in maxs]
    v = np.column_stack(cols)
    keep = []
    for i in range(len(v)):
        le = np.all(v <= v[i], axis=1)
        lt = np.any(v < v[i], axis=1)
        if not np.any(le & lt):
            keep.append(df.index[i])
    return keep


def geomean(xs):
    xs = [x for x in xs]
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def load(out, name):
    path = os.path.join(out, name + ".h5")
    df = stload.load(path)
    df.attrs["path"] = path
    return df


def only(df, **eq):
    m = df.status == "ok"
    for k, v in eq.items():
        m &= df[k].astype(str) == str(v) if isinstance(v, str) else df[k] == v
    return df[m]


def one(df, **eq):
    d = only(df, **eq)
    if len(d) != 1:
        raise ValueError("expected one point for %s, found %d" % (eq, len(d)))
    return d.iloc[0]


def default_of(df, name):
    """The parameter table's default of a parameter, as the file records it."""
    with h5py.File(df.attrs["path"], "r") as f:
        return float(f["params"][name].attrs["default"])


def train_setting(df, key):
    """A setting of the sweep's train table, from the space the file records."""
    for line in df.attrs["provenance"].get("space", "").splitlines():
        line = line.strip()
        if line.startswith("train:"):
            parts = [p.strip().split() for p in line[len("train:"):].split(",")]
            for p in parts:
                if p[0] == key:
                    return float(p[1])
    raise ValueError("no train setting %s in the file" % key)


# --- the report ---------------------------------------------------------------------

class Report:
    def __init__(self):
        self.lines = []

    def p(self, *text):
        self.lines.append("".join(text))

    def table(self, head, rows):
        self.lines.append("| " + " | ".join(head) + " |")
        self.lines.append("|" + "---|" * len(head))
        for r in rows:
            self.lines.append("| " + " | ".join(r) + " |")
        self.lines.append("")

    def text(self):
        return "\n".join(self.lines) + "\n"


def fig_path(figs, report, name):
    return os.path.relpath(os.path.join(figs, name), os.path.dirname(report))


def write(out, report, figs):
    man = json.load(open(os.path.join(out, "manifest.json")))
    sp = load(out, "speedup")
    im = load(out, "imbalance")
    en = load(out, "energy")
    pa = load(out, "pareto")
    acs = [load(out, "accuracy")]
    if os.path.exists(os.path.join(out, "accuracy_seed2.h5")):
        acs.append(load(out, "accuracy_seed2"))
    exact = json.load(open(os.path.join(out, "pareto_exact.json")))["points"]
    r = Report()
    header(r, man, sp, out)
    summary(r, sp, im, acs)
    assumptions(r, sp)
    speedup(r, sp, figs, report)
    imbalance(r, im, figs, report)
    energy(r, sp, en, figs, report)
    pareto(r, pa, exact, figs, report)
    accuracy(r, acs, figs, report)
    with open(report, "w") as f:
        f.write(r.text())


def header(r, man, sp, out):
    s = man["seconds"]
    r.p("# The SparseTrain question, answered by simulation")
    r.p("")
    r.p("<!-- generated by analysis/study.py from the result files of one run; do not edit -->")
    r.p("")
    r.p("How much faster, and how much more energy-efficient, is training on a sparse-aware "
        "array of one-dimensional convolutions than on the same array run densely, for "
        "AlexNet and the ResNets; where does the gain come from, and what does it cost in "
        "accuracy? Every figure below is read from the result files of one run of the "
        "study (`%s`, the HDF5 files of `stexplore`, `pareto_exact.json` and "
        "`manifest.json`) by `analysis/study_report.py`; the text between them is fixed. "
        "`./setup.sh study` (or `analysis/study.py`) runs the study again and rewrites "
        "this page; `--quick` runs a smaller one into `results/study-quick/`." %
        os.path.relpath(out, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    r.p("")
    r.p("**This run** (%s mode): %s of wall time for the whole study%s on a %s machine of "
        "%s cores (%s), shared with other work: load average %s at the start and %s at the "
        "end; sweeps on %s MPI ranks%s; git revision %s." % (
            man["mode"], secs(s["total"]),
            " (%s of CPU in its sub-processes)" % secs(man["cpu_s"]) if "cpu_s" in man else "",
            man["machine"], num(man["cores"]),
            man.get("os", "Linux"), " ".join("%.2f" % x for x in man["load_start"]),
            " ".join("%.2f" % x for x in man["load_end"]), num(man["ranks"]),
            "" if man["mpirun"] else " (mpirun missing: one process)",
            man.get("git_revision", "")))
    r.p("")
    r.table(["step", "wall time"], [[k.replace("_", " "), secs(v)] for k, v in s.items()
                                    if k != "total"])


KEY = ["network", "p", "pe_rows", "pe_cols"]
HW = ["cycles", "energy_pj", "area_mm2", "speedup", "energy_gain"]


def seeds_table(acs):
    """The accuracy sweeps of every seed as one table: per design (network, p, PE rows,
    PE columns) simulated in every seed's file, the mean over the seeds of its cycles,
    energy, area, speedup, energy gain and test accuracy, and acc_<k>, the accuracy of
    seed k's training."""
    parts = []
    for k, ac in enumerate(acs):
        d = ac[ac.status == "ok"][KEY + HW + ["test_accuracy"]].copy()
        d["network"] = d.network.astype(str)
        d = d.rename(columns={c: "%s_%d" % (c, k) for c in HW + ["test_accuracy"]})
        parts.append(d.set_index(KEY))
    t = parts[0].join(parts[1:], how="inner") if len(parts) > 1 else parts[0]
    for c in HW + ["test_accuracy"]:
        t[c] = t[["%s_%d" % (c, k) for k in range(len(acs))]].mean(axis=1)
    return t.reset_index()


def spread(t, net, k):
    """The pooled standard deviation of one network's test accuracy between the k seeds'
    trainings, over its rates (one training per rate and seed)."""
    if k < 2:
        raise ValueError("the accuracy's spread needs two seeds' sweeps (accuracy_seed2.h5)")
    a = t[t.network == net].groupby("p")[["test_accuracy_%d" % i for i in range(k)]].first()
    dev = a.sub(a.mean(axis=1), axis=0)
    return math.sqrt((dev.to_numpy() ** 2).sum() / (len(a) * (k - 1)))


def pick_p(t, net, k, rows, cols):
    """The designer's pick for one network on the array rows x cols: the p of highest
    mean speedup whose mean accuracy is not below that of the lowest p by more than two
    standard errors of the difference (sqrt(2 / k) times the pooled spread). Returns (the
    pick's row, the lowest p's row, the spread, the tolerance)."""
    d = t[(t.network == net) & (t.pe_rows == rows) & (t.pe_cols == cols)].sort_values("p")
    x0 = d.iloc[0]
    sd = spread(t, net, k)
    tol = 2 * sd * math.sqrt(2 / k)
    good = [x for _, x in d.iterrows() if x.test_accuracy >= x0.test_accuracy - tol]
    return max(good, key=lambda x: x.speedup), x0, sd, tol


def summary(r, sp, im, acs):
    nets = networks_of(sp)
    ps = sorted(sp.p.unique())
    cal = only(sp, sparsity="calibrated")

    def gm(p, col):
        return geomean([one(cal, network=n, p=p)[col] for n in nets])

    r.p("## In short")
    r.p("")
    r.p("- **Speedup over dense**, geometric mean over %s: %s from natural sparsity alone "
        "(p = %s), %s with pruning. **Energy gain**: %s alone, %s with pruning." % (
            ", ".join(NET_NAMES.get(n, n) for n in nets), f3(gm(ps[0], "speedup")),
            num(ps[0]), ", ".join("%s at p = %s" % (f3(gm(p, "speedup")), num(p))
                                  for p in ps[1:]),
            f3(gm(ps[0], "energy_gain")),
            ", ".join("%s at p = %s" % (f3(gm(p, "energy_gain")), num(p)) for p in ps[1:])))
    top = ps[-1]
    ph = sorted(PHASES, key=lambda h: -gm(top, "speedup_" + h))
    r.p("- **By phase** at p = %s (geometric means): %s. The pruning speeds up only BP and "
        "WG, which stream the pruned gradients." % (
            num(top), ", ".join("%s %s" % (h.upper(), f3(gm(top, "speedup_" + h)))
                                for h in ph)))
    ok = im[im.status == "ok"].copy()
    ok["reached"] = ok.speedup / (ok.dense_macs / ok.useful_macs)
    ls = ok[ok.sync.astype(str) == "lockstep"]
    ff = ok[ok.sync.astype(str) == "fifo"]
    ff = ff[ff.fifo_depth == ff.fifo_depth.max()]
    r.p("- **Load imbalance and stalls**: of the ideal speedup (dense MACs over useful "
        "MACs), lock-step PEs reach %s to %s, and decoupled PEs with FIFOs %s to %s (depth "
        "%s), over the networks and rates of the imbalance study." % (
            pct(ls.reached.min()), pct(ls.reached.max()), pct(ff.reached.min()),
            pct(ff.reached.max()), num(ff.fifo_depth.max())))
    dr = [one(cal, network=n, p=top) for n in nets]
    r.p("- **Energy**: at p = %s on the default array DRAM is %s to %s of the sparse energy "
        "(%s to %s of the dense): skipping zeros saves DRAM energy only as far as the "
        "compressed tensors are smaller than the dense ones." % (
            num(top), pct(min(x.energy_pj_dram / x.energy_pj for x in dr)),
            pct(max(x.energy_pj_dram / x.energy_pj for x in dr)),
            pct(min(x.dense_energy_pj_dram / x.dense_energy_pj for x in dr)),
            pct(max(x.dense_energy_pj_dram / x.dense_energy_pj for x in dr))))
    ac = acs[0]
    t = seeds_table(acs)
    rd, cd = default_of(ac, "pe_rows"), default_of(ac, "pe_cols")
    picks = []
    for n in networks_of(ac):
        pk, x0, _, _ = pick_p(t, n, len(acs), rd, cd)
        picks.append("%s p = %s (speedup %s against %s at p = %s, accuracy %s against %s)" % (
            NET_NAMES.get(n, n), num(pk.p), f3(pk.speedup), f3(x0.speedup), num(x0.p),
            f3(pk.test_accuracy), f3(x0.test_accuracy)))
    r.p("- **Accuracy**, on the small networks trained here (means over the seeds): the pick "
        "is %s." %
        "; ".join(picks))
    r.p("")


def assumptions(r, sp):
    row = sp[sp.status == "ok"].iloc[0]
    roles = sp.attrs["roles"]
    units = sp.attrs["units"]
    names = ["pe_rows", "pe_cols", "macs_per_pe", "clock_mhz", "ch0_kib", "ch1_kib",
             "ch2_kib", "dram_gbps", "data_bits", "index_bits", "psum_bits", "format",
             "sync", "fifo_depth", "step_overhead", "batch", "fidelity"]
    if str(row["fidelity"]) == "sampled":
        names.append("sample_fraction")
    r.p("## Assumptions")
    r.p("")
    r.p("The SparseTrain paper (Dai, Yang, Ye et al., DAC) does not publish its design parameters: its PE "
        "count, clock, buffer sizes, precision, energy and area figures are unknown. The "
        "architecture below is ours (the defaults of `core/param.c`, "
        "[parameters.md](parameters.md)), and so are the energy and area technology "
        "figures ([energy-area.md](energy-area.md)). What is the paper's: the dataflow "
        "(every phase as one-dimensional convolutions, zeros skipped in the streamed "
        "operand and, in weight gradients, in the second one), and the stochastic, "
        "unbiased pruning of the activation gradients at rate p. Where not said "
        "otherwise, the study runs this point:")
    r.p("")
    r.table(["parameter", "value", "unit"],
            [["`%s`" % n, num(row[n]) if not hasattr(row[n], "categories") else str(row[n]),
              units.get(n, "") or ""] for n in names if n in row.index])
    r.p("Sparsity: *calibrated* is `sparsity=calibrated`, per-layer ReLU densities and a "
        "lognormal law of the raw gradients fitted on traces of our own training of two "
        "small networks on Fashion-MNIST (`calib/fmnist.calib`, "
        "[sparsity.md](sparsity.md)), carried to the ImageNet-sized networks by family "
        "and relative depth: an assumption of ours, not a measurement on ImageNet. "
        "*Default* is the old uncalibrated model, `sparsity=default` (one ReLU density for "
        "every layer and normal gradient values, as in the parameter table). In both, zeros "
        "are independent (no per-channel dispersion, no spatial correlation); real traces "
        "are more uneven ([sparsity.md](sparsity.md), \"Cycles: trace, calibrated model, old "
        "defaults\"), so the load imbalance below is likely a lower bound. p = 0 is the natural sparsity alone (ReLU, "
        "pooling and the gradients they mask); p > 0 adds the pruning. Every point's "
        "sparsity draws are the same at every p (common random numbers).")
    r.p("")
    _ = roles


def speedup(r, sp, figs, report):
    nets = networks_of(sp)
    ps = sorted(sp.p.unique())
    r.p("## Speedup and energy gain over dense")
    r.p("")
    r.p("Per network and pruning rate, the speedup (dense cycles over sparse cycles, the "
        "same array with every zero-skipping switch off as the baseline) of each phase "
        "(FP forward, BP input gradient, WG weight gradient) and in total, and the energy "
        "gain (dense energy over sparse energy). *mean* is the geometric mean over the "
        "networks.")
    r.p("")
    for model in ("calibrated", "default"):
        rows = []
        for p in ps:
            for n in nets + ["mean"]:
                if n == "mean":
                    d = [one(sp, network=m, p=p, sparsity=model) for m in nets]
                    vals = [geomean([x[c] for x in d]) for c in TABLE_COLS]
                else:
                    x = one(sp, network=n, p=p, sparsity=model)
                    vals = [x[c] for c in TABLE_COLS]
                rows.append([num(p), NET_NAMES.get(n, n) if n != "mean" else "*mean*"] +
                            [f3(v) for v in vals])
        r.p("**Sparsity %s**%s:" % (model, " (the study's model)" if model == "calibrated"
                                    else " (the old uncalibrated defaults, for comparison)"))
        r.p("")
        r.table(["p", "network", "speedup FP", "BP", "WG", "total", "energy gain FP", "BP",
                 "WG", "total"], rows)
    # where the gain comes from: natural sparsity, then pruning
    r.p("**Where the gain comes from** (calibrated): the speedup of natural sparsity "
        "alone (p = %s), and the factor the pruning multiplies it by at each p > %s, per "
        "phase and in total." % (num(ps[0]), num(ps[0])))
    r.p("")
    rows = []
    for n in nets:
        x0 = one(sp, network=n, p=ps[0], sparsity="calibrated")
        for p in ps[1:]:
            x = one(sp, network=n, p=p, sparsity="calibrated")
            rows.append([NET_NAMES.get(n, n), num(p)] +
                        ["%s x %s" % (f3(x0[c]), f3(x[c] / x0[c]))
                         for c in ["speedup_" + ph for ph in PHASES] + ["speedup"]])
    r.table(["network", "p", "FP", "BP", "WG", "total"], rows)
    # sentences
    top = ps[-1]
    lo = [one(sp, network=n, p=ps[0], sparsity="calibrated").speedup for n in nets]
    hi = [one(sp, network=n, p=top, sparsity="calibrated").speedup for n in nets]
    eg = [one(sp, network=n, p=top, sparsity="calibrated").energy_gain for n in nets]
    best = nets[int(np.argmax(hi))]
    worst = nets[int(np.argmin(hi))]
    r.p("With the calibrated model, natural sparsity alone gives a speedup of %s to %s; "
        "with pruning at p = %s it is %s to %s (geometric mean %s), the most for %s and "
        "the least for %s, and the energy gain is %s to %s. FP does not move with p: the "
        "pruning acts on gradients, and FP skips only the zeros of the activations." % (
            f3(min(lo)), f3(max(lo)), num(top), f3(min(hi)), f3(max(hi)), f3(geomean(hi)),
            NET_NAMES.get(best, best), NET_NAMES.get(worst, worst), f3(min(eg)),
            f3(max(eg))))
    r.p("")
    cal = [one(sp, network=n, p=top, sparsity="calibrated").speedup for n in nets]
    dfl = [one(sp, network=n, p=top, sparsity="default").speedup for n in nets]
    r.p("Against the old defaults at p = %s, the calibrated model changes the speedup by "
        "a factor of %s to %s (%s)." % (
            num(top), f3(min(c / d for c, d in zip(cal, dfl))),
            f3(max(c / d for c, d in zip(cal, dfl))),
            ", ".join("%s %s" % (NET_NAMES.get(n, n), f3(c / d))
                      for n, c, d in zip(nets, cal, dfl))))
    r.p("")
    plot_speedup(sp, nets, ps, os.path.join(figs, "sparsetrain_speedup.png"))
    r.p("![speedup and energy gain per phase against p](%s)" %
        fig_path(figs, report, "sparsetrain_speedup.png"))
    r.p("")


def plot_speedup(sp, nets, ps, path):
    fig, axes = plt.subplots(2, 4, figsize=(14, 7), sharex=True)
    for j, ph in enumerate(PHASES + [""]):
        for i, what in enumerate(("speedup", "energy_gain")):
            ax = axes[i][j]
            col = what + ("_" + ph if ph else "")
            for k, n in enumerate(nets):
                for model, ls in (("calibrated", "-"), ("default", "--")):
                    y = [one(sp, network=n, p=p, sparsity=model)[col] for p in ps]
                    ax.plot(ps, y, ls, marker="o", color="C%d" % k,
                            label="%s, %s" % (NET_NAMES.get(n, n), model))
            ax.set_title("%s %s" % (what.replace("_", " "), ph.upper() or "total"))
            ax.grid(alpha=0.3)
            if i == 1:
                ax.set_xlabel("pruning rate p")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def imbalance(r, im, figs, report):
    nets = networks_of(im)
    ok = im[im.status == "ok"].copy()
    ok["ideal"] = ok.dense_macs / ok.useful_macs
    ok["reached"] = ok.speedup / ok.ideal
    ok["stall"] = ok.stall_cycles / ok.cycles
    r.p("## Load imbalance: how much of the ideal speedup is lost")
    r.p("")
    r.p("The ideal speedup is the dense MACs over the useful ones: what the array would "
        "reach if skipping zeros cost nothing else. *reached* is the achieved speedup over "
        "it, which equals the sparse run's PE utilisation over the dense run's. Lock-step rows wait at every row step for the longest row; decoupled "
        "PEs (`sync=fifo`) wait only when a FIFO between them is full or empty. *stalls* "
        "is the share of cycles spent waiting for DRAM, the part of the loss that is not "
        "imbalance. Calibrated sparsity, the default array.")
    r.p("")
    rows = []
    for _, x in ok.sort_values(["network", "p", "sync", "fifo_depth"]).iterrows():
        rows.append([NET_NAMES.get(str(x.network), str(x.network)), num(x.p), str(x.sync),
                     num(x.fifo_depth) if str(x.sync) == "fifo" else "",
                     f3(x.ideal), f3(x.speedup), pct(x.reached), pct(x.stall)])
    r.table(["network", "p", "sync", "FIFO depth", "ideal", "achieved", "reached",
             "stalls"], rows)
    for n in nets:
        for p in sorted(ok.p.unique()):
            d = ok[(ok.network.astype(str) == n) & (ok.p == p)]
            if not len(d):
                continue
            ls = d[d.sync.astype(str) == "lockstep"]
            ff = d[d.sync.astype(str) == "fifo"]
            if not len(ls) or not len(ff):
                continue
            b = ff.loc[ff.reached.idxmax()]
            r.p("%s at p = %s: lock-step reaches %s of the ideal %s; FIFOs reach at most "
                "%s (depth %s); imbalance, step overheads and DRAM stalls take the other %s of "
                "the ideal "
                "speedup." % (NET_NAMES.get(n, n), num(p), pct(ls.iloc[0].reached),
                              f3(ls.iloc[0].ideal), pct(b.reached), num(b.fifo_depth),
                              pct(1 - b.reached)))
            r.p("")
    plot_imbalance(ok, nets, os.path.join(figs, "sparsetrain_imbalance.png"))
    r.p("![share of the ideal speedup reached against FIFO depth](%s)" %
        fig_path(figs, report, "sparsetrain_imbalance.png"))
    r.p("")


def plot_imbalance(ok, nets, path):
    fig, ax = plt.subplots(figsize=(8, 5))
    k = 0
    for n in nets:
        for p in sorted(ok.p.unique()):
            d = ok[(ok.network.astype(str) == n) & (ok.p == p)]
            ff = d[d.sync.astype(str) == "fifo"].sort_values("fifo_depth")
            ls = d[d.sync.astype(str) == "lockstep"]
            if len(ff):
                ax.plot(ff.fifo_depth, ff.reached, marker="o", color="C%d" % k,
                        label="%s p=%s fifo" % (NET_NAMES.get(n, n), num(p)))
            if len(ls):
                ax.axhline(ls.iloc[0].reached, ls="--", color="C%d" % k,
                           label="%s p=%s lockstep" % (NET_NAMES.get(n, n), num(p)))
            k += 1
    ax.set_xscale("log", base=2)
    ax.set_xlabel("FIFO depth [entries]")
    ax.set_ylabel("achieved / ideal speedup")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def energy(r, sp, en, figs, report):
    nets = networks_of(sp)
    ps = sorted(sp.p.unique())
    mid = [p for p in ps if p > 0]
    pm = mid[len(mid) // 2] if mid else ps[-1]
    r.p("## Where the energy goes")
    r.p("")
    r.p("Energy of one training iteration per component, dense and sparse at p = %s "
        "(calibrated, the default array), as shares of each total:" % num(pm))
    r.p("")
    rows = []
    for n in nets:
        x = one(sp, network=n, p=pm, sparsity="calibrated")
        rows.append([NET_NAMES.get(n, n), "dense", mj(x.dense_energy_pj)] +
                    [pct(x["dense_energy_pj_" + c] / x.dense_energy_pj) for c in COMPONENTS])
        rows.append([NET_NAMES.get(n, n), "sparse", mj(x.energy_pj)] +
                    [pct(x["energy_pj_" + c] / x.energy_pj) for c in COMPONENTS])
    r.table(["network", "run", "energy [mJ]"] + [COMPONENT_NAMES[c] for c in COMPONENTS],
            rows)
    net = networks_of(en)[0]
    ok = en[en.status == "ok"]
    r.p("How it moves with the buffers (ch0, ch1 and ch2 all of the size given) and the "
        "batch, for %s at p = %s: energy per image, sparse and dense, the gain, and "
        "DRAM's share of each total%s." % (
            NET_NAMES.get(net, net), num(ok.p.iloc[0]),
            "" if (en.status == "ok").all() else
            " (designs whose buffers cannot hold a tile fail and are left out)"))
    r.p("")
    rows = []
    for _, x in ok.sort_values(["batch", "ch0_kib"]).iterrows():
        rows.append([num(x.batch), num(x.ch0_kib), mj(x.energy_pj / x.batch),
                     mj(x.dense_energy_pj / x.batch), f3(x.energy_gain),
                     pct(x.energy_pj_dram / x.energy_pj),
                     pct(x.dense_energy_pj_dram / x.dense_energy_pj)])
    r.table(["batch", "buffers [KiB]", "sparse [mJ/image]", "dense [mJ/image]", "gain",
             "DRAM share sparse", "DRAM share dense"], rows)
    shares = ok.energy_pj_dram / ok.energy_pj
    dshares = ok.dense_energy_pj_dram / ok.dense_energy_pj
    lo, hi = ok.loc[ok.energy_gain.idxmin()], ok.loc[ok.energy_gain.idxmax()]
    r.p("Over these designs DRAM takes %s to %s of the sparse energy and %s to %s of the "
        "dense; the energy gain ranges from %s (batch %s, %s KiB buffers) to %s (batch "
        "%s, %s KiB). Zero skipping saves MAC and register energy in proportion to the "
        "skipped work, but DRAM energy only as far as the compressed tensors are smaller "
        "than the dense ones." % (
            pct(shares.min()), pct(shares.max()), pct(dshares.min()), pct(dshares.max()),
            f3(lo.energy_gain), num(lo.batch), num(lo.ch0_kib), f3(hi.energy_gain),
            num(hi.batch), num(hi.ch0_kib)))
    r.p("")
    plot_energy(sp, nets, ps, ok, os.path.join(figs, "sparsetrain_energy.png"))
    r.p("![energy per component, dense and sparse, and per image against buffers and "
        "batch](%s)" % fig_path(figs, report, "sparsetrain_energy.png"))
    r.p("")


def plot_energy(sp, nets, ps, ok, path):
    fig, (a, b) = plt.subplots(1, 2, figsize=(14, 5.5))
    labels, bottoms, x = [], None, 0
    bars = []
    for n in nets:
        x0 = one(sp, network=n, p=ps[0], sparsity="calibrated")
        bars.append(("%s dense" % NET_NAMES.get(n, n),
                     [x0["dense_energy_pj_" + c] / x0.dense_energy_pj for c in COMPONENTS]))
        for p in ps:
            xp = one(sp, network=n, p=p, sparsity="calibrated")
            bars.append(("%s p=%s" % (NET_NAMES.get(n, n), num(p)),
                         [xp["energy_pj_" + c] / x0.dense_energy_pj for c in COMPONENTS]))
    bottoms = np.zeros(len(bars))
    for k, c in enumerate(COMPONENTS):
        h = np.array([v[k] for _, v in bars])
        a.bar(range(len(bars)), h, bottom=bottoms, label=COMPONENT_NAMES[c], color="C%d" % k)
        bottoms += h
    labels = [t for t, _ in bars]
    a.set_xticks(range(len(bars)))
    a.set_xticklabels(labels, rotation=90, fontsize=7)
    a.set_ylabel("energy / the network's dense energy")
    a.set_title("energy per component (calibrated sparsity)")
    a.legend(fontsize=7)
    for k, bt in enumerate(sorted(ok.batch.unique())):
        d = ok[ok.batch == bt].sort_values("ch0_kib")
        b.plot(d.ch0_kib, d.energy_pj / bt / 1e9, "-o", color="C%d" % k,
               label="batch %s sparse" % num(bt))
        b.plot(d.ch0_kib, d.dense_energy_pj / bt / 1e9, "--", color="C%d" % k,
               label="batch %s dense" % num(bt))
    b.set_xscale("log", base=2)
    b.set_xlabel("each buffer [KiB]")
    b.set_ylabel("energy per image [mJ]")
    b.grid(alpha=0.3)
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    _ = x


def pareto(r, pa, exact, figs, report):
    nets = networks_of(pa)
    ok_all = pa[pa.status == "ok"]
    p = ok_all.p.iloc[0]
    r.p("## The Pareto front of cycles, energy and area")
    r.p("")
    r.p("PE-array shape and the three buffer sizes swept at p = %s (calibrated sparsity, "
        "batch %s, sampled fidelity with sample fraction %s). The front "
        "minimises cycles, energy and area together; the table lists its points in order "
        "of cycles (spread along it when there are many)." % (
            num(p), num(ok_all.batch.iloc[0]), num(ok_all.sample_fraction.iloc[0])))
    r.p("")
    for n in nets:
        d = pa[pa.network.astype(str) == n]
        ok = d[d.status == "ok"]
        fr = sorted(front_rows(ok, ["cycles", "energy_pj", "area_mm2"], []),
                    key=lambda i: ok.at[i, "cycles"])
        show = fr if len(fr) <= 12 else [fr[round(i * (len(fr) - 1) / 11)] for i in range(12)]
        r.p("**%s**: %s designs, %s simulated, %s failed (buffers too small for a tile), "
            "%s on the front." % (NET_NAMES.get(n, n), num(len(d)), num(len(ok)),
                                  num(len(d) - len(ok)), num(len(fr))))
        r.p("")
        rows = []
        for i in show:
            x = ok.loc[i]
            rows.append([num(x.pe_rows), num(x.pe_cols), num(x.ch0_kib), num(x.ch1_kib),
                         num(x.ch2_kib), mega(x.cycles), mj(x.energy_pj), f3(x.area_mm2),
                         f3(x.speedup), f3(x.energy_gain)])
        r.table(["PE rows", "PE cols", "ch0 [KiB]", "ch1 [KiB]", "ch2 [KiB]",
                 "cycles [M]", "energy [mJ]", "area [mm^2]", "speedup", "energy gain"], rows)
        fx = ok.loc[fr]
        r.p("Along the front, cycles span %s to %s M, energy %s to %s mJ and area %s to %s "
            "mm^2." % (mega(fx.cycles.min()), mega(fx.cycles.max()), mj(fx.energy_pj.min()),
                       mj(fx.energy_pj.max()), f3(fx.area_mm2.min()), f3(fx.area_mm2.max())))
        r.p("")
        r.p(default_design(pa, ok, fr))
        r.p("")
    # sampled against exact on the front
    gaps = []
    rows = []
    for e in exact:
        x = pa.loc[e["row"]]
        gc = x.cycles / e["cycles"] - 1
        ge = x.energy_pj / e["energy_pj"] - 1
        gaps.append((abs(gc), abs(ge)))
        rows.append([NET_NAMES.get(e["network"], e["network"]), num(x.pe_rows),
                     num(x.pe_cols), "%s / %s / %s" % (num(x.ch0_kib), num(x.ch1_kib),
                                                       num(x.ch2_kib)), mega(e["cycles"]), mega(x.cycles), pct2(abs(gc)),
                     mj(e["energy_pj"]), mj(x.energy_pj), pct2(abs(ge))])
    r.p("**Sampled against exact.** The sweep simulates a sample of channels in every "
        "layer (`fidelity=sampled`); exact simulation of the whole grid would take too "
        "long here. The study re-simulated %s points of the fronts exactly with `stsim` "
        "(`pareto_exact.json`): the sampled cycles are off by %s on average and %s at "
        "most, the energy by %s and %s." % (
            num(len(exact)), pct2(np.mean([g[0] for g in gaps])),
            pct2(max(g[0] for g in gaps)), pct2(np.mean([g[1] for g in gaps])),
            pct2(max(g[1] for g in gaps))))
    r.p("")
    r.table(["network", "PE rows", "PE cols", "buffers [KiB]", "exact cycles [M]",
             "sampled cycles [M]",
             "gap", "exact energy [mJ]", "sampled energy [mJ]", "gap"], rows)
    plot_pareto(pa, nets, os.path.join(figs, "sparsetrain_pareto.png"))
    r.p("![cycles against energy, coloured by area, front ringed](%s)" %
        fig_path(figs, report, "sparsetrain_pareto.png"))
    r.p("")


def default_design(pa, ok, fr):
    """A sentence on the default design among the points ok (front fr): on the front, or
    which front design beats it in all three objectives by how much."""
    names = ["pe_rows", "pe_cols", "ch0_kib", "ch1_kib", "ch2_kib"]
    m = np.ones(len(ok), bool)
    for c in names:
        m &= ok[c].to_numpy(float) == default_of(pa, c)
    if not m.any():
        return "The default design is not among the simulated ones."
    i = ok.index[m][0]
    x = ok.loc[i]
    if i in fr:
        return "The default design (%s) is on the front." % design(x)
    o = ["cycles", "energy_pj", "area_mm2"]
    better = [j for j in fr if all(ok.at[j, c] <= x[c] for c in o)]
    if not better:
        return "The default design (%s) is off the front." % design(x)
    b = ok.loc[min(better, key=lambda j: ok.at[j, "cycles"])]
    return ("The default design (%s) is off the front: %s takes %s of its cycles, %s of its "
            "energy and %s of its area." % (design(x), design(b), pct(b.cycles / x.cycles),
                                             pct(b.energy_pj / x.energy_pj),
                                             pct(b.area_mm2 / x.area_mm2)))


def design(x):
    return "%s x %s PEs, buffers %s / %s / %s KiB" % (
        num(x.pe_rows), num(x.pe_cols), num(x.ch0_kib), num(x.ch1_kib), num(x.ch2_kib))


def plot_pareto(pa, nets, path):
    fig, axes = plt.subplots(1, len(nets), figsize=(7 * len(nets), 5.5), squeeze=False)
    for ax, n in zip(axes[0], nets):
        ok = pa[(pa.status == "ok") & (pa.network.astype(str) == n)]
        fr = front_rows(ok, ["cycles", "energy_pj", "area_mm2"], [])
        sc = ax.scatter(ok.cycles / 1e6, ok.energy_pj / 1e9, c=ok.area_mm2, s=10,
                        cmap="viridis")
        f = ok.loc[fr]
        ax.scatter(f.cycles / 1e6, f.energy_pj / 1e9, s=40, facecolors="none",
                   edgecolors="red", label="front (cycles, energy, area)")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1, 2, 5)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("cycles [M]")
        ax.set_ylabel("energy [mJ]")
        ax.set_title(NET_NAMES.get(n, n))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.colorbar(sc, ax=ax, label="area [mm^2]")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def accuracy(r, acs, figs, report):
    ac = acs[0]
    k = len(acs)
    nets = networks_of(ac)
    t = seeds_table(acs)
    seeds = [train_setting(a, "seed") for a in acs]
    rows_d, cols_d = default_of(ac, "pe_rows"), default_of(ac, "pe_cols")
    r.p("## Accuracy as a fourth axis")
    r.p("")
    r.p("The small networks trained on Fashion-MNIST at each p (%s epoch(s) of the first "
        "%s training images, tested on the first %s test images) with %s seeds (%s), "
        "every design simulated with the zero masks of its own training's last iteration; "
        "the hardware figures and the accuracy are means over the seeds. The table is the "
        "default array (%s x %s PEs). *spread* is the pooled standard deviation of the "
        "accuracy between seeds over the rates. A designer's pick: the p of highest speedup "
        "whose mean accuracy is not below that of p = %s by more than two standard errors "
        "of the difference." % (
            num(train_setting(ac, "epochs")), num(train_setting(ac, "train_images")),
            num(train_setting(ac, "test_images")), num(k),
            ", ".join(num(v) for v in seeds), num(rows_d), num(cols_d), num(min(t.p))))
    r.p("")
    for n in nets:
        d = t[(t.network == n) & (t.pe_rows == rows_d) & (t.pe_cols == cols_d)].sort_values("p")
        rows = []
        for _, x in d.iterrows():
            rows.append([num(x.p)] + [f3(x["test_accuracy_%d" % i]) for i in range(k)] +
                        [f3(x.test_accuracy), mega(x.cycles), f3(x.speedup),
                         f3(x.energy_gain)])
        r.p("**%s**" % NET_NAMES.get(n, n))
        r.p("")
        r.table(["p"] + ["accuracy, seed %s" % num(v) for v in seeds] +
                ["mean accuracy", "cycles [M]", "speedup", "energy gain"], rows)
        pick, x0, sd, tol = pick_p(t, n, k, rows_d, cols_d)
        nd = t[t.network == n]
        fr = front_rows(nd, ["cycles", "energy_pj", "area_mm2"], ["test_accuracy"])
        fps = sorted(nd.loc[fr].p.unique())
        r.p("The spread between seeds is %s, so the tolerance is %s. Pick p = %s: speedup %s and "
            "energy gain %s on the default array (natural sparsity alone, p = %s: %s and "
            "%s), at a mean test accuracy of %s against %s. The four-axis front (cycles, "
            "energy, area, accuracy; designs of every array) holds %s of the %s designs, "
            "at p = %s." % (
                f3(sd), f3(tol), num(pick.p), f3(pick.speedup), f3(pick.energy_gain),
                num(x0.p), f3(x0.speedup), f3(x0.energy_gain), f3(pick.test_accuracy),
                f3(x0.test_accuracy), num(len(fr)), num(len(nd)),
                ", ".join(num(v) for v in fps)))
        r.p("")
    plot_accuracy(t, nets, k, rows_d, cols_d, os.path.join(figs, "sparsetrain_accuracy.png"))
    r.p("![test accuracy and speedup against p](%s)" %
        fig_path(figs, report, "sparsetrain_accuracy.png"))
    r.p("")


def plot_accuracy(t, nets, k, rows_d, cols_d, path):
    fig, axes = plt.subplots(1, len(nets), figsize=(7 * len(nets), 4.5), squeeze=False)
    for ax, n in zip(axes[0], nets):
        d = t[(t.network == n) & (t.pe_rows == rows_d) & (t.pe_cols == cols_d)].sort_values("p")
        xs = np.arange(len(d))
        for i in range(k):
            ax.plot(xs, d["test_accuracy_%d" % i], "o", color="C0", alpha=0.4)
        ax.plot(xs, d.test_accuracy, "-o", color="C0", label="test accuracy (mean, seeds)")
        ax.set_ylabel("test accuracy", color="C0")
        ax.set_xticks(xs)
        ax.set_xticklabels([num(v) for v in d.p])
        ax.set_xlabel("pruning rate p")
        ax2 = ax.twinx()
        ax2.plot(xs, d.speedup, "s-", color="C1", label="speedup")
        ax2.plot(xs, d.energy_gain, "^-", color="C2", label="energy gain")
        ax2.set_ylabel("over dense")
        ax2.legend(fontsize=8, loc="lower right")
        ax.set_title("%s, %s x %s PEs" % (NET_NAMES.get(n, n), num(rows_d), num(cols_d)))
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
