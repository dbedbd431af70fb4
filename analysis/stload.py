"""stload.py - stexplore result files as pandas DataFrames.

    import sys; sys.path.insert(0, "analysis")   # from the repository's folder
    import stload
    df = stload.load("results/quickstart.h5")     # a row per point
    det = stload.load_detail("results/pruning.h5")  # a row per point, layer and phase

Needs h5py, numpy and pandas (Debian: python3-h5py, python3-numpy, python3-pandas; run
with /usr/bin/python3). The layout read is results/README.md's. pandas.read_hdf reads
only files that pandas wrote, hence h5py.
"""
import h5py
import numpy as np
import pandas as pd

STATUS = ["ok", "failed", "rejected"]
PHASES = ["fp", "bp", "wg"]

__all__ = ["load", "load_detail", "STATUS", "PHASES"]


def _text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def _labels(d):
    """The names of an enum column's codes: the labels attribute, or the range text of
    files written before it."""
    if "labels" in d.attrs:
        return [_text(v) for v in d.attrs["labels"]]
    return [s.strip() for s in _text(d.attrs.get("range", "")).split(",")]


def _check(f, path):
    if _text(f.attrs.get("format", "")) != "stexplore-result":
        raise ValueError("%s is an HDF5 file but not a stexplore result file" % path)


def _param(d):
    """A parameter column: enums as categoricals of their labels, booleans as bool."""
    v = d[()]
    kind = _text(d.attrs.get("type", ""))
    if kind == "enum":
        names = _labels(d)
        if len(v) and (v.min() < 0 or v.max() >= len(names)):
            raise ValueError("%s: a code outside its %d labels" % (d.name, len(names)))
        return pd.Categorical.from_codes(v.astype(np.int64), categories=names)
    if kind == "bool":
        return v.astype(bool)
    return v


def load(path):
    """Read the points of the result file at path into a DataFrame, a row per point in the
    file's order: id (16 hexadecimal digits, as stquery prints it), index, status ("ok",
    "failed", "rejected"), message (why a failed point failed; None for the others), every
    parameter (enums as categoricals of their labels, booleans as bool) and every metric as
    float64 (counts are exact up to 2^53), NaN in every metric of a failed point whatever
    the file stores. df.attrs holds "units" ({column: unit}), "help", "roles" ({parameter:
    swept, derived, fixed or default}), "network", "name" and "provenance"."""
    with h5py.File(path, "r") as f:
        _check(f, path)
        status = f["points/status"][()]
        cols = {
            "id": ["%016x" % v for v in f["points/id"][()]],
            "index": f["points/index"][()].astype(np.int64),
            "status": pd.Categorical.from_codes(status.astype(np.int64), categories=STATUS),
        }
        msg = [None] * len(status)
        if "failures" in f:
            for r, m in zip(f["failures/row"][()], f["failures/message"][()]):
                msg[int(r)] = _text(m)
        cols["message"] = msg
        units, helps, roles = {}, {}, {}
        for name, d in f["params"].items():
            cols[name] = _param(d)
            units[name] = _text(d.attrs.get("unit", ""))
            helps[name] = _text(d.attrs.get("help", ""))
            roles[name] = _text(d.attrs.get("role", ""))
        failed = status == 1
        for name, d in f["metrics"].items():
            v = d[()].astype(np.float64)
            v[failed] = np.nan
            cols[name] = v
            units[name] = _text(d.attrs.get("unit", ""))
            helps[name] = _text(d.attrs.get("help", ""))
        df = pd.DataFrame(cols)
        df.attrs["units"] = units
        df.attrs["help"] = helps
        df.attrs["roles"] = roles
        df.attrs["name"] = _text(f.attrs.get("name", ""))
        df.attrs["network"] = _text(f["network"].attrs.get("name", "")) if "network" in f else ""
        df.attrs["provenance"] = (
            {k: _text(v) if isinstance(v, (bytes, str)) else v.item() if hasattr(v, "item") else v
             for k, v in f["provenance"].attrs.items()} if "provenance" in f else {})
    return df


def load_detail(path, params=True):
    """Read the per-layer, per-phase detail of the result file at path (written when the
    sweep sets detail = true) into a DataFrame, a row per point, layer and phase: row (the
    point's row in load()), id, layer (its index in the network), layer_name, layer_kind,
    phase ("fp", "bp", "wg"), every field of /detail (floats) and, with params, the swept
    and derived parameters of the point. ValueError when the file has no detail."""
    with h5py.File(path, "r") as f:
        _check(f, path)
        if "detail" not in f:
            raise ValueError("%s has no per-layer detail: its sweep did not set detail = true"
                             % path)
        d = {name: ds[()] for name, ds in f["detail"].items()}
        names = [_text(v) for v in f["network/layer_name"][()]]
        kinds = [_text(v) for v in f["network/layer_kind"][()]]
        ids = f["points/id"][()]
        units = {name: _text(ds.attrs.get("unit", "")) for name, ds in f["detail"].items()}
    row = d.pop("row").astype(np.int64)
    layer = d.pop("layer").astype(np.int64)
    phase = d.pop("phase").astype(np.int64)
    cols = {
        "row": row,
        "id": ["%016x" % ids[r] for r in row],
        "layer": layer,
        "layer_name": [names[i] for i in layer],
        "layer_kind": [kinds[i] for i in layer],
        "phase": pd.Categorical.from_codes(phase, categories=PHASES),
    }
    for name, v in d.items():
        cols[name] = v.astype(np.float64)
    det = pd.DataFrame(cols)
    if params:
        pts = load(path)
        keep = [c for c, r in pts.attrs["roles"].items() if r in ("swept", "derived")]
        det = det.join(pts[keep], on="row")
    det.attrs["units"] = units
    return det
