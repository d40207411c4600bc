"""Plain-text and Markdown rendering of small result tables (lists of dict rows)."""

from __future__ import annotations

from typing import Mapping, Sequence


def format_value(value: object) -> str:
    """Integers with thousands separators, floats to 4 significant digits (scientific when large)."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "nan"
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:.4g}"
    return str(value)


def render_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None, markdown: bool = False) -> str:
    """Render rows as an aligned text table (or a Markdown table when ``markdown``)."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())
    cells = [[format_value(r.get(c, "")) for c in columns] for r in rows]
    if markdown:  # a literal "|" would split a Markdown cell
        cells = [[c.replace("|", "\\|") for c in row] for row in cells]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(values, widths)]
        return ("| " + " | ".join(parts) + " |") if markdown else "  ".join(parts).rstrip()

    out = [line(columns)]
    out.append(("|" + "|".join("-" * (w + 2) for w in widths) + "|") if markdown else "  ".join("-" * w for w in widths))
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def _numeric(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or (text[0] in "-+" and text[1:2].isdigit()))


def print_report(report: Mapping[str, object], as_json: bool, key_width: int = 22) -> int:
    """Print a command's ``report`` as one JSON object or as aligned ``key value`` lines; returns 0."""
    import json

    if as_json:
        print(json.dumps(report))
        return 0
    for key, value in report.items():
        print(f"{key:{key_width}s} {value}")
    return 0
