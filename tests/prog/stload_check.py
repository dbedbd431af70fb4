"""stload_check.py FILE EXPORT.csv LAYERS.csv ROW - analysis/stload.py against values read
independently: stquery's CSV export (choices by name, exact numbers), its per-layer CSV, and
raw h5py. Prints 13 TAP lines numbered from 1; stload.t prints the plan."""
import csv, math, os, shutil, sys, tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.environ.get("ST_SRC", "."), "analysis"))
import stload  # noqa: E402

path, export, layers, row = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
n = 0
fails = 0


def ok(cond, what):
    global n, fails
    n += 1
    print("%s %d - stload-%s" % ("ok" if cond else "not ok", n, what))
    fails += not cond


def check(what, fn):
    try:
        cond = fn()
    except Exception as e:  # a crash is a failed check, with its reason
        print("# %s: %r" % (what, e))
        cond = False
    ok(cond, what)


df = stload.load(path)
rows = list(csv.DictReader(open(export)))
raw = h5py.File(path, "r")
st = raw["points/status"][()]
metrics = list(raw["metrics"])


def same_as_export():
    for r, e in zip(df.itertuples(index=False), rows):
        d = r._asdict()
        for k, v in e.items():
            if k == "row":
                continue
            got = d[k] if k in d else getattr(r, k)
            if k in metrics and e["status"] == "failed":
                continue  # the loader's NaN, checked below
            if isinstance(got, (bool, np.bool_)):
                got = "true" if got else "false"
            if isinstance(got, str) or isinstance(got, (np.str_,)):
                if got != v:
                    print("# %s: %r != %r" % (k, got, v))
                    return False
            elif v == "" and (got is None or math.isnan(got)):
                continue  # no message (an ok point), or a NaN
            elif float(v) != float(got):
                print("# %s: %r != %r" % (k, got, v))
                return False
    return True


check("1.1 a row per point, in the file's order", lambda: len(df) == len(rows) == len(st) and
      list(df["id"]) == [e["id"] for e in rows])
check("1.2 every column equals stquery export (ids, statuses, enum labels, booleans, exact numbers)",
      same_as_export)
check("1.3 every metric equals h5py's raw value for the points that did not fail",
      lambda: all(np.array_equal(df[m].to_numpy()[st != 1], raw["metrics"][m][()][st != 1].astype(float),
                                 equal_nan=True) for m in metrics))
check("1.4 every metric of a failed point is NaN", lambda: (st == 1).any() and
      all(df[m][st == 1].isna().all() for m in metrics))
check("1.5 failed points carry their message, as /failures holds it",
      lambda: {int(r): m.decode() for r, m in zip(raw["failures/row"][()], raw["failures/message"][()])}
      == {i: m for i, m in enumerate(df["message"]) if m is not None})
check("1.6 enum columns are categoricals of the labels, in code order",
      lambda: list(df["sync"].cat.categories) == ["lockstep", "fifo"] and
      list(df["sync"].cat.codes) == list(raw["params/sync"][()]))
check("1.7 units come along", lambda: df.attrs["units"]["energy_pj"] == "pJ" and
      df.attrs["units"]["pe_rows"] == "PEs")

# NaN whatever the file stores: a copy where a failed point's metrics hold numbers.
tmp = tempfile.mkdtemp()
try:
    c = os.path.join(tmp, "c.h5")
    shutil.copy(path, c)
    with h5py.File(c, "r+") as f:
        i = int(np.nonzero(st == 1)[0][0])
        f["metrics/cycles"][i] = 12345
        f["metrics/energy_pj"][i] = 6.5
    d2 = stload.load(c)
    check("2.1 NaN for a failed point even where the file stores a number",
          lambda: math.isnan(d2["cycles"][i]) and math.isnan(d2["energy_pj"][i]))
    bad = os.path.join(tmp, "foreign.h5")
    with h5py.File(bad, "w") as f:
        f["x"] = [1]

    def refused(fn, text):
        try:
            fn()
        except ValueError as e:
            return text in str(e)
        return False
    check("2.2 a file that is not a result file is refused, named",
          lambda: refused(lambda: stload.load(bad), "foreign.h5 is an HDF5 file but not a stexplore"))
finally:
    shutil.rmtree(tmp)

# The detail against stquery layers for one row, and against h5py for all.
det = stload.load_detail(path)
lay = list(csv.DictReader(open(layers)))
mine = det[det["row"] == row]
check("3.1 load_detail: a row per row of /detail", lambda: len(det) == raw["detail/row"].shape[0])
check("3.2 layer names, phases and cycles of one point equal stquery layers",
      lambda: sorted((r.layer_name, r.phase, r.cycles, r.energy_pj) for r in mine.itertuples()) ==
      sorted((e["layer"], e["phase"], float(e["cycles"]), float(e["energy_pj"])) for e in lay))
check("3.3 the point's swept parameters are joined to its rows",
      lambda: (det["p"].to_numpy() == raw["params/p"][()][det["row"].to_numpy()]).all())
check("3.4 layer kinds from /network",
      lambda: list(det["layer_kind"]) == [raw["network/layer_kind"][()][i].decode() for i in det["layer"]])
sys.exit(1 if fails else 0)
