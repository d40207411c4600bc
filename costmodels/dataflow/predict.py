"""CSV front end: predict MAESTRO's outputs for rows of (layer, dataflow, hardware).

Input columns: ``name,type,K,C,Y,X,R,S,stride,dataflow,ktile,num_pes,noc_bw_cstr,
offchip_bw_cstr,noc_latency`` (``ktile`` defaults to 1; optional ``padding``, ``groups``; any other
column is carried through unchanged). A DSCONV row may use MAESTRO's convention (``K=1``,
``C=channels``) or PyTorch's (``K=C=channels``). Output rows add :data:`OUTPUT_COLUMNS`.

Rows are grouped by (dataflow, layer type); each group is one vectorized :func:`~.model.evaluate`
call. Only the ``csv`` module and numpy are used.
"""

from __future__ import annotations

import csv
from typing import Iterable

import numpy as np

from .hardware import Hardware
from .model import COUNT_FIELDS, evaluate
from .templates import canonical_name

INT_COLUMNS = ("K", "C", "Y", "X", "R", "S", "stride", "ktile", "num_pes", "noc_bw_cstr", "offchip_bw_cstr", "noc_latency")
OPTIONAL_DEFAULTS = {"ktile": 1, "padding": 0, "groups": 1}
REQUIRED = ("type", "K", "C", "Y", "X", "R", "S", "stride", "dataflow", "num_pes", "noc_bw_cstr", "offchip_bw_cstr", "noc_latency")
OUTPUT_COLUMNS = ("runtime_cycles", "macs", "macs_ideal", "energy_mac_units", "energy_pj", "l1_bytes_required",
                  "l2_bytes_required", "noc_bw_peak", "noc_bw_avg", "area", "power") + COUNT_FIELDS
_TYPES = {"CONV": "CONV", "DSCONV": "DSCONV", "DEPTHWISE": "DSCONV", "GROUPCONV": "GROUPCONV", "GEMM": "GEMM", "FC": "GEMM"}


def _int_field(row: dict, field: str, rownum: int) -> int:
    raw = row.get(field)
    if raw is None or str(raw).strip() == "":
        if field in OPTIONAL_DEFAULTS:
            return OPTIONAL_DEFAULTS[field]
        raise ValueError(f"row {rownum}: field {field!r} is missing; expected an integer")
    try:
        f = float(str(raw).strip())
    except ValueError:
        raise ValueError(f"row {rownum}: field {field!r} has value {raw!r}; expected an integer") from None
    if not np.isfinite(f) or f != int(f):
        raise ValueError(f"row {rownum}: field {field!r} has value {raw!r}; expected an integer")
    return int(f)


def _parse(rows: list[dict]):
    parsed = []
    for i, row in enumerate(rows, start=1):
        missing = [c for c in REQUIRED if c not in row]
        if missing:
            raise ValueError(f"row {i}: missing column(s) {missing}; expected {list(REQUIRED)}")
        t = str(row["type"]).strip().upper()
        if t not in _TYPES:
            raise ValueError(f"row {i}: field 'type' has value {row['type']!r}; expected CONV, DSCONV, GROUPCONV or GEMM")
        t = _TYPES[t]
        try:
            df = canonical_name(str(row["dataflow"]))
        except ValueError as exc:
            raise ValueError(f"row {i}: field 'dataflow' has value {row['dataflow']!r}; {exc}") from None
        vals = {c: _int_field(row, c, i) for c in INT_COLUMNS + ("padding", "groups")}
        for c in ("K", "C", "Y", "X", "R", "S", "stride", "ktile", "num_pes", "noc_bw_cstr", "offchip_bw_cstr", "groups"):
            if vals[c] < 1:
                raise ValueError(f"row {i}: field {c!r} has value {vals[c]}; expected >= 1")
        for c in ("padding", "noc_latency"):
            if vals[c] < 0:
                raise ValueError(f"row {i}: field {c!r} has value {vals[c]}; expected >= 0")
        for dim, filt in (("Y", "R"), ("X", "S")):
            if vals[filt] > vals[dim] + 2 * vals["padding"]:
                raise ValueError(f"row {i}: field {filt!r} has value {vals[filt]}; expected <= {dim}+2*padding = "
                                 f"{vals[dim] + 2 * vals['padding']}")
        if t == "DSCONV":
            if vals["K"] == 1 or vals["K"] == vals["C"]:
                vals["K"] = vals["groups"] = vals["C"]
            else:
                raise ValueError(f"row {i}: field 'K' has value {vals['K']} for a DSCONV layer; expected 1 (MAESTRO) or C={vals['C']}")
        elif vals["groups"] > 1 and (vals["K"] % vals["groups"] or vals["C"] % vals["groups"]):
            raise ValueError(f"row {i}: field 'groups' has value {vals['groups']}; expected a divisor of K and C")
        parsed.append((df, t, vals))
    return parsed


def _fmt(x) -> str:
    if isinstance(x, (np.integer, int)):
        return str(int(x))
    return repr(float(x))


def predict_rows(rows: Iterable[dict]) -> list[dict]:
    """Predictions for dict rows (see module doc); returns new dicts, input order kept."""
    rows = [dict(r) for r in rows]
    parsed = _parse(rows)
    groups: dict = {}
    for idx, (df, t, _) in enumerate(parsed):
        groups.setdefault((df, t), []).append(idx)
    out = [dict(r) for r in rows]
    for (df, t), idxs in groups.items():
        col = lambda c: np.array([parsed[i][2][c] for i in idxs], dtype=np.int64)  # noqa: E731
        layers = {"type": np.full(len(idxs), t, dtype=object), "K": col("K"), "C": col("C"), "Y": col("Y"), "X": col("X"),
                  "R": col("R"), "S": col("S"), "stride": col("stride"), "padding": col("padding"), "groups": col("groups")}
        hw = Hardware(num_pes=col("num_pes"), ktile=col("ktile"), noc_bw=col("noc_bw_cstr"),
                      offchip_bw=col("offchip_bw_cstr"), noc_latency=col("noc_latency"))
        res = evaluate(layers, hw, df).as_dict()
        for j, i in enumerate(idxs):
            for c in OUTPUT_COLUMNS:
                out[i][c] = res[c][j].item()
    return out


def predict_csv(in_path, out_path) -> list[dict]:
    """Read ``in_path``, write ``out_path`` with the prediction columns appended; returns the rows."""
    with open(in_path, newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    out = predict_rows(rows)
    header = fields + [c for c in OUTPUT_COLUMNS if c not in fields]
    with open(out_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        for r in out:
            w.writerow({k: (_fmt(v) if k in OUTPUT_COLUMNS else v) for k, v in r.items()})
    return out
