"""Read Timeloop v0.4 inputs: ``parsed-processed-input.yaml``, ``*.map.yaml`` and ``*.ERT.yaml``.

* Architecture: the ``local`` components of the (possibly nested) ``subtree``s, outermost
  first; the innermost is the compute level. Instances come from the ``[1..N]`` name suffix
  (or ``meshX * meshY``), capacity is ``depth * width / datawidth`` words, the block size
  ``width / datawidth`` (or an explicit ``block_size``), ``dummy_storage`` levels hold nothing.
* Problem: the ``shape`` (dimensions, data-space projections, coefficients) and ``instance``.
* Mapping: ``temporal`` / ``spatial`` entries with ``factors`` (``"C1 M8"`` or ``"C=1,M=8"``),
  ``permutation`` (innermost first, as Timeloop writes it) and ``split`` (the first ``split``
  dims of a spatial permutation go along X, the rest along Y; default: all along X), and
  ``datatype`` / ``bypass`` entries with ``keep`` / ``bypass`` lists.
* ERT: per-action energies (pJ per block) by component; names lose their ``[1..N]`` suffix
  and hierarchy prefix.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Mapping as TMapping

import numpy as np
import yaml

from .architecture import ActionEnergy, Architecture, ComputeLevel, StorageLevel
from .mapping import Mapping
from .problem import Problem, problem_from_shape

_INSTANCES = re.compile(r"^(?P<name>[^\[]+)(\[(?P<lo>\d+)\.\.(?P<hi>\d+)\])?$")


@dataclasses.dataclass(frozen=True)
class TimeloopSpec:
    """What a Timeloop input holds: the architecture, the problem, and the mapping when present."""

    architecture: Architecture
    problem: Problem
    mapping: Mapping | None


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"Timeloop input {path} is a directory; expected a YAML file")
    if not path.is_file():
        raise FileNotFoundError(f"no such Timeloop input file: {path}")
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"{path}: malformed YAML{where} ({problem}); expected a Timeloop v0.4 YAML file") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); expected a YAML file") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a YAML mapping at the top level")
    return data


def component_name(name: str) -> str:
    """``system_top_level.DRAM[1..1]`` -> ``DRAM``."""
    base = re.sub(r"\[\d+\.\.\d+\]\s*$", "", name.strip())
    base = base.split(".")[-1].strip()
    if not base or "[" in base:
        raise ValueError(f"cannot parse the component name {name!r}")
    return base


def read_ert(source: str | Path | TMapping) -> dict[str, dict[str, float]]:
    """``{component: {action: pJ}}`` from an ERT file or its parsed YAML. Where an action has
    several entries (argument variants), the first one is used."""
    data = load_yaml(source) if not isinstance(source, TMapping) else source
    ert = data.get("ERT", data)
    tables = ert.get("tables")
    if not isinstance(tables, list):
        raise ValueError("ERT: expected a 'tables' list (Timeloop v0.4 format)")
    out: dict[str, dict[str, float]] = {}
    for table in tables:
        actions: dict[str, float] = {}
        for action in table.get("actions", []):
            actions.setdefault(str(action["name"]), float(action["energy"]))
        out[component_name(str(table["name"]))] = actions
    return out


def _flatten_components(node: TMapping, out: list) -> None:
    for comp in node.get("local", []) or []:
        out.append(comp)
    for sub in node.get("subtree", []) or []:
        _flatten_components(sub, out)


@dataclasses.dataclass(frozen=True)
class ComponentSpec:
    """One component of a parsed input, as the energy and area estimators need it."""

    name: str  #: without the hierarchy prefix and ``[1..N]`` suffix
    instances: int
    component_class: str
    attributes: TMapping[str, Any]
    technology_nm: float | None  #: the component's, else the top level's, else the caller's default
    is_compute: bool  #: the innermost component (the MAC level)


def technology_nm(attributes: TMapping) -> float | None:
    """``technology: "32nm"`` -> 32.0; unset or "SET ME" -> None."""
    tech = str(attributes.get("technology", "")).strip().strip('"')
    return float(tech[:-2]) if tech.endswith("nm") and tech[:-2].replace(".", "").isdigit() else None


def component_specs(spec: TMapping, default_technology_nm: float | None = None) -> list[ComponentSpec]:
    """The components of a parsed input's architecture, outermost first (compute last)."""
    arch = spec.get("architecture", spec)
    components: list = []
    top_tech = None
    for node in arch.get("subtree", []) or []:
        _flatten_components(node, components)
        top_tech = top_tech or technology_nm(node.get("attributes", {}) or {})
    out = []
    for i, comp in enumerate(components):
        attrs = comp.get("attributes", {}) or {}
        name, count, _, _ = _instances(comp)
        out.append(ComponentSpec(component_name(name), count, str(comp.get("class", "")), attrs,
                                 technology_nm(attrs) or top_tech or default_technology_nm, i == len(components) - 1))
    return out


def read_architecture(spec: TMapping, ert: TMapping[str, TMapping[str, float]] | None = None, name: str = "architecture") -> Architecture:
    """The architecture of a parsed Timeloop input; energies from ``ert`` (pJ per action).

    A component missing from ``ert`` gets zero energies: pass an ERT (or use
    :mod:`.energy_tables`) to price it.
    """
    arch = spec.get("architecture", spec)
    components: list = []
    for node in arch.get("subtree", []) or []:
        _flatten_components(node, components)
    if len(components) < 2:
        raise ValueError("architecture: expected at least one storage level and a compute level")
    top_attrs = {}
    for node in arch.get("subtree", []) or []:
        top_attrs.update(node.get("attributes", {}) or {})
    ert = ert or {}
    levels = []
    for comp in components[:-1]:
        levels.append(_storage_level(comp, ert))
    compute = _compute_level(components[-1], ert)
    cycle = float(top_attrs.get("global_cycle_seconds", 1e-9) or 1e-9)
    return Architecture(name, tuple(levels), compute, cycle_seconds=cycle)


def _instances(comp: TMapping) -> tuple[str, int, int, int]:
    match = _INSTANCES.match(str(comp["name"]).strip())
    if not match:
        raise ValueError(f"cannot parse the component name {comp['name']!r}")
    attrs = comp.get("attributes", {}) or {}
    count = int(match.group("hi")) - int(match.group("lo")) + 1 if match.group("hi") else None
    mesh_x = attrs.get("meshX")
    mesh_y = attrs.get("meshY")
    if count is None:
        count = int(mesh_x or 1) * int(mesh_y or 1)
    mesh_x = int(mesh_x) if mesh_x is not None else count // int(mesh_y or 1)
    mesh_y = int(mesh_y) if mesh_y is not None else count // mesh_x
    return match.group("name").strip(), count, mesh_x, mesh_y


def _storage_level(comp: TMapping, ert: TMapping) -> StorageLevel:
    name, count, mesh_x, mesh_y = _instances(comp)
    attrs = comp.get("attributes", {}) or {}
    cls = str(comp.get("class", ""))
    dummy = cls == "dummy_storage"
    word_bits = int(attrs.get("datawidth", attrs.get("word_bits", 8)) or 8)
    width = attrs.get("width")
    block = attrs.get("block_size")
    cluster = int(attrs.get("cluster_size", 1) or 1) if not dummy else 1
    if block is None:
        block = max(1, int(width) // (word_bits * cluster)) if width is not None and not dummy else 1
    depth = attrs.get("depth", None)
    size = attrs.get("size", None)
    if dummy:
        capacity = 0
    elif size is not None:
        capacity = int(size)
    elif depth is not None and cls.upper() != "DRAM":
        capacity = int(depth) * int(block)
    else:
        capacity = None
    actions = ert.get(name, {})
    energy = ActionEnergy(read=actions.get("read", 0.0), write=actions.get("write", 0.0),
                          update=actions.get("update", actions.get("write", 0.0)), leak=actions.get("leak", 0.0))
    # Timeloop (BufferLevel::ParseSpecs): the deprecated `bandwidth` gives read = write = bandwidth / 2,
    # `read_bandwidth` / `write_bandwidth` override it; `shared_bandwidth` caps reads + writes.
    half = float(attrs["bandwidth"]) / 2 if attrs.get("bandwidth") else None
    rbw, wbw, sbw = (attrs.get(key) for key in ("read_bandwidth", "write_bandwidth", "shared_bandwidth"))
    return StorageLevel(
        name=name, instances=count, mesh_x=mesh_x, mesh_y=mesh_y, capacity_words=capacity, word_bits=word_bits,
        block_size=int(block), energy=energy, read_bandwidth=float(rbw) if rbw else half,
        write_bandwidth=float(wbw) if wbw else half, shared_bandwidth=float(sbw) if sbw else None,
        dummy=dummy, component_class=cls, cluster_size=cluster,
    )


def _compute_level(comp: TMapping, ert: TMapping) -> ComputeLevel:
    name, count, mesh_x, mesh_y = _instances(comp)
    actions = ert.get(name, {})
    return ComputeLevel(name=name, instances=count, mesh_x=mesh_x, mesh_y=mesh_y,
                        mac_energy=actions.get("compute", 0.0), leak=actions.get("leak", 0.0))


def read_problem(spec: TMapping) -> Problem:
    problem = spec.get("problem")
    if not isinstance(problem, TMapping) or "shape" not in problem or "instance" not in problem:
        raise ValueError("problem: expected 'shape' and 'instance' (Timeloop v0.4 format)")
    shape = problem["shape"]
    defaults = {c["name"]: int(c.get("default", 1)) for c in shape.get("coefficients", []) or []}
    return problem_from_shape(str(shape.get("name", "problem")), shape["dimensions"], shape["data_spaces"],
                              problem["instance"], defaults)


def _factors(text: Any, problem: Problem, where: str) -> dict[str, int]:
    if isinstance(text, TMapping):
        items = list(text.items())
    else:
        items = []
        for token in re.split(r"[\s,]+", str(text).strip()):
            if not token:
                continue
            match = re.fullmatch(r"([A-Za-z_]\w*?)=?(\d+)", token)
            if not match:
                raise ValueError(f"mapping of {where}: cannot read the factor {token!r}; expected e.g. 'C3' or 'C=3'")
            items.append((match.group(1), match.group(2)))
    out = {}
    for dim, value in items:
        problem.dim_index(str(dim))
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()) or not isinstance(value, (int, float, str)):
            raise ValueError(f"mapping of {where}: factor {dim}={value!r}; expected a positive integer")
        value = int(value)
        if value < 1:
            raise ValueError(f"mapping of {where}: factor {dim}={value}; expected a positive integer")
        out[str(dim)] = value
    return out


def read_mapping(entries: Any, problem: Problem, arch: Architecture) -> Mapping:
    """A mapping from Timeloop's list of mapping directives (see the module docstring)."""
    if isinstance(entries, TMapping):
        entries = entries.get("mapping", entries)
    if not isinstance(entries, list):
        raise ValueError("mapping: expected a list of directives with 'target' and 'type'")
    L, D, S = arch.num_levels, problem.num_dims, len(problem.data_spaces)
    temporal = np.ones((1, L, D), dtype=np.int64)
    spatial_x = np.ones((1, L, D), dtype=np.int64)
    spatial_y = np.ones((1, L, D), dtype=np.int64)
    permutation = np.tile(np.arange(D, dtype=np.int64), (1, L, 1))
    keep = np.array([[[not lvl.dummy] * S for lvl in arch.levels]], dtype=bool)
    for entry in entries:
        target = str(entry.get("target", ""))
        kind = str(entry.get("type", ""))
        l = arch.level_index(target)
        where = f"level {target!r}"
        if kind in ("temporal", "spatial"):
            factors = _factors(entry.get("factors", ""), problem, where)
            order_inner_first = list(str(entry.get("permutation", "")).replace(",", "").replace(" ", ""))
            for dim in order_inner_first:
                problem.dim_index(dim)
            if kind == "temporal":
                for dim, value in factors.items():
                    temporal[0, l, problem.dim_index(dim)] = value
                outer_first = [problem.dim_index(d) for d in reversed(order_inner_first)]
                missing = [d for d in range(D) if d not in outer_first]
                permutation[0, l] = np.array(missing + outer_first, dtype=np.int64)  # unlisted dims: outermost, factor 1
            else:
                order = order_inner_first or list(factors)
                split = int(entry.get("split", len(order)))
                for pos, dim in enumerate(order):
                    value = factors.get(dim, 1)
                    target_array = spatial_x if pos < split else spatial_y
                    target_array[0, l, problem.dim_index(dim)] = value
                for dim, value in factors.items():
                    if dim not in order:
                        spatial_x[0, l, problem.dim_index(dim)] = value
        elif kind in ("datatype", "bypass"):
            for ds in entry.get("keep", []) or []:
                keep[0, l, problem.data_space_index(str(ds))] = True
            for ds in entry.get("bypass", []) or []:
                keep[0, l, problem.data_space_index(str(ds))] = False
        else:
            raise ValueError(f"mapping of {where}: unknown directive type {kind!r}; expected temporal, spatial, datatype or bypass")
    return Mapping(temporal, permutation, spatial_x, spatial_y, keep)


def read_spec(spec_path: str | Path, mapping_path: str | Path | None = None, ert_path: str | Path | None = None) -> TimeloopSpec:
    """Architecture, problem and mapping of a Timeloop input.

    The mapping comes from ``mapping_path`` when given, else from the input's ``mapping``
    section (``None`` when it is empty). Energies come from ``ert_path`` when given, else from
    a ``*.ERT.yaml`` beside the input when there is exactly one, else from the shipped energy
    tables (:func:`.energy_tables.estimate_ert`).
    """
    spec_path = Path(spec_path)
    spec = load_yaml(spec_path)
    if ert_path is None:
        candidates = sorted(spec_path.parent.glob("*.ERT.yaml"))
        ert_path = candidates[0] if len(candidates) == 1 else None
    if ert_path is not None:
        ert = read_ert(ert_path)
    else:
        from .energy_tables import estimate_ert

        ert = estimate_ert(spec)
    arch = read_architecture(spec, ert, name=spec_path.parent.name or "architecture")
    problem = read_problem(spec)
    mapping = None
    if mapping_path is not None:
        mapping = read_mapping(load_yaml(mapping_path), problem, arch)
    elif spec.get("mapping"):
        mapping = read_mapping(spec["mapping"], problem, arch)
    return TimeloopSpec(arch, problem, mapping)
