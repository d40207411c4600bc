"""The layer table: a DNN workload as columns of integer arrays, one row per layer.

Conventions (shared by every cost model in the package):

* ``K`` output channels, ``C`` input channels, ``Y, X`` INPUT rows / cols (unpadded),
  ``R, S`` filter rows / cols, ``stride``, ``padding`` (zero padding added on each side),
  ``groups``. Output rows are ``(Y + 2*padding - R) // stride + 1`` (MAESTRO's convention
  ``(Y - R)/stride + 1`` when ``padding == 0``); same for cols.
* Channel counts follow PyTorch: a depthwise layer (``DSCONV``) has ``K == C == groups``
  (one filter per channel). MAESTRO writes the same layer as ``K=1, C=channels``; the
  dataflow model converts, and :func:`from_maestro_dims` converts MAESTRO rows in.
* A GEMM ``(M x Kr) @ (Kr x N)`` is a 1x1 convolution with ``K = N`` (output features),
  ``C = Kr`` (reduction), ``Y = M`` (rows, e.g. tokens or batch), ``X = R = S = stride = 1``.
  A batched GEMM over ``h`` independent heads is a grouped GEMM with ``groups = h`` and
  ``K, C`` the totals over heads. A fully connected layer is a GEMM with ``M = 1``.
* ``residual_from[i]`` is the index of the earlier layer whose output is added to layer
  ``i``'s output (the add is fused into layer ``i``), ``NO_RESIDUAL`` (-1) when there is none,
  and ``RESIDUAL_FROM_INPUT`` (-2) when the tensor added is the network's input.
* Counts are int64 everywhere.
"""

from __future__ import annotations

import dataclasses
from enum import IntEnum
from typing import Iterable, Mapping, Sequence

import numpy as np

NO_RESIDUAL = -1
RESIDUAL_FROM_INPUT = -2


class LayerTableError(ValueError):
    """A ValueError about one row of a layer table.

    ``index`` is the 0-based row (layer) index and ``field`` the column at fault (``None``
    when the error is not about one field), so loaders can point at the file line.
    """

    def __init__(self, message: str, index: int | None = None, field: str | None = None):
        super().__init__(message)
        self.index = index
        self.field = field


class LayerType(IntEnum):
    """Kind of layer; the integer codes are stored in :attr:`LayerTable.type`."""

    CONV = 1
    DSCONV = 2  # depthwise: K == C == groups
    GROUPCONV = 3
    GEMM = 4  # also fully connected (FC)

    @classmethod
    def parse(cls, value: "str | int | LayerType") -> "LayerType":
        """Accept a LayerType, its integer code, or a name (``FC`` and ``DEPTHWISE`` are aliases)."""
        if isinstance(value, LayerType):
            return value
        if isinstance(value, (int, np.integer)):
            try:
                return cls(int(value))
            except ValueError:
                pass
        elif isinstance(value, str):
            name = value.strip().upper()
            name = {"FC": "GEMM", "LINEAR": "GEMM", "DEPTHWISE": "DSCONV", "DWCONV": "DSCONV"}.get(name, name)
            if name in cls.__members__:
                return cls[name]
        raise ValueError(
            f"layer type {value!r} is not known; expected one of "
            f"{', '.join(cls.__members__)} (or FC, DEPTHWISE)"
        )


#: Integer columns of a layer table, in order.
INT_COLUMNS: tuple[str, ...] = (
    "type", "K", "C", "Y", "X", "R", "S", "stride", "padding", "groups", "residual_from",
)


@dataclasses.dataclass(frozen=True, eq=False)
class LayerTable:
    """A workload: ``n`` layers as int64 column arrays of shape ``(n,)`` plus their names.

    Build one with :meth:`from_rows` or :meth:`from_columns`; both validate the dims.
    """

    name: str
    layer_names: tuple[str, ...]
    type: np.ndarray
    K: np.ndarray
    C: np.ndarray
    Y: np.ndarray
    X: np.ndarray
    R: np.ndarray
    S: np.ndarray
    stride: np.ndarray
    padding: np.ndarray
    groups: np.ndarray
    residual_from: np.ndarray

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_columns(
        cls,
        name: str,
        columns: Mapping[str, Sequence[int] | np.ndarray],
        layer_names: Sequence[str] | None = None,
    ) -> "LayerTable":
        """Build from a mapping of column arrays. ``type`` may hold names or codes;
        ``stride`` and ``groups`` default to 1, ``padding`` to 0, ``residual_from`` to -1."""
        missing = [c for c in ("type", "K", "C", "Y", "X", "R", "S") if c not in columns]
        if missing:
            raise ValueError(f"layer table {name!r} lacks column(s) {missing}; expected {list(INT_COLUMNS)}")
        n = len(columns["K"])
        raw_types = np.asarray(columns["type"]).tolist()
        if len(raw_types) != n:
            raise ValueError(f"column 'type' of layer table {name!r} has {len(raw_types)} entries; expected {n}")
        types = np.zeros(n, dtype=np.int64)
        for i, t in enumerate(raw_types):
            try:
                types[i] = int(LayerType.parse(t))
            except ValueError as err:
                raise LayerTableError(f"layer {i} of {name!r}: {err}", index=i, field="type") from None
        defaults = {"stride": 1, "padding": 0, "groups": 1, "residual_from": NO_RESIDUAL}
        arrays = {"type": types}
        for col in INT_COLUMNS[1:]:
            raw = columns.get(col)
            if raw is None:
                arr = np.full(n, defaults[col], dtype=np.int64)
            else:
                arr = np.asarray(raw)
                if arr.shape != (n,):
                    raise ValueError(f"column {col!r} of layer table {name!r} has shape {arr.shape}; expected ({n},)")
                if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
                    raise ValueError(f"column {col!r} of layer table {name!r} holds non-integers: {arr[arr != np.round(arr)][:3].tolist()}")
                arr = arr.astype(np.int64)
            arrays[col] = arr
        if layer_names is None:
            layer_names = [f"{name}_L{i}" for i in range(n)]
        if len(layer_names) != n:
            raise ValueError(f"{len(layer_names)} layer names for {n} layers in {name!r}")
        table = cls(name=name, layer_names=tuple(layer_names), **arrays)
        table.validate()
        return table

    @classmethod
    def from_rows(cls, name: str, rows: Iterable[Mapping[str, object]]) -> "LayerTable":
        """Build from dict rows with keys among ``name`` and :data:`INT_COLUMNS`."""
        rows = list(rows)
        if not rows:
            raise ValueError(f"layer table {name!r} has no layers")
        cols: dict[str, list] = {}
        for col in INT_COLUMNS:
            if any(col in r for r in rows):
                cols[col] = [r.get(col, {"stride": 1, "padding": 0, "groups": 1, "residual_from": NO_RESIDUAL}.get(col)) for r in rows]
        names = [str(r.get("name", f"{name}_L{i}")) for i, r in enumerate(rows)]
        return cls.from_columns(name, cols, names)

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise :class:`LayerTableError` (a ValueError) naming the layer, field and value
        for the first inconsistent row."""

        def fail(i: int, field: str, what: str) -> None:
            raise LayerTableError(
                f"layer {i} ({self.layer_names[i]!r}) of {self.name!r}: {what}", index=i, field=field
            )

        for col in ("K", "C", "Y", "X", "R", "S", "stride", "groups"):
            arr = getattr(self, col)
            bad = np.flatnonzero(arr <= 0)
            if bad.size:
                i = int(bad[0])
                fail(i, col, f"{col}={int(arr[i])}; expected > 0")
        bad = np.flatnonzero(self.padding < 0)
        if bad.size:
            i = int(bad[0])
            fail(i, "padding", f"padding={int(self.padding[i])}; expected >= 0")
        for dim, filt in (("Y", "R"), ("X", "S")):
            padded = getattr(self, dim) + 2 * self.padding
            bad = np.flatnonzero(getattr(self, filt) > padded)
            if bad.size:
                i = int(bad[0])
                fail(i, filt, f"{filt}={int(getattr(self, filt)[i])} is larger than the padded input "
                              f"{dim}+2*padding={int(padded[i])}")
        bad = np.flatnonzero((self.K % self.groups != 0) | (self.C % self.groups != 0))
        if bad.size:
            i = int(bad[0])
            fail(i, "groups", f"groups={int(self.groups[i])} must divide K={int(self.K[i])} and C={int(self.C[i])}")
        dw = self.type == LayerType.DSCONV
        bad = np.flatnonzero(dw & ~((self.K == self.C) & (self.groups == self.C)))
        if bad.size:
            i = int(bad[0])
            fail(i, "type", f"a DSCONV layer needs K == C == groups, got K={int(self.K[i])}, "
                            f"C={int(self.C[i])}, groups={int(self.groups[i])}")
        idx = np.arange(len(self))
        r = self.residual_from
        bad = np.flatnonzero((r < RESIDUAL_FROM_INPUT) | (r >= idx))
        if bad.size:
            i = int(bad[0])
            fail(i, "residual_from", f"residual_from={int(r[i])}; expected an earlier layer index "
                                     f"(0..{i - 1}), -1 (none) or -2 (the network input)")

    # ------------------------------------------------------------------ derived columns
    def __len__(self) -> int:
        return int(self.K.shape[0])

    @property
    def out_rows(self) -> np.ndarray:
        """Output rows Y' = (Y + 2*padding - R) // stride + 1, shape (n,)."""
        return (self.Y + 2 * self.padding - self.R) // self.stride + 1

    @property
    def out_cols(self) -> np.ndarray:
        """Output cols X' = (X + 2*padding - S) // stride + 1, shape (n,)."""
        return (self.X + 2 * self.padding - self.S) // self.stride + 1

    @property
    def macs(self) -> np.ndarray:
        """Ideal multiply-accumulates per layer, K*C*Y'*X'*R*S/groups, int64, shape (n,)."""
        return self.K * self.C * self.out_rows * self.out_cols * self.R * self.S // self.groups

    @property
    def weights(self) -> np.ndarray:
        """Weight elements per layer, K*C*R*S/groups (no bias), int64, shape (n,)."""
        return self.K * self.C * self.R * self.S // self.groups

    @property
    def input_elements(self) -> np.ndarray:
        """Unpadded input activation elements per layer, C*Y*X, int64, shape (n,)."""
        return self.C * self.Y * self.X

    @property
    def output_elements(self) -> np.ndarray:
        """Output activation elements per layer, K*Y'*X', int64, shape (n,)."""
        return self.K * self.out_rows * self.out_cols

    def columns(self) -> dict[str, np.ndarray]:
        """The integer columns as a dict of (n,) arrays (copies)."""
        return {c: getattr(self, c).copy() for c in INT_COLUMNS}

    def select(self, index: Sequence[int] | np.ndarray, name: str | None = None) -> "LayerTable":
        """A new table with the given rows. Residual edges to dropped layers become -1."""
        index = np.asarray(index, dtype=np.int64)
        remap = np.full(len(self), NO_RESIDUAL, dtype=np.int64)
        remap[index] = np.arange(index.size)
        cols = {c: getattr(self, c)[index] for c in INT_COLUMNS}
        r = cols["residual_from"]
        cols["residual_from"] = np.where(r >= 0, remap[np.maximum(r, 0)], r)
        # an edge may now point forward if rows were reordered; drop it rather than lie
        cols["residual_from"] = np.where(cols["residual_from"] >= np.arange(index.size), NO_RESIDUAL, cols["residual_from"])
        return LayerTable.from_columns(name or self.name, cols, [self.layer_names[i] for i in index])

    def equals(self, other: "LayerTable") -> bool:
        """True when every integer column matches (names are not compared)."""
        return len(self) == len(other) and all(np.array_equal(getattr(self, c), getattr(other, c)) for c in INT_COLUMNS)

    def to_rows(self) -> list[dict[str, object]]:
        """Rows as dicts with ``name``, the type's name and the integer columns."""
        rows = []
        for i in range(len(self)):
            row: dict[str, object] = {"name": self.layer_names[i], "type": LayerType(int(self.type[i])).name}
            for c in INT_COLUMNS[1:]:
                row[c] = int(getattr(self, c)[i])
            rows.append(row)
        return rows


def from_maestro_dims(layer_type: "str | LayerType", K, C):
    """Convert MAESTRO's (type, K, C) to this table's (K, C, groups).

    MAESTRO writes a depthwise layer as ``K=1, C=channels``; here it is ``K=C=groups=channels``.
    Inputs may be arrays; returns int64 arrays ``(K, C, groups)``.
    """
    K = np.asarray(K, dtype=np.int64)
    C = np.asarray(C, dtype=np.int64)
    is_dw = LayerType.parse(layer_type) == LayerType.DSCONV
    if is_dw:
        if np.any(K != 1):
            raise ValueError(f"a MAESTRO DSCONV row has K=1 (one filter per channel); got K={K.tolist()}")
        return C.copy(), C.copy(), C.copy()
    return K, C, np.ones_like(K)
