"""Mappings as arrays: a batch of ``B`` loop nests of one problem on one architecture.

For storage level ``l`` (outermost = 0) and problem dimension ``d``:

* ``temporal[b, l, d]``: the temporal loop factor of ``d`` at level ``l``;
* ``permutation[b, l, :]``: the order of level ``l``'s temporal loops, OUTERMOST first, as
  dimension indices (Timeloop's mapping strings list the innermost first; the readers convert);
* ``spatial_x[b, l, d]``, ``spatial_y[b, l, d]``: spatial factors across the fan-out from
  level ``l`` to the next inner level, along the mesh's X and Y axes;
* ``keep[b, l, s]``: whether level ``l`` holds data space ``s`` (else it is bypassed).

In the loop nest a level's temporal loops enclose its spatial loops, which enclose the next
inner level's loops, as in Timeloop.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping as TMapping, Sequence

import numpy as np

from .architecture import Architecture
from .problem import Problem


@dataclasses.dataclass(frozen=True)
class Mapping:
    """A batch of mappings (arrays described in the module docstring); ``B`` may be 1."""

    temporal: np.ndarray  # (B, L, D) int64
    permutation: np.ndarray  # (B, L, D) int64, outermost first
    spatial_x: np.ndarray  # (B, L, D) int64
    spatial_y: np.ndarray  # (B, L, D) int64
    keep: np.ndarray  # (B, L, S) bool

    def __post_init__(self) -> None:
        shape = np.shape(self.temporal)
        if len(shape) != 3:
            raise ValueError(f"mapping temporal factors: shape {shape}; expected (batch, levels, dims)")
        for field in ("permutation", "spatial_x", "spatial_y"):
            if np.shape(getattr(self, field)) != shape:
                raise ValueError(f"mapping {field}: shape {np.shape(getattr(self, field))}; expected {shape} like the temporal factors")
        if np.shape(self.keep)[:2] != shape[:2]:
            raise ValueError(f"mapping keep: shape {np.shape(self.keep)}; expected ({shape[0]}, {shape[1]}, data spaces)")
        for field in ("temporal", "permutation", "spatial_x", "spatial_y"):
            _check_integers(np.asarray(getattr(self, field)), field)

    @property
    def batch(self) -> int:
        return int(np.shape(self.temporal)[0])

    def row(self, b: int) -> "Mapping":
        """Mapping ``b`` as a batch of one."""
        return Mapping(*(np.asarray(getattr(self, f.name))[b:b + 1] for f in dataclasses.fields(self)))

    @staticmethod
    def stack(mappings: Sequence["Mapping"]) -> "Mapping":
        return Mapping(*(np.concatenate([np.asarray(getattr(m, f.name)) for m in mappings]) for f in dataclasses.fields(Mapping)))


def _check_integers(arr: np.ndarray, field: str) -> None:
    """ValueError naming the first entry of ``arr`` that is not a whole number within int64
    (a float factor such as 64.5 would otherwise be truncated to 64: another mapping)."""
    if arr.dtype.kind in "iu" and (arr.dtype.kind == "i" or not arr.size or int(arr.max()) <= np.iinfo(np.int64).max):
        return
    if arr.dtype.kind == "f":
        bad = ~(np.isfinite(arr) & (arr == np.round(arr)) & (np.abs(arr) < 2.0 ** 63))
    else:
        bad = np.ones(arr.shape, dtype=bool)
        for idx, v in np.ndenumerate(arr):
            ok = isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and abs(int(v)) < 2 ** 63
            bad[idx] = not ok
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"mapping {field}[{', '.join(map(str, idx))}] = {arr[idx]!r} (dtype {arr.dtype}); "
                         f"expected a whole number (a positive integer factor or a dimension index)")


def mapping_from_levels(problem: Problem, arch: Architecture, levels: TMapping[str, TMapping]) -> Mapping:
    """One mapping from a readable per-level description.

    ``levels[name]`` may hold ``temporal`` ({dim: factor}), ``permutation`` (dims outermost
    first, a string like ``"PQM"`` or a list; unlisted dims go innermost), ``spatial_x`` and
    ``spatial_y`` ({dim: factor}) and ``keep`` (data-space names; default: every data space
    for real levels, none for dummy ones). Unnamed levels have all factors 1.
    """
    L, D, S = arch.num_levels, problem.num_dims, len(problem.data_spaces)
    temporal = np.ones((1, L, D), dtype=np.int64)
    spatial_x = np.ones((1, L, D), dtype=np.int64)
    spatial_y = np.ones((1, L, D), dtype=np.int64)
    permutation = np.tile(np.arange(D, dtype=np.int64), (1, L, 1))
    keep = np.array([[[not lvl.dummy] * S for lvl in arch.levels]], dtype=bool)
    for name, spec in levels.items():
        l = arch.level_index(name)
        unknown = set(spec) - {"temporal", "permutation", "spatial_x", "spatial_y", "keep"}
        if unknown:
            raise ValueError(f"mapping of level {name!r}: unknown fields {sorted(unknown)}; expected temporal, permutation, spatial_x, spatial_y, keep")
        for field, target in (("temporal", temporal), ("spatial_x", spatial_x), ("spatial_y", spatial_y)):
            for dim, factor in dict(spec.get(field, {})).items():
                if isinstance(factor, (bool, np.bool_)) or not isinstance(factor, (int, np.integer)) or factor < 1:
                    raise ValueError(f"mapping of level {name!r}: {field} factor {dim}={factor!r}; expected a positive integer")
                target[0, l, problem.dim_index(dim)] = int(factor)
        if "permutation" in spec:
            permutation[0, l] = permutation_indices(problem, spec["permutation"], where=f"level {name!r}")
        if "keep" in spec:
            kept = [problem.data_space_index(ds) for ds in spec["keep"]]
            keep[0, l] = False
            keep[0, l, kept] = True
    return Mapping(temporal, permutation, spatial_x, spatial_y, keep)


def permutation_indices(problem: Problem, order: str | Sequence[str], where: str = "") -> np.ndarray:
    """Dimension indices, outermost first, from ``order`` (outermost first); missing dims go innermost."""
    names = list(order) if isinstance(order, str) else [str(x) for x in order]
    seen = []
    for dim in names:
        idx = problem.dim_index(dim)
        if idx in seen:
            raise ValueError(f"permutation {''.join(names)!r} of {where}: dimension {dim} repeated")
        seen.append(idx)
    rest = [d for d in range(problem.num_dims) if d not in seen]
    # Missing dims: keep them inside the listed ones (their factors are 1 in a well-formed mapping).
    return np.array(seen + rest, dtype=np.int64)
