"""craft.py BASE.h5 DIR - write hostile variants of a stexplore result file into DIR, one
file per case, named after it, and print the case names. Each variant changes one thing
the reader must check: an attribute or dataset of the wrong type, shape or size, ids that
repeat, columns of the wrong length, values out of range, and very long texts. Used by
stquery_crafted.t. Reads and writes with h5py and numpy only."""
import os
import shutil
import sys

import h5py
import numpy as np

BIG = "u" * (1 << 20)  # a 1 MiB text


def vlen_str():
    return h5py.string_dtype("utf-8")


def set_attr(obj, name, value, dtype=None):
    if name in obj.attrs:
        del obj.attrs[name]
    if dtype is None:
        obj.attrs[name] = value
    else:
        obj.attrs.create(name, value, dtype=dtype)


def replace(f, path, data, dtype=None):
    """Put a new dataset at path, keeping the attributes of the old one."""
    attrs = dict(f[path].attrs) if path in f else {}
    if path in f:
        del f[path]
    d = f.create_dataset(path, data=data, dtype=dtype)
    for k, v in attrs.items():
        d.attrs[k] = v


def n_points(f):
    return int(f.attrs["points"])


CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


# ------------------------------------------------------------------ attributes
@case
def prov_script_int_array(f):
    set_attr(f["provenance"], "script", np.arange(4096, dtype=np.int64))


@case
def prov_script_float_2d(f):
    set_attr(f["provenance"], "script", np.ones((64, 64)))


@case
def prov_script_str_array(f):
    set_attr(f["provenance"], "script", np.array(["a", "b", "c"] * 100, dtype=object), vlen_str())


@case
def prov_script_fixed_str_array(f):
    set_attr(f["provenance"], "script", np.array([b"abcdefgh"] * 500, dtype="S8"))


@case
def prov_script_huge(f):
    set_attr(f["provenance"], "script", BIG)


@case
def prov_ranks_compound(f):
    t = np.dtype([("a", "<i4"), ("b", "<f8")])
    set_attr(f["provenance"], "ranks", np.zeros(3, dtype=t))


@case
def prov_many_attrs(f):
    for i in range(2000):
        set_attr(f["provenance"], "k%04d" % i, "v" * 100)


@case
def unit_huge(f):
    for m in ("cycles", "energy_pj"):
        set_attr(f["metrics/" + m], "unit", BIG)


@case
def unit_int_array(f):
    set_attr(f["metrics/cycles"], "unit", np.arange(1000, dtype=np.int32))


@case
def help_str_array(f):
    set_attr(f["metrics/cycles"], "help", np.array(["x"] * 1000, dtype=object), vlen_str())


@case
def name_huge(f):
    set_attr(f, "name", BIG)


@case
def name_int_array(f):
    set_attr(f, "name", np.arange(100, dtype=np.int64))


@case
def format_str_array(f):
    set_attr(f, "format", np.array(["stexplore-result"] * 64, dtype=object), vlen_str())


@case
def format_version_array(f):
    set_attr(f, "format_version", np.ones(1000, dtype=np.int32))


@case
def points_attr_array(f):
    set_attr(f, "points", np.full(1000, n_points(f), dtype=np.uint64))


@case
def points_attr_string(f):
    set_attr(f, "points", "8")


@case
def complete_array(f):
    set_attr(f, "complete", np.ones(1000, dtype=np.int32))


@case
def failed_array(f):
    set_attr(f, "failed", np.ones(1000, dtype=np.uint64))


@case
def enum_range_huge(f):
    set_attr(f["params/sync"], "range", ", ".join("c%06d" % i for i in range(100000)))


@case
def enum_range_long_choice(f):
    set_attr(f["params/sync"], "range", "lockstep, " + BIG)


@case
def enum_type_array(f):
    set_attr(f["params/sync"], "type", np.array(["enum"] * 100, dtype=object), vlen_str())


@case
def role_int(f):
    set_attr(f["params/pe_rows"], "role", np.arange(50, dtype=np.int64))


# -------------------------------------------------------------------- datasets
@case
def ids_repeat(f):
    ids = f["points/id"][()]
    ids[-1] = ids[0]
    replace(f, "points/id", ids)


@case
def ids_all_same(f):
    replace(f, "points/id", np.full(n_points(f), 7, dtype=np.uint64))


@case
def ids_short(f):
    replace(f, "points/id", f["points/id"][()][:-1])


@case
def ids_string(f):
    replace(f, "points/id", np.array(["x"] * n_points(f), dtype=object), vlen_str())


@case
def ids_2d(f):
    replace(f, "points/id", np.zeros((n_points(f), 2), dtype=np.uint64))


@case
def ids_missing(f):
    del f["points/id"]


@case
def index_float(f):
    replace(f, "points/index", np.full(n_points(f), 0.5))


@case
def status_out_of_range(f):
    replace(f, "points/status", np.array([0, 7, -3, 2**30] + [0] * (n_points(f) - 4), dtype=np.int32))


@case
def status_float_nan(f):
    replace(f, "points/status", np.full(n_points(f), np.nan))


@case
def metric_long(f):
    replace(f, "metrics/cycles", np.zeros(n_points(f) + 5, dtype=np.uint64))


@case
def metric_2d(f):
    replace(f, "metrics/cycles", np.zeros((n_points(f), 3)))


@case
def metric_string(f):
    replace(f, "metrics/cycles", np.array(["1"] * n_points(f), dtype=object), vlen_str())


@case
def metric_compound(f):
    t = np.dtype([("a", "<i4"), ("b", "<f8")])
    replace(f, "metrics/cycles", np.zeros(n_points(f), dtype=t))


@case
def metric_group_not_group(f):
    del f["metrics"]
    f.create_dataset("metrics", data=np.zeros(3))


@case
def param_scalar(f):
    replace(f, "params/pe_rows", 4)


@case
def failures_rows_beyond(f):
    del f["failures"]
    g = f.create_group("failures")
    g.create_dataset("row", data=np.array([10**12, 3], dtype=np.uint64))
    g.create_dataset("id", data=np.array([1, 2], dtype=np.uint64))
    g.create_dataset("message", data=np.array(["a", BIG], dtype=object), dtype=vlen_str())


@case
def failures_messages_short(f):
    del f["failures"]
    g = f.create_group("failures")
    g.create_dataset("row", data=np.array([0, 1, 2], dtype=np.uint64))
    g.create_dataset("id", data=np.array([1, 2, 3], dtype=np.uint64))
    g.create_dataset("message", data=np.array(["a"], dtype=object), dtype=vlen_str())


@case
def failures_messages_int(f):
    del f["failures"]
    g = f.create_group("failures")
    g.create_dataset("row", data=np.array([0], dtype=np.uint64))
    g.create_dataset("id", data=np.array([1], dtype=np.uint64))
    g.create_dataset("message", data=np.array([5], dtype=np.int64))


@case
def network_names_int(f):
    replace(f, "network/layer_name", np.arange(5, dtype=np.int32))


@case
def network_names_fixed(f):
    n = len(f["network/layer_name"])
    replace(f, "network/layer_name", np.array([b"L" * 40] * n, dtype="S40"))


@case
def network_huge_name(f):
    n = len(f["network/layer_name"])
    replace(f, "network/layer_name", np.array([BIG] * n, dtype=object), vlen_str())


@case
def detail_layer_bad(f):
    lay = f["detail/layer"][()]
    lay[0] = 10**6
    replace(f, "detail/layer", lay)


@case
def detail_phase_bad(f):
    ph = f["detail/phase"][()]
    ph[:] = -1
    replace(f, "detail/phase", ph)


@case
def detail_short(f):
    replace(f, "detail/cycles", f["detail/cycles"][()][:3])


@case
def detail_row_string(f):
    n = len(f["detail/row"])
    replace(f, "detail/row", np.array(["0"] * n, dtype=object), vlen_str())


def main():
    base, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for name, fn in CASES.items():
        path = os.path.join(out, name + ".h5")
        shutil.copyfile(base, path)
        with h5py.File(path, "r+") as f:
            fn(f)
        print(name)


if __name__ == "__main__":
    main()
