"""merge.py -o OUT.h5 SHARD.h5... - join the result files of the shards of one sweep
(stexplore --shard I/N) into one file, for the dependent job of the Slurm array test: the
rows of points/, params/ and metrics/ of every shard, in candidate-index order (the order
of an unsharded run), with the counts of the root attributes added up. Refuses shards
that are incomplete, of different sweeps, or that share a point id. Only what
same_points.py compares is written (no provenance, no failures, no detail)."""
import sys

import h5py
import numpy as np

COUNTS = ("points", "failed", "rejected", "excluded", "duplicates")


def main(out, paths):
    parts, name = [], None
    for p in paths:
        with h5py.File(p, "r") as f:
            if int(f.attrs["complete"]) != 1:
                return "%s: not complete" % p
            if name is None:
                name = f.attrs["name"]
            elif f.attrs["name"] != name:
                return "%s: sweep %r, not %r" % (p, f.attrs["name"], name)
            cols = {"points/" + k: f["points/" + k][()] for k in ("id", "index", "status")}
            for g in ("params", "metrics"):
                for k, ds in f[g].items():
                    cols[g + "/" + k] = ds[()]
            parts.append((cols, {k: int(f.attrs[k]) for k in COUNTS}))
    ids = np.concatenate([c["points/id"] for c, _ in parts])
    if len(np.unique(ids)) != len(ids):
        return "a point id is in more than one shard"
    order = np.argsort(np.concatenate([c["points/index"] for c, _ in parts]), kind="stable")
    with h5py.File(out, "w") as f:
        f.attrs["name"] = name
        f.attrs["complete"] = 1
        for k in COUNTS:
            f.attrs[k] = sum(a[k] for _, a in parts)
        for k in parts[0][0]:
            f[k] = np.concatenate([c[k] for c, _ in parts])[order]
    return None


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) < 3 or args[0] != "-o":
        sys.exit("usage: merge.py -o OUT.h5 SHARD.h5...")
    err = main(args[1], args[2:])
    if err:
        sys.exit("merge.py: " + err)
