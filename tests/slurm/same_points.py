"""same_points.py A.h5 B.h5 - exit 0 when two stexplore result files hold the same points
by id: the same set of ids, and for each id the same status, parameter values and metric
values (NaN equal to NaN), whatever order the rows are in; both complete. Else print the
first difference and exit 1. Read with h5py and numpy alone, independently of stexplore
and stquery. Used by the Slurm tests, whose chained, killed, resumed and sharded runs must
equal an uninterrupted one."""
import sys

import h5py
import numpy as np


def load(path):
    with h5py.File(path, "r") as f:
        if int(f.attrs["complete"]) != 1:
            raise SystemExit("%s: not complete" % path)
        ids = f["points/id"][()]
        cols = {"status": f["points/status"][()]}
        for group in ("params", "metrics"):
            for name, ds in f[group].items():
                cols[group + "/" + name] = ds[()]
    order = np.argsort(ids, kind="stable")
    return ids[order], {k: v[order] for k, v in cols.items()}


def main(pa, pb):
    ia, ca = load(pa)
    ib, cb = load(pb)
    if len(np.unique(ia)) != len(ia):
        return "%s: repeated ids" % pa
    if len(np.unique(ib)) != len(ib):
        return "%s: repeated ids" % pb
    if not np.array_equal(ia, ib):
        only_a = np.setdiff1d(ia, ib)
        only_b = np.setdiff1d(ib, ia)
        return "ids differ: %d points only in %s, %d only in %s" % (
            len(only_a), pa, len(only_b), pb)
    if set(ca) != set(cb):
        return "columns differ: %s" % sorted(set(ca) ^ set(cb))
    for name in sorted(ca):
        x, y = ca[name], cb[name]
        same = (np.array_equal(x, y, equal_nan=True) if x.dtype.kind == "f"
                else np.array_equal(x, y))
        if not same:
            k = int(np.flatnonzero(x != y)[0])
            return "%s differs at id %016x: %r != %r" % (name, ia[k], x[k], y[k])
    return None


if __name__ == "__main__":
    err = main(sys.argv[1], sys.argv[2])
    if err:
        print(err)
        sys.exit(1)
    print("same %s" % sys.argv[1])
