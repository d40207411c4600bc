"""The problem a loop nest computes: named dimensions, their bounds, and data spaces.

Timeloop describes a workload by its *shape* (dimension names, and for each data space a
projection: every data-space axis is a sum of ``coefficient x dimension`` terms) and an
*instance* (a bound per dimension, a value per coefficient). A 2-D convolution has dims
``C, M, R, S, N, P, Q`` and data spaces

* ``Weights[C, M, R, S]``
* ``Inputs[N, C, Wdilation*R + Wstride*P, Hdilation*S + Hstride*Q]``
* ``Outputs[N, M, Q, P]`` (read-write: partial sums are accumulated into it).

Any shape of this form works (the Timeloop exercises also use 1-D convolutions with dims
``R, P`` or ``K, R, P``). A data-space tile is an axis-aligned box: along an axis that is a
sum of terms its extent is ``sum(coef * (extent_of_dim - 1)) + 1``, Timeloop's convention
(holes left by a stride larger than the filter are counted, as Timeloop counts them).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Sequence

import numpy as np

#: int64's largest value: a count beyond it cannot be represented.
INT64_MAX = int(np.iinfo(np.int64).max)


@dataclasses.dataclass(frozen=True)
class DataSpace:
    """One tensor of the problem.

    ``projection[k]`` lists the ``(dimension index, coefficient)`` terms of data-space axis
    ``k``; ``read_write`` marks the output (partial sums are read back and updated).
    """

    name: str
    projection: tuple[tuple[tuple[int, int], ...], ...]
    read_write: bool = False

    def matrix(self, num_dims: int) -> np.ndarray:
        """Projection as an int64 matrix of shape (num_dims, axes): axis = dims @ matrix."""
        out = np.zeros((num_dims, len(self.projection)), dtype=np.int64)
        for k, terms in enumerate(self.projection):
            for dim, coef in terms:
                out[dim, k] += coef
        return out

    def relevant_dims(self, num_dims: int) -> np.ndarray:
        """Boolean mask (num_dims,): which dimensions index this data space."""
        return self.matrix(num_dims).any(axis=1)


@dataclasses.dataclass(frozen=True)
class Problem:
    """A problem instance: ``dims`` (names), ``bounds`` (one positive int per dim), data spaces."""

    name: str
    dims: tuple[str, ...]
    bounds: tuple[int, ...]
    data_spaces: tuple[DataSpace, ...]

    def __post_init__(self) -> None:
        if len(self.dims) != len(self.bounds):
            raise ValueError(f"problem {self.name!r}: {len(self.dims)} dims but {len(self.bounds)} bounds")
        if len(set(self.dims)) != len(self.dims):
            raise ValueError(f"problem {self.name!r}: repeated dimension names in {self.dims}")
        for dim, bound in zip(self.dims, self.bounds):
            if isinstance(bound, (bool, np.bool_)) or not isinstance(bound, (int, np.integer)) or bound < 1:
                raise ValueError(f"problem {self.name!r}: bound of {dim} is {bound!r}; expected a positive integer")
        names = [ds.name for ds in self.data_spaces]
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"problem {self.name!r}: data space names {names} must be unique and non-empty")
        sizes = [("MACs (the product of the bounds)", math.prod(int(b) for b in self.bounds))]
        for ds in self.data_spaces:
            extents = [sum(abs(int(c)) * (int(self.bounds[d]) - 1) for d, c in terms) + 1 for terms in ds.projection]
            sizes.append((f"data space {ds.name} words", math.prod(extents)))
        for what, value in sizes:
            if value > INT64_MAX:
                raise ValueError(f"problem {self.name!r} ({', '.join(f'{d}={b}' for d, b in zip(self.dims, self.bounds))}): "
                                 f"{what} = {value} does not fit in int64 (at most {INT64_MAX}); expected smaller bounds")

    @property
    def num_dims(self) -> int:
        return len(self.dims)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the whole problem (the product of the bounds)."""
        return math.prod(int(b) for b in self.bounds)  # < 2^63, checked in __post_init__

    def dim_index(self, name: str) -> int:
        try:
            return self.dims.index(name)
        except ValueError:
            raise ValueError(f"unknown dimension {name!r} of problem {self.name!r}; expected one of {', '.join(self.dims)}") from None

    def data_space_index(self, name: str) -> int:
        names = [ds.name for ds in self.data_spaces]
        if name not in names:
            raise ValueError(f"unknown data space {name!r}; expected one of {', '.join(names)}")
        return names.index(name)

    def data_space_size(self, ds: int) -> int:
        """Words in the whole data space (Timeloop's box convention)."""
        extents = (np.asarray(self.bounds, dtype=np.int64) - 1) @ self.data_spaces[ds].matrix(self.num_dims) + 1
        return int(np.prod(extents))


def conv_problem(
    R: int = 1, S: int = 1, P: int = 1, Q: int = 1, C: int = 1, M: int = 1, N: int = 1,
    Wstride: int = 1, Hstride: int = 1, Wdilation: int = 1, Hdilation: int = 1, name: str = "conv2D",
) -> Problem:
    """Timeloop's ``conv2D`` (``CNN_Layer``) problem: ``M`` output channels (``K`` in our layer
    tables), ``P x Q`` output cols x rows, ``R x S`` filter cols x rows, batch ``N``."""
    values = dict(R=R, S=S, P=P, Q=Q, C=C, M=M, N=N, Wstride=Wstride, Hstride=Hstride, Wdilation=Wdilation, Hdilation=Hdilation)
    for key, value in values.items():
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"conv problem: {key}={value!r}; expected a positive integer")
    dims = ("C", "M", "R", "S", "N", "P", "Q")
    idx = {d: i for i, d in enumerate(dims)}
    data_spaces = (
        DataSpace("Weights", (((idx["C"], 1),), ((idx["M"], 1),), ((idx["R"], 1),), ((idx["S"], 1),))),
        DataSpace("Inputs", (((idx["N"], 1),), ((idx["C"], 1),),
                             ((idx["R"], Wdilation), (idx["P"], Wstride)), ((idx["S"], Hdilation), (idx["Q"], Hstride)))),
        DataSpace("Outputs", (((idx["N"], 1),), ((idx["M"], 1),), ((idx["Q"], 1),), ((idx["P"], 1),)), read_write=True),
    )
    return Problem(name, dims, tuple(int(values[d]) for d in dims), data_spaces)


def _whole(value, what: str) -> int:
    """``value`` as an int if it is a whole number (int, whole float, digit string); else ValueError
    naming ``what`` and the value (64.5 must not be truncated to 64, nor True read as 1)."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{what} is {value!r}; expected an integer")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    raise ValueError(f"{what} is {value!r}; expected an integer")


def problem_from_shape(name: str, dims: Sequence[str], data_spaces: Sequence[Mapping], instance: Mapping[str, int],
                       coefficient_defaults: Mapping[str, int] | None = None) -> Problem:
    """Build a problem from Timeloop's shape description.

    ``data_spaces`` items have ``name``, ``projection`` (a list of axes, each a list of terms,
    each term ``[dim]`` or ``[dim, coefficient_name]``) and ``read_write``; ``instance`` gives
    each dimension's bound and may override coefficients (default 1 or ``coefficient_defaults``).
    """
    coefficients = dict(coefficient_defaults or {})
    dims = tuple(dims)
    bounds = []
    for dim in dims:
        if dim not in instance:
            raise ValueError(f"problem {name!r}: no bound for dimension {dim!r} in the instance")
        bounds.append(_whole(instance[dim], f"problem {name!r}: bound of {dim}"))
    spaces = []
    for spec in data_spaces:
        axes = []
        for axis in spec["projection"]:
            terms = []
            for term in axis:
                dim = term[0]
                if dim not in dims:
                    raise ValueError(f"problem {name!r}: data space {spec['name']!r} projects on unknown dimension {dim!r}")
                coef = 1
                if len(term) > 1:
                    key = term[1]
                    coef = _whole(instance.get(key, coefficients.get(key, 1)), f"problem {name!r}: coefficient {key}")
                terms.append((dims.index(dim), coef))
            axes.append(tuple(terms))
        spaces.append(DataSpace(spec["name"], tuple(axes), bool(spec.get("read_write", False))))
    return Problem(name, dims, tuple(bounds), tuple(spaces))


def problem_from_layer(table, index: int, batch: int = 1) -> Problem:
    """The conv problem of row ``index`` of a :class:`~codesign_gym.costmodels.workloads.LayerTable`.

    Padding is folded into the input extent as Timeloop does (the data space is the padded
    input). A depthwise or grouped layer is one group's convolution (``C`` and ``M`` per
    group); multiply its costs by ``groups`` (see :func:`layer_groups`). A GEMM is the 1x1
    convolution of the layer-table convention.
    """
    out_rows = int(table.out_rows[index])
    out_cols = int(table.out_cols[index])
    groups = int(table.groups[index])
    return conv_problem(
        R=int(table.S[index]), S=int(table.R[index]), P=out_cols, Q=out_rows,
        C=int(table.C[index]) // groups, M=int(table.K[index]) // groups, N=int(batch),
        Wstride=int(table.stride[index]), Hstride=int(table.stride[index]), name=str(table.layer_names[index]),
    )


def layer_groups(table, index: int) -> int:
    """How many identical per-group problems row ``index`` of a layer table stands for."""
    return int(table.groups[index])
