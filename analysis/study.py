#!/usr/bin/python3
"""study.py - the SparseTrain study in one command: run the sweeps of lua_scripts/study/,
check the sampled Pareto front against exact simulation, and write the report.

    analysis/study.py            the full study: results/study/, docs/study.md, docs/study/sparsetrain_*.png
    analysis/study.py --quick    fewer points, sampled: results/study-quick/ (report and plots there)
    analysis/study.py --tiny --out DIR      a few points of each sweep, for tests/prog/study.t
    analysis/study.py --report-only [...]   the report again from the result files already there
    analysis/study.py --keep-trainings [...] reuse the trainings of an earlier run (otherwise
                                            each run trains afresh)

The sweeps run on NP ranks (default 2) through hpc/local.sh, which runs one process where
mpirun is missing. What each mode sweeps is lua_scripts/study/mode/MODE/study_mode.lua.
Every run writes OUT/manifest.json (times, load averages, machine) beside the result
files; the report (analysis/study_report.py) reads its figures from these files only.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "analysis"))
import stload  # noqa: E402
import study_report  # noqa: E402

SWEEPS = ["speedup", "imbalance", "energy", "pareto", "accuracy", "accuracy_seed2"]


def build_dir():
    return os.environ.get("ST_BUILD", os.path.join(ROOT, "build"))


def paths(args):
    """Where a mode writes: the result folder, the report, the plots' folder."""
    if args.tiny:
        out = args.out or os.path.join(ROOT, "results", "study-tiny")
        return out, os.path.join(out, "study.md"), out
    if args.quick:
        out = args.out or os.path.join(ROOT, "results", "study-quick")
        return out, os.path.join(out, "study.md"), out
    out = args.out or os.path.join(ROOT, "results", "study")
    if args.out:  # a full study elsewhere keeps its report beside its files
        return out, os.path.join(out, "study.md"), out
    return out, os.path.join(ROOT, "docs", "study.md"), os.path.join(ROOT, "docs", "study")


def run_sweep(name, mode, out, np_ranks, keep_trainings):
    """Run lua_scripts/study/NAME.lua in MODE on np_ranks ranks; return its wall time.
    The trainings a sweep cached in an earlier run (OUT/NAME.h5.train/) are removed first
    unless keep_trainings: they would be reused whatever the trainer has become since,
    and the run's time would not be that of the study."""
    cache = os.path.join(out, name + ".h5.train")
    if not keep_trainings and os.path.isdir(cache):
        shutil.rmtree(cache)
    script = os.path.join(ROOT, "lua_scripts", "study", name + ".lua")
    lib = os.path.join(ROOT, "lua_scripts", "study", "mode", mode)
    cmd = [os.path.join(ROOT, "hpc", "local.sh"), "--progress", "none", "--force",
           "--lib", lib, "-o", os.path.join(out, name + ".h5"), script]
    env = dict(os.environ, NP=str(np_ranks), STEXPLORE=os.path.join(build_dir(), "bin", "stexplore"))
    # the trainings run on the ranks, one each: one BLAS thread per rank
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    t0 = time.monotonic()
    print("study: %s (%s, %d ranks)" % (name, mode, np_ranks), flush=True)
    subprocess.run(cmd, env=env, check=True, cwd=ROOT)
    return time.monotonic() - t0


def stsim_args(df, row):
    """The stsim arguments that reproduce point `row` of a result file exactly: every
    parameter that is not at its default, choices by name, network first."""
    roles = df.attrs["roles"]
    args = [str(df.at[row, "network"])]
    for name, role in sorted(roles.items()):
        if name in ("network", "trace") or (role == "default" and name != "seed"):
            continue
        v = df.at[row, name]
        if type(v).__name__ in ("bool", "bool_"):
            v = "true" if v else "false"
        args.append("%s=%s" % (name, v))
    return args


def check_front(out, limit):
    """Simulate exactly (stsim, fidelity=exact) the points of each network's Pareto front
    of the sampled sweep (at most `limit` per network, spread along the cycles); write
    OUT/pareto_exact.json: per point its row, network, arguments and the exact cycles and
    energy. Returns the wall time."""
    t0 = time.monotonic()
    df = stload.load(os.path.join(out, "pareto.h5"))
    stsim = os.path.join(build_dir(), "bin", "stsim")
    rows = []
    for net in study_report.networks_of(df):
        front = study_report.front_rows(df[(df.status == "ok") & (df.network == net)],
                                        ["cycles", "energy_pj", "area_mm2"], [])
        front = sorted(front, key=lambda r: df.at[r, "cycles"])
        if len(front) > limit:
            front = [front[round(i * (len(front) - 1) / (limit - 1))] for i in range(limit)]
        for r in front:
            args = stsim_args(df, r) + ["fidelity=exact", "--json", "--no-layers"]
            p = subprocess.run([stsim] + args, capture_output=True, text=True, check=True)
            total = json.loads(p.stdout)["total"]
            rows.append({"row": int(r), "network": net, "args": args,
                         "cycles": total["run"]["cycles"], "energy_pj": total["run"]["energy_pj"]})
    with open(os.path.join(out, "pareto_exact.json"), "w") as f:
        json.dump({"points": rows}, f, indent=1)
    return time.monotonic() - t0


def os_name():
    """The system's name from /etc/os-release (PRETTY_NAME), or the kernel's."""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def main():
    ap = argparse.ArgumentParser(description="The SparseTrain study in one command: its "
                                 "sweeps, the exact check of the sampled fronts, the "
                                 "report and its plots.")
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer points, sampled, minutes")
    size.add_argument("--tiny", action="store_true", help="a few points, for the test")
    ap.add_argument("--out", help="result folder (default results/study[-quick|-tiny])")
    ap.add_argument("--np", type=int, default=int(os.environ.get("NP", "2")),
                    help="MPI ranks of the sweeps (default 2)")
    ap.add_argument("--keep-trainings", action="store_true",
                    help="reuse the trainings an earlier run cached (OUT/*.h5.train/)")
    ap.add_argument("--report-only", action="store_true",
                    help="write the report from the result files already in the folder")
    args = ap.parse_args()
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    out, report, figs = paths(args)
    os.makedirs(out, exist_ok=True)
    os.makedirs(figs, exist_ok=True)
    if not args.report_only:
        start = time.monotonic()
        manifest = {"mode": mode, "ranks": args.np,
                    "mpirun": bool(subprocess.run(["sh", "-c", "command -v mpirun"],
                                                  capture_output=True).returncode == 0),
                    "cores": os.cpu_count(), "machine": platform.machine(), "os": os_name(),
                    "started_utc": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "load_start": list(os.getloadavg()), "seconds": {}}
        for name in SWEEPS:
            manifest["seconds"][name] = run_sweep(name, mode, out, args.np,
                                                  args.keep_trainings)
        limit = {"full": 8, "quick": 4, "tiny": 2}[mode]
        manifest["seconds"]["exact_check"] = check_front(out, limit)
        manifest["seconds"]["total"] = time.monotonic() - start
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        manifest["cpu_s"] = ru.ru_utime + ru.ru_stime
        manifest["load_end"] = list(os.getloadavg())
        manifest["git_revision"] = subprocess.run(
            ["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True).stdout.strip()
        if subprocess.run(["git", "-C", ROOT, "diff", "--quiet", "HEAD"]).returncode == 1:
            manifest["git_revision"] += "-dirty"
        with open(os.path.join(out, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=1)
    study_report.write(out, report, figs)
    print("study: wrote %s" % os.path.relpath(report, os.getcwd()), flush=True)


if __name__ == "__main__":
    main()
