"""Data-centric dataflow directives (MAESTRO's ``SpatialMap`` / ``TemporalMap`` / ``Cluster``).

A dataflow is plain data: a sequence of :class:`Directive`. A size or offset is one of

* an ``int`` (elements),
* :class:`Sz` -- the full size of a layer dimension, e.g. ``Sz("R")`` (MAESTRO's ``Sz(R)``),
* a design-parameter name: ``"KTileSz"`` (the ``ktile`` of :class:`~.hardware.Hardware`),
  ``"ClusterSz"`` (the number of PEs) or ``"CTileSz"`` (always 1, as in ConfuciuX).

Dimensions are MAESTRO's: ``K`` output channels, ``C`` input channels, ``R``/``S`` filter
rows/cols, ``Y``/``X`` input rows/cols and ``Y'``/``X'`` output rows/cols.

:func:`parse_dataflow` reads MAESTRO's text syntax, e.g. ``"SpatialMap(1,1) K; Cluster(64, P);"``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Iterable, Sequence, Union

#: Layer dimensions a directive may name.
DIMENSIONS: tuple[str, ...] = ("K", "C", "R", "S", "Y", "X", "Y'", "X'")
#: Design parameters a size may name.
PARAMETERS: tuple[str, ...] = ("KTileSz", "ClusterSz", "CTileSz")
KINDS: tuple[str, ...] = ("spatial", "temporal", "cluster")


@dataclasses.dataclass(frozen=True)
class Sz:
    """The full size of layer dimension ``dim`` (MAESTRO's ``Sz(dim)``)."""

    dim: str

    def __post_init__(self):
        if self.dim not in DIMENSIONS:
            raise ValueError(f"Sz() names unknown dimension {self.dim!r}; expected one of {', '.join(DIMENSIONS)}")

    def __str__(self) -> str:
        return f"Sz({self.dim})"


SizeExpr = Union[int, Sz, str]


def _check_size(value: SizeExpr, what: str) -> SizeExpr:
    if isinstance(value, bool):
        raise ValueError(f"{what}={value!r}; expected a positive int, Sz(dim) or one of {PARAMETERS}")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"{what}={value}; expected a positive int")
        return value
    if isinstance(value, Sz):
        return value
    if isinstance(value, str) and value in PARAMETERS:
        return value
    raise ValueError(f"{what}={value!r}; expected a positive int, Sz(dim) or one of {', '.join(PARAMETERS)}")


@dataclasses.dataclass(frozen=True)
class Directive:
    """One directive. ``kind`` is ``"spatial"``, ``"temporal"`` or ``"cluster"``.

    For maps, ``size`` and ``offset`` are in elements of ``dim``; for ``cluster`` only ``size``
    (the number of sub-units per cluster) is used and ``dim`` is ``""``.
    """

    kind: str
    dim: str
    size: SizeExpr
    offset: SizeExpr = 1

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"directive kind {self.kind!r} is not known; expected one of {', '.join(KINDS)}")
        if self.kind != "cluster" and self.dim not in DIMENSIONS:
            raise ValueError(
                f"directive {self.kind} map names unknown dimension {self.dim!r}; expected one of {', '.join(DIMENSIONS)}"
            )
        _check_size(self.size, "size")
        _check_size(self.offset, "offset")

    def __str__(self) -> str:
        if self.kind == "cluster":
            return f"Cluster({self.size});"
        name = "SpatialMap" if self.kind == "spatial" else "TemporalMap"
        return f"{name}({self.size},{self.offset}) {self.dim};"


def SpatialMap(size: SizeExpr, offset: SizeExpr, dim: str) -> Directive:
    """``SpatialMap(size, offset) dim``: spread ``dim`` over the sub-clusters of this level."""
    return Directive("spatial", dim, size, offset)


def TemporalMap(size: SizeExpr, offset: SizeExpr, dim: str) -> Directive:
    """``TemporalMap(size, offset) dim``: walk ``dim`` over time in tiles of ``size``, step ``offset``."""
    return Directive("temporal", dim, size, offset)


def Cluster(size: SizeExpr) -> Directive:
    """``Cluster(size)``: group ``size`` units into one sub-cluster; later maps act inside it."""
    return Directive("cluster", "", size, 1)


_TOKEN = re.compile(r"\s*(SpatialMap|TemporalMap|Cluster)\s*\(((?:[^()]|\([^()]*\))*)\)\s*([A-Za-z]*'?)\s*$")


def _parse_size(tok: str, where: str) -> SizeExpr:
    tok = tok.strip()
    m = re.fullmatch(r"Sz\(\s*([A-Za-z]'?)\s*\)", tok)
    if m:
        return Sz(m.group(1))
    if re.fullmatch(r"\d+", tok):
        return int(tok)
    if tok in PARAMETERS:
        return tok
    raise ValueError(f"{where}: size {tok!r} is not an int, Sz(dim) or one of {', '.join(PARAMETERS)}")


def parse_dataflow(text: str) -> tuple[Directive, ...]:
    """Parse MAESTRO's directive syntax (``;``-separated; ``Dataflow { ... }`` and ``//`` comments allowed).

    ``Cluster(n, P)`` (MAESTRO's physical cluster) is read as ``Cluster(n)``.
    """
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"^\s*Dataflow\s*\{", "", text.strip())
    text = re.sub(r"\}\s*$", "", text.strip())
    out: list[Directive] = []
    for i, stmt in enumerate(s for s in text.split(";") if s.strip()):
        m = _TOKEN.match(stmt)
        where = f"directive {i + 1} ({stmt.strip()!r})"
        if not m:
            raise ValueError(f"{where}: cannot parse; expected e.g. 'SpatialMap(1,1) K' or 'Cluster(64)'")
        name, args, dim = m.group(1), m.group(2), m.group(3)
        parts = [p for p in re.split(r",(?![^(]*\))", args)]
        if name == "Cluster":
            if not dim == "" or len(parts) not in (1, 2):
                raise ValueError(f"{where}: expected Cluster(size) or Cluster(size, P)")
            out.append(Cluster(_parse_size(parts[0], where)))
            continue
        if len(parts) != 2:
            raise ValueError(f"{where}: expected two arguments (size, offset)")
        if dim not in DIMENSIONS:
            raise ValueError(f"{where}: unknown dimension {dim!r}; expected one of {', '.join(DIMENSIONS)}")
        kind = "spatial" if name == "SpatialMap" else "temporal"
        out.append(Directive(kind, dim, _parse_size(parts[0], where), _parse_size(parts[1], where)))
    if not out:
        raise ValueError("dataflow has no directives")
    return tuple(out)


def as_directives(dataflow: "str | Iterable[Directive]") -> tuple[Directive, ...]:
    """A tuple of directives from a directive sequence or MAESTRO text (validated)."""
    if isinstance(dataflow, str):
        return parse_dataflow(dataflow)
    out = tuple(dataflow)
    for d in out:
        if not isinstance(d, Directive):
            raise ValueError(f"dataflow item {d!r} is not a Directive")
    if not any(d.kind == "spatial" for d in out):
        raise ValueError("dataflow has no SpatialMap; expected at least one per cluster level")
    return out


def format_dataflow(directives: Sequence[Directive]) -> str:
    """MAESTRO text for a directive sequence (inverse of :func:`parse_dataflow`)."""
    return "\n".join(str(d) for d in directives)
