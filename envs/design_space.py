"""The black-box view of a problem that search baselines use: integer designs in, scores out.

A design is a vector of ``D`` integer choices, ``designs[:, d]`` in ``0..design_nvec[d]-1``.
A problem scores a batch at once (one vectorized cost-model call), so every method is compared
on the same axis: whole-design evaluations used versus the best feasible objective found.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Scores of a batch of N designs, each array of shape (N,).

    ``fitness`` is what methods minimise: the objective divided by the problem's normaliser for a
    feasible design, and a penalty larger than any feasible fitness (growing with the overshoot)
    for an infeasible one. ``objective`` is the raw objective (e.g. cycles).
    """

    fitness: np.ndarray
    objective: np.ndarray
    feasible: np.ndarray


class DesignProblem(Protocol):
    """What a search method needs of a problem."""

    #: (D,) number of choices of each design variable.
    design_nvec: np.ndarray

    def score(self, designs: np.ndarray) -> Evaluation:
        """Score designs of shape (N, D), int64."""


def check_integer_designs(designs, design_nvec: np.ndarray) -> np.ndarray:
    """``designs`` as int64 (N, D) after checking the shape, the integer dtype and that every
    entry ``d`` lies in ``0..design_nvec[d]-1``.

    Raises:
        ValueError: naming the shape / dtype, or the first design outside the space and ``nvec``.
    """
    d = np.asarray(designs)
    D = int(np.asarray(design_nvec).size)
    if d.ndim != 2 or d.shape[1] != D or d.dtype.kind not in "iu":
        raise ValueError(f"designs have shape {d.shape} and dtype {d.dtype}; expected integers of shape (N, {D})")
    bad = np.flatnonzero(((d < 0) | (d >= design_nvec)).any(axis=1))
    if bad.size:
        raise ValueError(f"design {d[bad[0]].tolist()} is outside the action space; expected each entry i in 0..nvec[i]-1, "
                         f"nvec={np.asarray(design_nvec).tolist()}")
    return d.astype(np.int64)
