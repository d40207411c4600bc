"""The dataflow model against MAESTRO's real outputs (tests/data/maestro, copied from the shared
references; see the README there). Prints a per-dataflow error table."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from codesign_gym.costmodels.dataflow.model import COUNT_FIELDS
from codesign_gym.costmodels.dataflow.predict import predict_rows

DATA = Path(__file__).resolve().parents[1] / "data" / "maestro"
FILES = ("reference.csv", "reference_sweep.csv", "reference_ykp.csv")

#: our field -> MAESTRO column
EXACT = {"runtime_cycles": "Runtime (Cycles)", "macs": "Num MACs", "l1_bytes_required": "L1 SRAM Size Req (Bytes)",
         "l2_bytes_required": "L2 SRAM Size Req (Bytes)"}
EXACT.update({f: f.replace("_", " ") for f in COUNT_FIELDS})
SOFT = {"area": ("Area", 1e-4), "power": ("Power", 1e-4), "energy_mac_units": ("screen_total_energy_macunits", 5e-3)}
BW = {"noc_bw_peak": "Peak BW Req", "noc_bw_avg": "Avg BW Req"}
INPUT = ("name", "type", "K", "C", "Y", "X", "R", "S", "stride", "dataflow", "ktile", "num_pes", "noc_bw_cstr",
         "offchip_bw_cstr", "noc_latency")


@pytest.fixture(scope="module")
def table():
    rows = []
    for f in FILES:
        with open(DATA / f, newline="") as fh:
            rows += list(csv.DictReader(fh))
    assert len(rows) == 45 + 297 + 24
    pred = predict_rows([{k: r[k] for k in INPUT} for r in rows])
    return rows, pred


def _rel(rows, pred, ours, theirs):
    ref = np.array([float(r[theirs]) for r in rows])
    got = np.array([float(p[ours]) for p in pred])
    return np.abs(got - ref) / np.maximum(np.abs(ref), 1e-12)


def test_error_table_and_fidelity(table):
    rows, pred = table
    metrics = {**EXACT, **{k: v[0] for k, v in SOFT.items()}, **BW}
    errs = {k: _rel(rows, pred, k, v) for k, v in metrics.items()}
    dfs = sorted({r["dataflow"] for r in rows})
    print("\nMAESTRO fidelity: max relative error / share of rows within 0.1%")
    print(f"{'metric':22s}" + "".join(f"{d:>17s}" for d in dfs) + f"{'all':>17s}")
    for k in metrics:
        line = f"{k:22s}"
        for d in dfs + ["all"]:
            m = np.array([d == "all" or r["dataflow"] == d for r in rows])
            e = errs[k][m]
            line += f"  {e.max():7.1e}/{np.mean(e <= 1e-3):5.1%}"
        print(line)
    counts = {d: sum(r["dataflow"] == d for r in rows) for d in dfs}
    print(f"rows per dataflow: {counts}")
    for k in EXACT:
        assert np.mean(errs[k] <= 1e-3) >= 0.95, k
        assert errs[k].max() <= 0.02, k
    for k, (_, tol) in SOFT.items():
        assert errs[k].max() <= tol, k
    # MAESTRO prints 6 significant digits: the BW columns match to that precision
    assert errs["noc_bw_peak"].max() <= 1e-5
    assert errs["noc_bw_avg"].max() <= 1e-5


def test_reference_is_reproduced_exactly(table):
    """Stronger than the issue's target: every count and the runtime equal MAESTRO's on every row."""
    rows, pred = table
    for k, col in EXACT.items():
        ref = np.array([int(float(r[col])) for r in rows])
        got = np.array([int(p[k]) for p in pred])
        bad = np.flatnonzero(ref != got)
        assert bad.size == 0, (k, [(rows[i]["name"], rows[i]["dataflow"], ref[i], got[i]) for i in bad[:5]])


def test_ideal_macs_column(table):
    rows, pred = table
    for r, p in zip(rows, pred):
        K, C, Y, X, R, S, st = (int(r[c]) for c in ("K", "C", "Y", "X", "R", "S", "stride"))
        if r["type"] == "DSCONV":
            K = 1  # MAESTRO's depthwise: one filter per channel
        assert p["macs_ideal"] == K * C * ((Y - R) // st + 1) * ((X - S) // st + 1) * R * S
