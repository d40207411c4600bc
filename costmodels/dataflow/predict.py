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
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from .hardware import Hardware
from .model import COUNT_FIELDS, INT64_MAX, CountOverflowError, evaluate
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
    text = str(raw).strip()
    try:
        value = int(text)  # exact, however long
    except ValueError:
        try:
            f = float(text)  # "64.0", "1e3"
        except ValueError:
            raise ValueError(f"row {rownum}: field {field!r} has value {raw!r}; expected an integer") from None
        if not np.isfinite(f) or f != int(f):
            raise ValueError(f"row {rownum}: field {field!r} has value {raw!r}; expected an integer") from None
        value = int(f)
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise ValueError(f"row {rownum}: field {field!r} has value {raw!r}; expected an integer below 2^63 = {INT64_MAX + 1}")
    return value


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
        try:
            res = evaluate(layers, hw, df).as_dict()
        except CountOverflowError as exc:
            row = idxs[exc.index] + 1
            name = rows[idxs[exc.index]].get("name")
            raise ValueError(f"row {row}{f' ({name})' if name else ''}: {exc.quantity}={exc.value} on dataflow {df} "
                             f"does not fit in int64 (at most {INT64_MAX}); expected a smaller layer or hardware") from None
        for j, i in enumerate(idxs):
            for c in OUTPUT_COLUMNS:
                out[i][c] = res[c][j].item()
    return out


def _check_paths(in_path, out_path) -> None:
    """ValueError / FileNotFoundError naming the path when the input is not a readable file, the
    output is a directory, or the output is the input (it would be overwritten)."""
    src, dst = Path(in_path), Path(out_path)
    if not src.exists():
        raise FileNotFoundError(f"input CSV {str(src)!r} does not exist")
    if not src.is_file():
        raise ValueError(f"input CSV {str(src)!r} is a directory (or not a regular file); expected a CSV file")
    if dst.is_dir():
        raise ValueError(f"output {str(dst)!r} is a directory; expected a file path for the results CSV")
    if (dst.exists() and os.path.samefile(src, dst)) or src.resolve() == dst.resolve():
        raise ValueError(f"output {str(dst)!r} is the input file; expected another path (the input is left unchanged)")
    if not dst.parent.is_dir():
        raise FileNotFoundError(f"output directory {str(dst.parent)!r} does not exist")


def read_cases(in_path) -> tuple[list[str], list[dict]]:
    """Header and rows of a cases CSV; ValueError naming the file and line for a row with more
    cells than the header, a file that is not UTF-8 text, or malformed CSV."""
    rows = []
    try:
        with open(in_path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = list(reader.fieldnames or [])
            for row in reader:
                if None in row:
                    raise ValueError(f"{in_path}: line {reader.line_num} has {len(fields) + len(row[None])} cells; expected "
                                     f"{len(fields)} (the header's columns), extra cells {row[None]!r}")
                rows.append(row)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{in_path}: not UTF-8 text ({exc.reason} at byte {exc.start}); expected a CSV file") from None
    except csv.Error as exc:
        raise ValueError(f"{in_path}: malformed CSV ({exc}); expected a CSV file") from None
    if not fields:
        raise ValueError(f"{in_path}: empty file; expected a header line with columns {', '.join(REQUIRED)}")
    return fields, rows


def predict_csv(in_path, out_path) -> list[dict]:
    """Read ``in_path``, write ``out_path`` with the prediction columns appended; returns the rows.
    The output must not be the input; nothing is written when a row is refused."""
    _check_paths(in_path, out_path)
    fields, rows = read_cases(in_path)
    out = predict_rows(rows)
    header = fields + [c for c in OUTPUT_COLUMNS if c not in fields]
    with open(out_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        for r in out:
            w.writerow({k: (_fmt(v) if k in OUTPUT_COLUMNS else v) for k, v in r.items()})
    return out
