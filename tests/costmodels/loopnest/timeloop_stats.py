"""Parse the per-level figures of a Timeloop ``*.stats.txt`` (the reference outputs in tests/data/timeloop)."""

from __future__ import annotations

import re
from pathlib import Path

_FIELDS = {
    "Utilized capacity": "utilized_capacity",
    "Utilized instances (max)": "utilized_instances",
    "Scalar reads (per-instance)": "reads",
    "Scalar fills (per-instance)": "fills",
    "Scalar updates (per-instance)": "updates",
    "Partition size": "partition",
    "Energy (total)": "energy_total",
}


def parse_stats(path: str | Path) -> dict:
    """``{"cycles", "macs", "levels": {name: {"instances", "leak_total", "compute_energy"?,
    "spaces": {Weights|Inputs|Outputs: {field: number}}}}}`` from a Timeloop stats file."""
    text = Path(path).read_text()
    levels: dict[str, dict] = {}
    current = None
    space = None
    for line in text.splitlines():
        header = re.match(r"^=== (\S+) ===$", line.strip())
        if header and line.startswith("==="):
            current = levels.setdefault(header.group(1), {"spaces": {}})
            space = None
            continue
        if line.startswith("Networks") or line.startswith("Operational Intensity"):
            current = None
        if current is None:
            continue
        stripped = line.strip()
        m = re.match(r"^(Weights|Inputs|Outputs):$", stripped)
        if m:
            space = current["spaces"].setdefault(m.group(1), {})
            continue
        if ":" not in stripped:
            continue
        key, _, value = stripped.partition(":")
        key, value = key.strip(), value.strip()
        if key == "Instances" and "instances" not in current:
            current["instances"] = int(value.split()[0])
        elif key == "Leakage energy (total)":
            current["leak_total"] = float(value.split()[0])
        elif key == "Computes (total)":
            current["computes"] = int(value)
        elif key == "Energy (total)" and space is None:
            current["compute_energy"] = float(value.split()[0])
        elif key == "Utilized instances" and space is None:
            current["utilized_instances"] = int(value)
        elif space is not None and key in _FIELDS:
            number = value.split()[0]
            space[_FIELDS[key]] = float(number) if "." in number else int(number)
    cycles = int(re.search(r"^Cycles: (\d+)", text, re.M).group(1))
    macs = int(re.search(r"^Computes = (\d+)", text, re.M).group(1))
    return {"cycles": cycles, "macs": macs, "levels": levels}
