#!/bin/sh
# stexplore_metrics.t - the per-phase and per-component metric columns of a result file
# against independent computations in h5py: phase sums from the per-layer detail, the
# components against stsim's JSON for the same point (parameters read from the file), the
# ratios from their definitions; and enum parameters stored with their labels.
. "${ST_SRC:-.}/tests/prog/tap.sh"

prog_setup

plan 13
need_h5py 13 metrics

cat >m.lua <<'EOF'
return st.sweep {
    name = "m",
    network = "fmnist-cnn",
    batch = 2,
    detail = true,
    params = { pe_rows = {4, 16}, p = {0, 0.9}, sync = {"lockstep", "fifo"} },
    fixed = { fidelity = "sampled", sample_fraction = 0.2 },
}
EOF
run "$EXP" --progress none -o m.h5 m.lua
is_status 0 "metrics-0.1 stexplore writes a sweep with detail"

cat >check.py <<'PYEOF'
import json, subprocess, sys
import h5py, numpy as np

PH = ["fp", "bp", "wg"]
COMP = ["mac", "reg", "ch0", "ch1", "ch2", "dram", "leak"]
path, what = sys.argv[1], sys.argv[2]
f = h5py.File(path, "r")
m = {k: f["metrics"][k][()] for k in f["metrics"]}
ok = np.nonzero(f["points/status"][()] == 0)[0]
assert what == "orders" or len(ok) == 8, ok

def close(a, b, rel):
    return abs(a - b) <= rel * max(abs(a), abs(b))

if what == "sums":       # components and phases add up to the totals
    for i in ok:
        for pre in ("", "dense_"):
            tot = m[pre + "energy_pj"][i]
            assert close(sum(m[pre + "energy_pj_" + c][i] for c in COMP), tot, 1e-12), (i, pre)
            assert close(sum(m[pre + "energy_pj_" + p][i] for p in PH), tot, 1e-12), (i, pre)
            assert sum(int(m[pre + "cycles_" + p][i]) for p in PH) == int(m[pre + "cycles"][i])
elif what == "detail":   # each phase is the sum of its layers' rows in /detail
    d = {k: f["detail"][k][()] for k in f["detail"]}
    for i in ok:
        for ph, name in enumerate(PH):
            sel = (d["row"] == i) & (d["phase"] == ph)
            assert int(d["cycles"][sel].sum()) == int(m["cycles_" + name][i])
            assert close(d["energy_pj"][sel].sum(), m["energy_pj_" + name][i], 1e-12)
            assert close(d["dense_energy_pj"][sel].sum(), m["dense_energy_pj_" + name][i], 1e-12)
elif what == "ratios":   # the ratios from their definitions, exactly
    for i in ok:
        for p in PH:
            assert m["speedup_" + p][i] == m["dense_cycles_" + p][i] / m["cycles_" + p][i]
            assert m["energy_gain_" + p][i] == m["dense_energy_pj_" + p][i] / m["energy_pj_" + p][i]
        assert m["dram_over_floor"][i] == m["dram_bytes"][i] / m["dram_floor_bytes"][i]
elif what == "stsim":    # the components against stsim's JSON for the same point
    sim = sys.argv[3]
    for i in ok[[0, 5]]:
        args = []
        for k, d in f["params"].items():
            if k in ("network", "trace"):
                continue  # the sweep's own, not stsim's
            v = d[()][i]
            t = d.attrs["type"]
            if t == "enum":
                v = list(d.attrs["labels"])[v]
            elif t == "bool":
                v = "true" if v else "false"
            else:
                v = repr(float(v)) if t == "real" else str(int(v))
            args.append("%s=%s" % (k, v))
        out = subprocess.run([sim, "fmnist-cnn", "--json", "--no-layers"] + args,
                             capture_output=True, text=True, check=True).stdout
        tot = json.loads(out)["total"]
        for pre, side in (("", "run"), ("dense_", "dense")):
            br = tot[side]["energy_breakdown_pj"]
            for c in COMP:   # stsim prints 9 significant digits
                assert close(br[c], m[pre + "energy_pj_" + c][i], 1e-8), (i, c, br[c])
            assert tot[side]["dram_bytes"] == m[pre + "dram_bytes"][i]
elif what == "orders":   # the mapper's choice per layer and phase, against stsim's JSON
    sim = sys.argv[3]
    d = {k: f["detail"][k][()] for k in f["detail"]}
    names = [x.decode() for x in f["network/layer_name"][()]]
    split = 0
    for i in range(len(f["points/id"])):
        args = ["batch=2", "ch0_kib=8", "ch1_kib=4", "pe_rows=%d" % f["params/pe_rows"][i]]
        out = subprocess.run([sim, "fmnist-cnn", "--json"] + args,
                             capture_output=True, text=True, check=True).stdout
        layers = {l["name"]: l for l in json.loads(out)["layers"]}
        sel = np.nonzero(d["row"] == i)[0]
        assert len(sel) > 0
        for j in sel:
            l = layers[names[d["layer"][j]]][PH[d["phase"][j]]]
            for pre, side in (("", "run"), ("dense_", "dense")):
                assert d[pre + "rounds"][j] == l[side]["rounds"], (i, j, pre)
                assert d[pre + "order"][j] >= 1
            split += d["rounds"][j] > 1
    assert split > 0, "no layer split into rounds: the check would show nothing"
elif what == "labels":   # every enum parameter names its codes, as its range says
    n = 0
    for k, d in f["params"].items():
        if d.attrs["type"] == "enum":
            assert list(d.attrs["labels"]) == d.attrs["range"].split(", "), k
            n += 1
    assert n >= 4, n
    assert list(f["params/sync"].attrs["labels"]) == ["lockstep", "fifo"]
PYEOF

ok_cmd "metrics-1.1 components and phases add up to energy_pj and cycles (sparse and dense)" \
    "$PY" check.py m.h5 sums
ok_cmd "metrics-1.2 each phase's cycles and energy are the sums of its layers in /detail" \
    "$PY" check.py m.h5 detail
ok_cmd "metrics-1.3 speedup_*, energy_gain_* and dram_over_floor are their ratios, exactly" \
    "$PY" check.py m.h5 ratios
ok_cmd "metrics-1.4 energy per component equals stsim's for the same parameters" \
    "$PY" check.py m.h5 stsim "$SIM"
ok_cmd "metrics-2.1 enum parameters carry the labels of their codes" "$PY" check.py m.h5 labels
cat >r.lua <<'EOF'
return st.sweep {
    name = "r",
    network = "fmnist-cnn",
    batch = 2,
    detail = true,
    params = { pe_rows = {4, 16} },
    fixed = { ch0_kib = 8, ch1_kib = 4 },
}
EOF
run "$EXP" --progress none -o r.h5 r.lua
is_status 0 "metrics-4.1 a sweep with buffers small enough to split visits into rounds"
ok_cmd "metrics-4.2 /detail's rounds and dense_rounds are stsim's for every layer and phase" \
    "$PY" check.py r.h5 orders "$SIM"
run "$Q" list m.h5 --columns sync,speedup_bp --where 'sync = fifo' --csv
is_status 0 "metrics-2.2 stquery filters on a label"
[ "$(grep -c '^fifo,' "$tmp/out")" -eq 4 ]
ok_ $? "metrics-2.3 ... and shows the label (4 fifo points)"
run "$Q" info m.h5
has_out "energy_pj_dram [pJ]" "metrics-3.1 info lists the new metrics with their units"
has_out "speedup_wg" "metrics-3.2 ... per phase"
run "$Q" list m.h5 --sort energy_pj_leak:desc --limit 1 --columns energy_pj_leak
is_status 0 "metrics-3.3 a new metric sorts like any other"

tap_end
