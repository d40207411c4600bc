"""API tests of the dataflow model: shapes, mixed layer types, chunking, errors, parser, CSV, torch."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from codesign_gym.costmodels.dataflow import (DataflowResult, Directive, Hardware, SpatialMap, Sz, TemporalMap,
                                              evaluate, format_dataflow, get_template, parse_dataflow)
from codesign_gym.costmodels.dataflow.predict import OUTPUT_COLUMNS, predict_csv, predict_rows
from codesign_gym.costmodels.workloads.layer_table import LayerTable, from_maestro_dims

DATA = Path(__file__).resolve().parents[1] / "data" / "maestro"

MIXED = {
    "type": np.array(["CONV", "DSCONV", "GROUPCONV", "GEMM"]),
    "K": np.array([64, 32, 64, 100]), "C": np.array([64, 32, 32, 200]),
    "Y": np.array([56, 56, 28, 8]), "X": np.array([56, 56, 28, 1]),
    "R": np.array([3, 3, 3, 1]), "S": np.array([3, 3, 3, 1]),
    "stride": np.array([1, 2, 1, 1]), "padding": np.array([1, 1, 1, 0]), "groups": np.array([1, 32, 4, 1]),
}


def _col(d, k):
    return {key: (v[:, None] if isinstance(v, np.ndarray) else v) for key, v in d.items()}


def test_broadcast_layers_by_designs_and_mixed_types():
    layers = _col(MIXED, None)
    hw = Hardware(num_pes=np.array([[16, 64, 256]]), ktile=np.array([[1, 4, 12]]), noc_bw=64)
    r = evaluate(layers, hw, "cfx_dla")
    assert isinstance(r, DataflowResult)
    for f in r._fields:
        assert getattr(r, f).shape == (4, 3), f
    for f in ("runtime_cycles", "macs", "input_l2_read", "l1_bytes_required", "noc_bw_peak"):
        assert getattr(r, f).dtype == np.int64
    # each entry equals a one-point evaluation (no cross-talk between groups / points)
    for i in range(4):
        for j in range(3):
            one = evaluate({k: v[i] for k, v in MIXED.items()},
                           Hardware(num_pes=int(hw.num_pes[0, j]), ktile=int(hw.ktile[0, j]), noc_bw=64), "cfx_dla")
            assert int(one.runtime_cycles) == r.runtime_cycles[i, j]
            assert int(one.output_l2_write) == r.output_l2_write[i, j]


def test_padding_groupconv_and_depthwise_conventions():
    hw = Hardware(num_pes=64)
    base = {"type": "CONV", "K": 16, "C": 8, "Y": 30, "X": 30, "R": 3, "S": 3}
    padded = evaluate({**base, "Y": 28, "X": 28, "padding": 1}, hw, "kcp")
    unpadded = evaluate(base, hw, "kcp")
    assert int(padded.runtime_cycles) == int(unpadded.runtime_cycles)
    assert int(padded.macs_ideal) == 16 * 8 * 28 * 28 * 9
    g = evaluate({**base, "type": "GROUPCONV", "K": 32, "C": 16, "groups": 2}, hw, "kcp")
    assert int(g.runtime_cycles) == 2 * int(unpadded.runtime_cycles)
    assert int(g.macs) == 2 * int(unpadded.macs)
    assert int(g.l2_bytes_required) == int(unpadded.l2_bytes_required)
    K, C, groups = from_maestro_dims("DSCONV", 1, 32)
    dw = evaluate({"type": "DSCONV", "K": K, "C": C, "groups": groups, "Y": 56, "X": 56, "R": 3, "S": 3}, hw, "kcp")
    assert int(dw.macs_ideal) == 32 * 54 * 54 * 9 == int(dw.macs)


def test_layer_table_input():
    t = LayerTable.from_rows("t", [
        {"name": "a", "type": "CONV", "K": 32, "C": 3, "Y": 224, "X": 224, "R": 3, "S": 3, "stride": 2, "padding": 1},
        {"name": "b", "type": "DSCONV", "K": 32, "C": 32, "Y": 112, "X": 112, "R": 3, "S": 3, "padding": 1, "groups": 32},
    ])
    r = evaluate(t, Hardware(num_pes=128), "yrp")
    assert r.runtime_cycles.shape == (2,)
    assert np.array_equal(r.macs_ideal, t.macs)


def test_chunking_gives_identical_results():
    rng = np.random.default_rng(0)
    n = 500
    layers = {"type": rng.choice(["CONV", "DSCONV"], n), "K": rng.integers(1, 200, n), "C": rng.integers(1, 200, n),
              "R": rng.choice([1, 3, 5], n), "S": rng.choice([1, 3, 5], n), "stride": rng.integers(1, 3, n)}
    layers["K"] = np.where(layers["type"] == "DSCONV", layers["C"], layers["K"])
    layers["groups"] = np.where(layers["type"] == "DSCONV", layers["C"], 1)
    layers["Y"] = layers["R"] + rng.integers(0, 50, n)
    layers["X"] = layers["S"] + rng.integers(0, 50, n)
    hw = Hardware(num_pes=rng.integers(1, 1025, n), ktile=rng.integers(1, 13, n), noc_bw=rng.integers(1, 256, n))
    for df in ("cfx_shi", "ykp"):
        full = evaluate(layers, hw, df, chunk_size=None)
        chunked = evaluate(layers, hw, df, chunk_size=37)
        for f in full._fields:
            assert np.array_equal(getattr(full, f), getattr(chunked, f)), (df, f)


def test_aliases_and_custom_directives_match_templates():
    layers = {"type": "CONV", "K": 64, "C": 32, "Y": 30, "X": 30, "R": 3, "S": 3}
    hw = Hardware(num_pes=128, ktile=4)
    ref = evaluate(layers, hw, "cfx_eye")
    assert int(evaluate(layers, hw, "eye").runtime_cycles) == int(ref.runtime_cycles)
    assert int(evaluate(layers, hw, list(get_template("cfx_eye"))).runtime_cycles) == int(ref.runtime_cycles)
    text = format_dataflow(get_template("cfx_eye"))
    assert parse_dataflow(text) == get_template("cfx_eye")
    assert int(evaluate(layers, hw, text).runtime_cycles) == int(ref.runtime_cycles)
    xp_dirs = [TemporalMap(1, 1, "K"), TemporalMap(1, 1, "C"), TemporalMap(Sz("R"), 1, "Y"), SpatialMap(Sz("S"), 1, "X"),
               TemporalMap(Sz("R"), Sz("R"), "R"), TemporalMap(Sz("S"), Sz("S"), "S")]
    assert int(evaluate(layers, hw, xp_dirs).runtime_cycles) == int(evaluate(layers, hw, "xp").runtime_cycles)
    assert parse_dataflow("SpatialMap(1,1) K; Cluster(64, P); SpatialMap(1,1) C;")[1] == Directive("cluster", "", 64)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"K": 0}, r"'K'=0 .*expected > 0"),
        ({"Y": -3}, r"'Y'=-3"),
        ({"stride": 0}, r"'stride'=0"),
        ({"R": 9}, r"'R'=9 .*larger than the padded input Y\+2\*padding=8"),
        ({"padding": -1}, r"'padding'=-1"),
        ({"type": "POOL"}, r"'type' has value 'POOL'"),
    ],
)
def test_bad_layers_raise(change, match):
    layers = {"type": "CONV", "K": 4, "C": 4, "Y": 8, "X": 8, "R": 3, "S": 3, **change}
    with pytest.raises(ValueError, match=match):
        evaluate(layers, Hardware(num_pes=16), "kcp")


def test_bad_hardware_dataflow_and_directives_raise():
    layers = {"type": "CONV", "K": 4, "C": 4, "Y": 8, "X": 8, "R": 3, "S": 3}
    with pytest.raises(ValueError, match=r"'num_pes'=0 .*expected >= 1"):
        evaluate(layers, Hardware(num_pes=np.array([4, 0])), "kcp")
    with pytest.raises(ValueError, match=r"unknown dataflow 'wsp'"):
        evaluate(layers, Hardware(num_pes=4), "wsp")
    with pytest.raises(ValueError, match=r"unknown dimension 'Q'"):
        TemporalMap(1, 1, "Q")
    with pytest.raises(ValueError, match=r"unknown dimension 'N'"):
        parse_dataflow("SpatialMap(1,1) K; TemporalMap(1,1) N;")
    with pytest.raises(ValueError, match=r"size 'Foo'"):
        parse_dataflow("SpatialMap(Foo,1) K;")
    with pytest.raises(ValueError, match=r"no SpatialMap"):
        evaluate(layers, Hardware(num_pes=4), [TemporalMap(1, 1, "K")])
    with pytest.raises(ValueError, match=r"do not broadcast"):
        evaluate({**layers, "K": np.array([1, 2, 3])}, Hardware(num_pes=np.array([4, 8])), "kcp")


def test_predict_csv_round_trip(tmp_path):
    src = DATA / "reference_ykp.csv"
    keep = ("name", "type", "K", "C", "Y", "X", "R", "S", "stride", "dataflow", "ktile", "num_pes",
            "noc_bw_cstr", "offchip_bw_cstr", "noc_latency", "l1_size_cstr")
    with open(src, newline="") as fh:
        ref = list(csv.DictReader(fh))
    inp = tmp_path / "in.csv"
    with open(inp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keep)
        w.writeheader()
        for r in ref:
            w.writerow({k: r[k] for k in keep})
    out = tmp_path / "out.csv"
    predict_csv(inp, out)
    with open(out, newline="") as fh:
        got = list(csv.DictReader(fh))
    assert len(got) == len(ref)
    assert list(got[0].keys())[: len(keep)] == list(keep)
    for g, r in zip(got, ref):
        assert g["l1_size_cstr"] == r["l1_size_cstr"] and g["name"] == r["name"]
        assert int(g["runtime_cycles"]) == int(r["Runtime (Cycles)"])
        assert int(g["output_l2_write"]) == int(float(r["output l2 write"]))
        assert set(OUTPUT_COLUMNS) <= set(g)


def test_predict_rows_errors_name_row_field_value():
    row = {"name": "a", "type": "CONV", "K": "4", "C": "4", "Y": "8", "X": "8", "R": "3", "S": "3", "stride": "1",
           "dataflow": "kcp", "num_pes": "16", "noc_bw_cstr": "16", "offchip_bw_cstr": "70000", "noc_latency": "1"}
    assert predict_rows([row])[0]["runtime_cycles"] > 0
    with pytest.raises(ValueError, match=r"row 2: field 'num_pes' has value 'x'"):
        predict_rows([row, {**row, "num_pes": "x"}])
    with pytest.raises(ValueError, match=r"row 1: field 'dataflow' has value 'nope'"):
        predict_rows([{**row, "dataflow": "nope"}])
    with pytest.raises(ValueError, match=r"row 3: field 'R' has value 9"):
        predict_rows([row, row, {**row, "R": "9"}])


def test_torch_parity():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    n = 64
    layers = {"type": np.where(rng.random(n) < 0.2, 2, 1), "C": rng.integers(1, 128, n), "R": rng.choice([1, 3], n),
              "stride": rng.integers(1, 3, n)}
    layers["K"] = np.where(layers["type"] == 2, layers["C"], rng.integers(1, 128, n))
    layers["groups"] = np.where(layers["type"] == 2, layers["C"], 1)
    layers["S"] = layers["R"]
    layers["Y"] = layers["R"] + rng.integers(0, 30, n)
    layers["X"] = layers["Y"]
    P, kt = rng.integers(1, 512, n), rng.integers(1, 13, n)
    for df in ("kcp", "cfx_dla", "cfx_eye"):
        a = evaluate(layers, Hardware(num_pes=P, ktile=kt, noc_bw=32), df)
        b = evaluate({k: torch.as_tensor(v) for k, v in layers.items()},
                     Hardware(num_pes=torch.as_tensor(P), ktile=torch.as_tensor(kt), noc_bw=32), df)
        for f in a._fields:
            t = getattr(b, f)
            assert isinstance(t, torch.Tensor), f
            if np.asarray(getattr(a, f)).dtype == np.int64:
                assert t.dtype == torch.int64
                assert np.array_equal(t.numpy(), getattr(a, f)), (df, f)
            else:
                assert t.dtype == torch.float64
                np.testing.assert_allclose(t.numpy(), getattr(a, f), rtol=1e-12)


def test_no_torch_import_at_module_import():
    import subprocess
    import sys

    code = ("import sys; import codesign_gym.costmodels.dataflow as d; "
            "d.evaluate({'type':'CONV','K':2,'C':2,'Y':4,'X':4,'R':1,'S':1}, d.Hardware(num_pes=4), 'kcp'); "
            "assert 'torch' not in sys.modules and 'gymnasium' not in sys.modules and 'ray' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
