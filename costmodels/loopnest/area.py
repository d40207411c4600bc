"""Per-instance areas (um^2) from real Accelergy estimates, and a fitted way to scale them.

``data/area_table.csv`` holds every distinct SRAM, register-file, storage and MAC entry of the
area reference tables (``*.ART.yaml``) of the Timeloop/Accelergy reference runs whose flattened
architecture gives the component's attributes (Accelergy's CACTI, Aladdin, Library and NeuroSim
plug-ins at 32, 40 and 45 nm; source and MIT licence in ``data/SOURCE.md``). As Timeloop reports
them, areas are **per instance**; a design's area is the sum over components of instances x
area. Network-on-chip and DRAM area are not modelled (the references give the NoCs a dummy 1
um^2 and DRAM 0).

A lookup returns a table entry; a size the table lacks is priced by a power law fitted on the
table's own rows (:func:`area_fit`, same form as the energy fits of :mod:`.energy_tables`):

    A = exp(c) * width_bits**a * depth**b * technology_nm**g

separately for CACTI-estimated SRAMs (6 rows, worst residual x1.64) and register files (11
rows, worst residual x1.50). The register-file rows are Accelergy's ``smartbuffer_RF``
(storage plus an address comparator per entry), whose area grows as depth**1.6; sizes beyond
the table's 192 words are extrapolations.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Mapping

from .energy_tables import REGFILE_CLASSES, SRAM_CLASSES, ScalingFit, fit_kind, fit_power_law, lookup

DATA = Path(__file__).parent / "data" / "area_table.csv"
MAC_CLASSES = ("intmac", "fpmac")
_TEXT_COLUMNS = ("component", "component_class", "estimators", "source_case")


@functools.lru_cache(maxsize=1)
def area_table() -> tuple[dict, ...]:
    """The shipped rows: numeric columns as floats (empty -> None)."""
    with DATA.open(newline="") as fh:
        return tuple({k: (v if k in _TEXT_COLUMNS else float(v) if v else None) for k, v in row.items()} for row in csv.DictReader(fh))


@functools.lru_cache(maxsize=None)
def area_fit(kind: str) -> ScalingFit:
    """The scaling fit of ``kind`` (``sram``: CACTI-estimated SRAM rows; ``regfile``)."""
    if kind not in ("sram", "regfile"):
        raise ValueError(f"area fit {kind!r}; expected sram or regfile")
    classes = SRAM_CLASSES if kind == "sram" else REGFILE_CLASSES
    points = {}
    for row in area_table():
        if row["component_class"] in classes and row["depth"] and row["technology_nm"] and (kind != "sram" or "Cacti" in row["estimators"]):
            points.setdefault((row["width_bits"], row["depth"], row["technology_nm"]), row["area_um2"])
    coef, residual = fit_power_law(points)
    return ScalingFit(kind, "area", *coef, rows=len(points), max_abs_log_residual=residual)


def storage_area(component_class: str, depth: int | None, width_bits: int, technology_nm: float | None,
                 datawidth_bits: int | None = None) -> float:
    """um^2 of one instance of a storage component: the table row with exactly these
    attributes, else the SRAM or register-file fit; DRAM is 0 (off chip).

    Raises:
        ValueError: another class without an exact row, or no depth / technology to scale.
    """
    if component_class == "DRAM":
        return 0.0
    row = lookup(component_class, technology_nm, depth, width_bits, datawidth_bits, table=area_table())
    if row is not None:
        return float(row["area_um2"])
    return float(area_fit(fit_kind(component_class, depth, technology_nm, "area"))(width_bits, depth, technology_nm))


def mac_area(component_class: str, technology_nm: float | None, width_bits: int | None = None) -> float:
    """um^2 of one MAC of a class at a technology, from the table (exact class and node; the
    closest datapath width when several match, the first row on a tie)."""
    matches = [r for r in area_table() if r["component_class"] == component_class and r["technology_nm"] == technology_nm]
    if not matches:
        known = sorted({(r["component_class"], r["technology_nm"]) for r in area_table() if r["component_class"] in MAC_CLASSES})
        raise ValueError(f"no MAC area for class {component_class!r} at {technology_nm} nm; the table has {known}")
    if width_bits is not None:
        matches.sort(key=lambda r: abs((r["width_bits"] or width_bits) - width_bits))
    return float(matches[0]["area_um2"])


def estimate_area(spec: Mapping, technology_nm: float | None = None) -> dict[str, tuple[int, float]]:
    """``{component: (instances, um^2 per instance)}`` of a parsed Timeloop input, dummy levels
    left out. ``technology_nm`` is used where the input leaves it unset ("SET ME")."""
    from .timeloop_yaml import component_specs

    out = {}
    for comp in component_specs(spec, technology_nm):
        attrs = comp.attributes
        if comp.component_class == "dummy_storage":
            continue
        if comp.is_compute:
            area = mac_area(comp.component_class, comp.technology_nm, attrs.get("datawidth", attrs.get("multiplier_width")))
        else:
            depth = attrs.get("depth")
            area = storage_area(comp.component_class, int(depth) if depth else None, int(attrs.get("width", attrs.get("datawidth", 8))),
                                comp.technology_nm, attrs.get("datawidth"))
        out[comp.name] = (comp.instances, area)
    return out


def total_area_um2(areas: Mapping[str, tuple[int, float]]) -> float:
    """Sum of instances x per-instance area over :func:`estimate_area`'s components (um^2)."""
    return float(sum(n * a for n, a in areas.values()))
