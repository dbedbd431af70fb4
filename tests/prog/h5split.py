"""h5split.py - shards of a result file for stquery_merge.t, in h5py and numpy only
(h5same.py --merged compares the merge with the whole file).

  split FILE N OUT_PREFIX   write OUT_PREFIX<i>.h5 for i in 0..N-1: the points whose row
                            modulo N is i, with their failures and detail rows, every
                            attribute as in FILE (what the shards of one sweep look like)
  dups A                    print the number of distinct ids in A
"""
import sys

import h5py
import numpy as np

def copy_attrs(src, dst):
    for k, v in src.attrs.items():
        dst.attrs[k] = v


def put(group, name, src, values):
    d = group.create_dataset(name, data=values, dtype=src.dtype, maxshape=(None,),
                             chunks=True)
    copy_attrs(src, d)


def split(path, n, prefix):
    with h5py.File(path, "r") as f:
        rows = np.arange(f["points/id"].shape[0])
        for i in range(n):
            sel = rows[rows % n == i]
            new_row = {int(r): j for j, r in enumerate(sel)}
            with h5py.File("%s%d.h5" % (prefix, i), "w") as g:
                copy_attrs(f, g)
                g.attrs["points"] = np.uint64(len(sel))
                st = f["points/status"][()][sel]
                g.attrs["failed"] = np.uint64((st == 1).sum())
                g.attrs["rejected"] = np.uint64((st == 2).sum())
                for grp in ("points", "params", "metrics"):
                    gg = g.create_group(grp)
                    for name, d in f[grp].items():
                        put(gg, name, d, d[()][sel])
                fr = f["failures/row"][()]
                keep = np.array([int(r) in new_row for r in fr], dtype=bool)
                gg = g.create_group("failures")
                put(gg, "row", f["failures/row"],
                    np.array([new_row[int(r)] for r in fr[keep]], dtype=np.uint64))
                put(gg, "id", f["failures/id"], f["failures/id"][()][keep])
                msgs = f["failures/message"][()][keep]
                gg.create_dataset("message", data=msgs, dtype=h5py.string_dtype(),
                                  maxshape=(None,), chunks=True)
                if "detail" in f:
                    dr = f["detail/row"][()]
                    keep = np.array([int(r) in new_row for r in dr], dtype=bool)
                    gg = g.create_group("detail")
                    for name, d in f["detail"].items():
                        v = d[()][keep]
                        if name == "row":
                            v = np.array([new_row[int(r)] for r in v], dtype=np.uint64)
                        put(gg, name, d, v)
                f.copy("network", g)
                f.copy("provenance", g)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "split":
        split(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif cmd == "dups":
        with h5py.File(sys.argv[2], "r") as f:
            print(len(np.unique(f["points/id"][()])))
