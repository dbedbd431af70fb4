"""h5same.py [--ranks] [--merged] A.h5 B.h5 - exit 0 when two stexplore result files hold the same
points, values, attributes and provenance, timing and the command line aside; else print
the first difference and exit 1. With --ranks, also the provenance of where the runs ran
(ranks, hosts) is set aside, to compare runs on different numbers of MPI ranks. Used by
stexplore.t and stexplore_mpi.t. With --merged, also the provenance that stquery merge and
stexplore --reuse add (merged_from, reused_from), to compare such a file with one plain run. Reads with h5py and numpy only."""
import sys

import h5py
import numpy as np

# Provenance that depends on when and how a run happened, not on what it computed.
TIMING = {"started_utc", "finished_utc", "elapsed_s", "sessions", "command"}
# Provenance of where a run ran, set aside by --ranks.
PLACE = {"ranks", "hosts"}


def items(f):
    out = {}

    def visit(name, obj):
        out[name] = obj

    f.visititems(visit)
    return out


def same_attrs(a, b, where):
    ka = set(a.attrs) - (TIMING if where == "provenance" else set())
    kb = set(b.attrs) - (TIMING if where == "provenance" else set())
    if ka != kb:
        return "%s: attributes %s differ" % (where, sorted(ka ^ kb))
    for k in sorted(ka):
        va, vb = a.attrs[k], b.attrs[k]
        if not np.array_equal(np.asarray(va), np.asarray(vb)):
            return "%s: attribute %s: %r != %r" % (where, k, va, vb)
    return None


def main(pa, pb):
    with h5py.File(pa, "r") as fa, h5py.File(pb, "r") as fb:
        err = same_attrs(fa, fb, "/")
        ia, ib = items(fa), items(fb)
        if err is None and set(ia) != set(ib):
            err = "objects %s differ" % sorted(set(ia) ^ set(ib))
        for name in sorted(ia):
            if err is not None:
                break
            a, b = ia[name], ib[name]
            err = same_attrs(a, b, name)
            if err is None and isinstance(a, h5py.Dataset):
                x, y = a[()], b[()]
                if x.dtype != y.dtype or x.shape != y.shape:
                    err = "%s: %s%s != %s%s" % (name, x.dtype, x.shape, y.dtype, y.shape)
                elif x.dtype.kind == "f":
                    if not np.array_equal(x, y, equal_nan=True):
                        err = "%s: values differ" % name
                elif not np.array_equal(x, y):
                    err = "%s: values differ" % name
    if err is not None:
        print(err)
        return 1
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    while args and args[0] in ("--ranks", "--merged"):
        TIMING |= PLACE if args[0] == "--ranks" else {"merged_from", "reused_from"}
        args = args[1:]
    sys.exit(main(args[0], args[1]))
