"""Per-action energies (pJ) from real Accelergy estimates, and a fitted way to scale them.

``data/energy_table.csv`` holds every distinct entry of the energy reference tables (ERTs)
of the 19 Timeloop/Accelergy reference cases (Accelergy's CACTI, Aladdin, Library and
NeuroSim plug-ins; SRAMs, register files, DRAM and MACs at 32, 40 and 45 nm; source and MIT
licence in ``data/SOURCE.md``). Nothing here is invented: a lookup returns a table entry,
and a size the table lacks is priced by a power law fitted on the table's own rows:

    E_access = exp(c) * width_bits**a * depth**b * technology_nm**g

fitted by least squares in log space, separately for ``sram`` rows (estimated by CACTI) and
``regfile`` rows (register-file classes), for reads and writes. :func:`scaling_fits` holds the
coefficients with the rows they were fitted on and their residuals. DRAM costs the tables'
constant 8 pJ per bit (CACTI's LPDDR4 estimate: 512 pJ per 64-bit access).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
from pathlib import Path
from typing import Mapping

import numpy as np

DATA = Path(__file__).parent / "data" / "energy_table.csv"

#: Component classes priced by each scaling fit.
SRAM_CLASSES = ("SRAM", "smartbuffer_SRAM")
REGFILE_CLASSES = ("regfile", "smartbuffer_RF")


@functools.lru_cache(maxsize=1)
def energy_table() -> tuple[dict, ...]:
    """The shipped rows: strings converted to floats where numeric (empty -> None)."""
    rows = []
    with DATA.open(newline="") as fh:
        for row in csv.DictReader(fh):
            parsed = {}
            for key, value in row.items():
                if key in ("component", "component_class", "estimators", "source_case"):
                    parsed[key] = value
                else:
                    parsed[key] = float(value) if value not in ("", None) else None
            rows.append(parsed)
    return tuple(rows)


@dataclasses.dataclass(frozen=True)
class ScalingFit:
    """``log y = c + a log(width_bits) + b log(depth) + g log(technology_nm)``: the energy of one
    action (pJ) or, with ``action="area"``, the area of one instance (um^2, :mod:`.area`)."""

    kind: str  # "sram" or "regfile"
    action: str  # "read", "write" or "area"
    c: float
    a: float
    b: float
    g: float
    rows: int
    max_abs_log_residual: float  # worst |log(fit / table)| over the rows fitted

    def __call__(self, width_bits, depth, technology_nm):
        return np.exp(self.c + self.a * np.log(width_bits) + self.b * np.log(depth) + self.g * np.log(technology_nm))


def _fit(kind: str, action: str) -> ScalingFit:
    classes = SRAM_CLASSES if kind == "sram" else REGFILE_CLASSES
    points = {}
    for row in energy_table():
        if row["component_class"] not in classes or not row["depth"] or not row["technology_nm"]:
            continue
        if kind == "sram" and "Cacti" not in row["estimators"]:
            continue
        key = (row["width_bits"], row["depth"], row["technology_nm"])
        points.setdefault(key, row[f"{action}_pJ"])
    coef, residual = fit_power_law(points)
    return ScalingFit(kind, action, *coef, rows=len(points), max_abs_log_residual=residual)


def fit_power_law(points: Mapping[tuple[float, float, float], float]) -> tuple[tuple[float, float, float, float], float]:
    """Least-squares fit of ``log y = c + a log(width) + b log(depth) + g log(technology)`` to
    ``{(width_bits, depth, technology_nm): y}``; returns ``((c, a, b, g), worst |log residual|)``."""
    keys = np.array(list(points), dtype=np.float64)
    values = np.array(list(points.values()), dtype=np.float64)
    design = np.column_stack([np.ones(len(keys)), np.log(keys[:, 0]), np.log(keys[:, 1]), np.log(keys[:, 2])])
    coef, *_ = np.linalg.lstsq(design, np.log(values), rcond=None)
    residual = float(np.max(np.abs(design @ coef - np.log(values))))
    return tuple(float(v) for v in coef), residual


@functools.lru_cache(maxsize=None)
def scaling_fit(kind: str, action: str) -> ScalingFit:
    if kind not in ("sram", "regfile") or action not in ("read", "write"):
        raise ValueError(f"scaling fit {kind!r}/{action!r}; expected kind sram|regfile and action read|write")
    return _fit(kind, action)


def scaling_fits() -> list[ScalingFit]:
    """Every fit, for documentation and reports."""
    return [scaling_fit(k, a) for k in ("sram", "regfile") for a in ("read", "write")]


#: DRAM energy per bit moved (pJ): every DRAM entry of the table is 512 pJ / 64 bits or 2048 / 256.
DRAM_PJ_PER_BIT = 8.0


def lookup(component_class: str, technology_nm: float | None, depth: int | None, width_bits: int | None,
           datawidth_bits: int | None = None, table: tuple[dict, ...] | None = None) -> dict | None:
    """The row of ``table`` (default: the energy table) with exactly these attributes, or ``None``."""
    for row in energy_table() if table is None else table:
        if (row["component_class"] == component_class and row["technology_nm"] == technology_nm
                and row["depth"] == depth and row["width_bits"] == width_bits
                and (datawidth_bits is None or row["datawidth_bits"] == datawidth_bits)):
            return row
    return None


def fit_kind(component_class: str, depth: int | None, technology_nm: float | None, what: str) -> str:
    """``sram`` or ``regfile``: the scaling fit that prices ``component_class`` (``what``:
    "energy" or "area", for the message).

    Raises:
        ValueError: another class, or no depth / technology to scale with.
    """
    kind = "sram" if component_class in SRAM_CLASSES else "regfile" if component_class in REGFILE_CLASSES else None
    if kind is None:
        raise ValueError(f"no {what} for storage class {component_class!r}; expected DRAM, {', '.join(SRAM_CLASSES + REGFILE_CLASSES)} "
                         f"or an exact row of the shipped {what} table")
    if not depth or not technology_nm:
        raise ValueError(f"{component_class}: depth={depth!r}, technology={technology_nm!r}; both are needed to scale the {what}")
    return kind


def storage_energy(component_class: str, depth: int | None, width_bits: int, technology_nm: float | None,
                   datawidth_bits: int | None = None) -> dict[str, float]:
    """``{read, write, update, leak}`` pJ per access of one storage component.

    A table row with these exact attributes wins; otherwise DRAM costs 8 pJ/bit and SRAM /
    register-file classes use their scaling fit (leakage: 0, no fit). Other classes raise.
    """
    if component_class == "DRAM":
        e = DRAM_PJ_PER_BIT * width_bits
        return dict(read=e, write=e, update=e, leak=0.0)
    row = lookup(component_class, technology_nm, depth, width_bits, datawidth_bits)
    if row is not None:
        return dict(read=row["read_pJ"], write=row["write_pJ"], update=row["update_pJ"], leak=row["leak_pJ_per_cycle"] or 0.0)
    kind = fit_kind(component_class, depth, technology_nm, "energy")
    read = float(scaling_fit(kind, "read")(width_bits, depth, technology_nm))
    write = float(scaling_fit(kind, "write")(width_bits, depth, technology_nm))
    return dict(read=read, write=write, update=write, leak=0.0)


def mac_energy(component_class: str, technology_nm: float | None, width_bits: int | None = None) -> float:
    """pJ per compute of a MAC class at a technology, from the table (exact class and node;
    the closest datapath width when several match)."""
    matches = [r for r in energy_table() if r["component_class"] == component_class and r["compute_pJ"] is not None
               and r["technology_nm"] == technology_nm]
    if not matches:
        known = sorted({(r["component_class"], r["technology_nm"]) for r in energy_table() if r["compute_pJ"] is not None})
        raise ValueError(f"no MAC energy for class {component_class!r} at {technology_nm} nm; the table has {known}")
    if width_bits is not None:
        matches.sort(key=lambda r: abs((r["width_bits"] or width_bits) - width_bits))
    return float(matches[0]["compute_pJ"])


def estimate_ert(spec: Mapping) -> dict[str, dict[str, float]]:
    """An ERT-like ``{component: {action: pJ}}`` for a parsed Timeloop input without an ERT."""
    from .timeloop_yaml import component_specs

    out = {}
    for comp in component_specs(spec):
        attrs = comp.attributes
        if comp.component_class == "dummy_storage":
            continue
        if comp.is_compute:
            out[comp.name] = {"compute": mac_energy(comp.component_class, comp.technology_nm,
                                                    attrs.get("datawidth", attrs.get("multiplier_width")))}
        else:
            depth = attrs.get("depth")
            out[comp.name] = storage_energy(comp.component_class, int(depth) if depth else None,
                                            int(attrs.get("width", attrs.get("datawidth", 8))), comp.technology_nm, attrs.get("datawidth"))
    return out
