"""Reading and writing layer tables as CSV files.

Two formats are read, told apart by the header line:

* **Ours**: ``name,type,K,C,Y,X,R,S,stride,padding,groups,residual_from`` (the conventions of
  :mod:`.layer_table`). ``type`` is a name (``CONV``, ``DSCONV``, ``GROUPCONV``, ``GEMM``;
  ``FC``/``DEPTHWISE`` accepted) or its integer code. Required: ``type,K,C,Y,X,R,S``; the
  others default to ``name=<table>_L<i>``, ``stride=1``, ``padding=0``, ``groups=1``,
  ``residual_from=-1``. Columns may come in any order.
* **ConfuciuX / MAESTRO**: ``K,C,Y,X,R,S,T`` with ``T=1`` a convolution and ``T=2`` a
  depthwise convolution written MAESTRO's way, ``K=1, C=channels``. ConfuciuX ran every layer
  at stride 1 without padding, so rows load with ``stride=1, padding=0`` and depthwise rows
  become ``K=C=groups=channels`` (PyTorch's convention, see :func:`.layer_table.from_maestro_dims`).

Every error names the file, the line (1-based, the header is line 1) and the field.
"""

from __future__ import annotations

import csv
import io as _io
import math
import os
from pathlib import Path
from typing import Iterable, TextIO

from ..textfiles import read_text
from .layer_table import INT_COLUMNS, LayerTable, LayerTableError, LayerType

#: Header of our own CSV format, in the order :func:`save_layer_csv` writes it.
CSV_COLUMNS: tuple[str, ...] = ("name",) + INT_COLUMNS
#: Header of ConfuciuX's model files.
CFX_COLUMNS: tuple[str, ...] = ("K", "C", "Y", "X", "R", "S", "T")
_REQUIRED = ("type", "K", "C", "Y", "X", "R", "S")


#: The largest magnitude a layer-table integer may have: the counts are int64.
_INT64_MAX = (1 << 63) - 1


def _int_field(text: str, where: str, field: str) -> int:
    """``text`` as an integer (``"64"``, ``"64.0"``, ``"6.4e1"``) that fits int64.

    Raises:
        ValueError: naming ``where`` (file and line), the field and the text.
    """
    stripped = text.strip()
    try:
        value = int(stripped)
    except ValueError:
        try:
            number = float(stripped)
        except ValueError:
            raise ValueError(f"{where}: field {field!r} is {text!r}; expected an integer") from None
        if not math.isfinite(number) or number != int(number):
            raise ValueError(f"{where}: field {field!r} is {text!r}; expected an integer") from None
        value = int(number)
    if abs(value) > _INT64_MAX:
        raise ValueError(f"{where}: field {field!r} is {text!r}, beyond int64; expected an integer of magnitude at most 2**63-1")
    return value


def _read_rows(lines: Iterable[str], source: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header (stripped) and the non-empty data rows with their 1-based line numbers."""
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            raise ValueError(f"{source}, line {reader.line_num}: {err}; expected comma-separated fields") from None
        line = reader.line_num
        if not cells or all(not c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [c.strip() for c in cells]
            continue
        if len(cells) != len(header):
            raise ValueError(f"{source}, line {line}: {len(cells)} fields; the header has {len(header)} ({','.join(header)}); "
                             f"expected one field per column, no extra cells")
        rows.append((line, cells))
    if header is None:
        raise ValueError(f"{source}: empty file; expected a header {','.join(CSV_COLUMNS)} or {','.join(CFX_COLUMNS)}")
    if not rows:
        raise ValueError(f"{source}: no layers after the header; expected at least one layer row")
    return header, rows


def _parse_cfx(header: list[str], rows: list[tuple[int, list[str]]], source: str, name: str) -> LayerTable:
    pos = {h: i for i, h in enumerate(header)}
    out, lines = [], []
    for line, cells in rows:
        where = f"{source}, line {line}"
        v = {f: _int_field(cells[pos[f]], where, f) for f in CFX_COLUMNS}
        if v["T"] == 1:
            k, c, groups, t = v["K"], v["C"], 1, LayerType.CONV
        elif v["T"] == 2:
            if v["K"] != 1:
                raise ValueError(f"{where}: field 'K' is {v['K']} in a depthwise row (T=2); MAESTRO's convention is K=1")
            k = c = groups = v["C"]
            t = LayerType.DSCONV
        else:
            raise ValueError(f"{where}: field 'T' is {v['T']}; expected 1 (CONV) or 2 (depthwise)")
        out.append(dict(name=f"{name}_L{len(out)}", type=t, K=k, C=c, Y=v["Y"], X=v["X"], R=v["R"], S=v["S"],
                        stride=1, padding=0, groups=groups))
        lines.append(line)
    return _build(name, out, lines, source)


def _parse_ours(header: list[str], rows: list[tuple[int, list[str]]], source: str, name: str) -> LayerTable:
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise ValueError(f"{source}, line 1: unknown column(s) {unknown}; expected columns among {','.join(CSV_COLUMNS)} "
                         f"or the ConfuciuX header {','.join(CFX_COLUMNS)}")
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise ValueError(f"{source}, line 1: missing column(s) {missing}; required {','.join(_REQUIRED)}")
    out, lines = [], []
    for line, cells in rows:
        where = f"{source}, line {line}"
        row: dict[str, object] = {}
        for h, cell in zip(header, cells):
            if h == "name":
                row["name"] = cell.strip() or f"{name}_L{len(out)}"
            elif h == "type":
                try:
                    row["type"] = LayerType.parse(int(cell) if cell.strip().lstrip("-").isdigit() else cell)
                except ValueError as err:
                    raise ValueError(f"{where}: field 'type': {err}") from None
            else:
                row[h] = _int_field(cell, where, h)
        row.setdefault("name", f"{name}_L{len(out)}")
        out.append(row)
        lines.append(line)
    return _build(name, out, lines, source)


def _build(name: str, rows: list[dict[str, object]], lines: list[int], source: str) -> LayerTable:
    try:
        return LayerTable.from_rows(name, rows)
    except LayerTableError as err:
        if err.index is None:
            raise ValueError(f"{source}: {err}") from None
        raise ValueError(f"{source}, line {lines[err.index]}: field {err.field!r}: {err}") from None


def parse_layer_csv(text_or_stream: str | TextIO, name: str, source: str | None = None) -> LayerTable:
    """Parse CSV text (or an open text stream) in either format; ``source`` names it in errors."""
    stream = _io.StringIO(text_or_stream) if isinstance(text_or_stream, str) else text_or_stream
    source = source or name
    header, rows = _read_rows(stream, source)
    if sorted(header) == sorted(CFX_COLUMNS):
        return _parse_cfx(header, rows, source, name)
    return _parse_ours(header, rows, source, name)


def load_layer_csv(path: str | os.PathLike, name: str | None = None) -> LayerTable:
    """Load a layer table from a CSV file in our format or ConfuciuX's (detected by header).

    Args:
        path: the file.
        name: the table's name; defaults to the file's stem.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a directory, bytes that are not UTF-8 text (a leading BOM is allowed), a
            NUL byte, or a malformed file; the message names the file, the line and the field.
    """
    path = Path(path)
    text = read_text(path, "a layer-table CSV file (text)", encoding="utf-8-sig")
    return parse_layer_csv(_io.StringIO(text, newline=""), name or path.stem, source=str(path))


def format_layer_csv(table: LayerTable) -> str:
    """The table as CSV text in our format (header :data:`CSV_COLUMNS`, type by name)."""
    buf = _io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in table.to_rows():
        writer.writerow([row[c] for c in CSV_COLUMNS])
    return buf.getvalue()


def save_layer_csv(table: LayerTable, path: str | os.PathLike) -> Path:
    """Write ``table`` to ``path`` in our CSV format; :func:`load_layer_csv` reads it back equal."""
    path = Path(path)
    path.write_text(format_layer_csv(table))
    return path
