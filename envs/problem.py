"""The Problem contract every co-design question in the package follows.

A problem is a design space of integer vectors, a batched ``evaluate`` that prices designs with
a cost model, and what a result is measured against:

- :class:`DesignSpace`: ``names`` and ``nvec`` of the ``D`` design variables; a design is a
  vector ``d`` with ``d[i]`` in ``0..nvec[i]-1`` (indices into the problem's choice tables).
- :meth:`Problem.evaluate`: designs (N, D) -> :class:`Evaluation`, one vectorized cost-model
  call per batch. ``fitness`` is what every method minimises; ``objective`` is the raw,
  named quantity a user reads (its :class:`Objective` has a unit and a direction).
- :meth:`Problem.to_config`: a design as the real values it stands for, with units in the keys.
- :meth:`Problem.reference` / :meth:`Problem.optimum`: the baseline the problem is measured
  against and an exact optimum, where known.

Environments are episode layers over a Problem; methods in ``agents/`` run on Problems; the
experiment runner records every Problem the same way. ``docs/adding_a_problem.md`` is the guide.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, Callable, Mapping

import numpy as np

DIRECTIONS = ("min", "max")


@dataclasses.dataclass(frozen=True)
class Objective:
    """A named quantity with its unit and whether smaller (``min``) or larger (``max``) is better."""

    name: str
    unit: str
    direction: str = "min"

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"objective {self.name!r}: direction {self.direction!r}; expected one of {DIRECTIONS}")


@dataclasses.dataclass(frozen=True)
class DesignSpace:
    """``D`` integer design variables: ``names`` (D,) and ``nvec`` (D,) choices of each."""

    names: tuple[str, ...]
    nvec: np.ndarray

    def __post_init__(self) -> None:
        nvec = np.asarray(self.nvec, dtype=np.int64)
        if nvec.ndim != 1 or nvec.size != len(self.names) or np.any(nvec < 1):
            raise ValueError(f"design space: nvec {np.asarray(self.nvec).tolist()} must hold one positive count per name "
                             f"({len(self.names)} names)")
        object.__setattr__(self, "nvec", nvec)
        object.__setattr__(self, "names", tuple(self.names))

    @property
    def size(self) -> int:
        """Number of design variables ``D``."""
        return int(self.nvec.size)

    def check(self, designs: Any) -> np.ndarray:
        """``designs`` as int64 (N, D) after checking shape, integer dtype and range.

        Raises:
            ValueError: naming the shape / dtype, or the first design outside the space and ``nvec``.
        """
        d = np.asarray(designs)
        if d.ndim != 2 or d.shape[1] != self.size or (d.size and d.dtype.kind not in "iu"):
            raise ValueError(f"designs have shape {d.shape} and dtype {d.dtype}; expected integers of shape (N, {self.size})")
        bad = np.flatnonzero(((d < 0) | (d >= self.nvec)).any(axis=1))
        if bad.size:
            raise ValueError(f"design {d[bad[0]].tolist()} is outside the design space; expected each entry i in 0..nvec[i]-1, "
                             f"nvec={self.nvec.tolist()} ({', '.join(self.names)})")
        return d.astype(np.int64)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` uniformly random designs (n, D), int64."""
        return (rng.random((n, self.size)) * self.nvec).astype(np.int64)


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Scores of a batch of ``N`` designs.

    Attributes:
        fitness: (N,) what methods minimise. Every infeasible design ranks below every feasible
            one, and a smaller overshoot ranks higher.
        objective: (N,) the raw objective in its unit (:attr:`Problem.objective`); NaN where a
            design has none (e.g. beyond a cap, never priced).
        feasible: (N,) bool, every constraint met.
        overshoot: (N,) >= 0, how far the worst constraint is exceeded (0 when feasible), as a
            fraction of its limit unless the problem says otherwise.
        metrics: named arrays (N, ...): every raw number a user or a report needs.
        units: the unit of each entry of ``metrics`` (``"1"`` for a dimensionless number,
            ``"bool"`` for a flag, ``"index"`` for a choice index).
    """

    fitness: np.ndarray
    objective: np.ndarray
    feasible: np.ndarray
    overshoot: np.ndarray
    metrics: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    units: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = sorted(set(self.metrics) - set(self.units))
        if missing:
            raise ValueError(f"metrics {missing} have no unit; expected a unit for every metric")

    def __len__(self) -> int:
        return int(np.asarray(self.fitness).shape[0])

    def row(self, i: int) -> dict[str, Any]:
        """Design ``i``'s scores and metrics as plain Python values (lists for array rows)."""
        out: dict[str, Any] = {"fitness": float(self.fitness[i]), "objective": float(self.objective[i]),
                               "feasible": bool(self.feasible[i]), "overshoot": float(self.overshoot[i])}
        for key, value in self.metrics.items():
            out[key] = plain(value[i])
        return out


def plain(value: Any) -> Any:
    """A numpy scalar, array, list or dict as Python numbers, bools, strings, lists and dicts; NaN/inf become None."""
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()] if value.ndim else plain(value.item())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


@dataclasses.dataclass(frozen=True)
class KnownPoint:
    """A design the problem is measured against (its reference) or its exact optimum.

    Attributes:
        objective: the point's objective in the problem's unit.
        design: (D,) indices, or None where the point is not in the design space (e.g. a
            baseline accelerator outside the searched grid).
        label: what the point is (``"Eyeriss + ResNet cell"``, ``"multiple-choice knapsack"``).
        evals: whole-design evaluations it took to find (an enumeration's size; 0 for a
            solver that reads cost tables, or a given baseline).
    """

    objective: float
    design: np.ndarray | None = None
    label: str = ""
    evals: int = 0


class Problem(abc.ABC):
    """A co-design problem: design space, batched evaluation, reference and optimum.

    Subclasses set :attr:`space` and :attr:`objective` in ``__init__`` and implement
    :meth:`evaluate` and :meth:`to_config`. Class attributes:

    - ``env_id``: the ``codesign/<Name>-v0`` environment over this problem;
    - ``evaluation_unit``: what one evaluation is (``"design"``; Zeus: ``"recurrence"``);
    - ``objectives``: every objective of a multi-objective problem; a single-objective
      problem leaves it empty. :attr:`objective` is then either one of them (a constrained
      form: minimise one subject to the others) or their scalarization (its own name).
    """

    env_id: str = ""
    evaluation_unit: str = "design"
    space: DesignSpace
    objective: Objective
    objectives: tuple[Objective, ...] = ()

    @abc.abstractmethod
    def evaluate(self, designs: np.ndarray) -> Evaluation:
        """Price designs (N, D) int; see :class:`Evaluation`."""

    @abc.abstractmethod
    def to_config(self, design: np.ndarray) -> dict[str, Any]:
        """One design (D,) as the real values it stands for (JSON-able; units in the key names)."""

    #: Set by the subclass's ``__init__``: the keyword options that rebuild it (JSON-able).
    _options: dict[str, Any] = {}

    @property
    def options(self) -> dict[str, Any]:
        """The keyword options that rebuild this problem (and its env), JSON-able: the env's
        ``env_config`` for RLlib's env runners."""
        return dict(self._options)

    @property
    def label(self) -> str:
        """A short name of this instance for results tables (its options that name it)."""
        return "|".join(f"{v}" for v in self.options.values())

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def design_nvec(self) -> np.ndarray:
        """(D,) choices per design variable (``space.nvec``)."""
        return self.space.nvec

    def reference(self) -> KnownPoint | None:
        """The baseline the problem is measured against, or None."""
        return None

    def _once(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``key`` is asked for on this instance, then its stored
        result (an optimum found by enumeration or a solver is computed once)."""
        cache = self.__dict__.setdefault("_computed_once", {})
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    def optimum(self) -> KnownPoint | None:
        """An exact optimum (minimum fitness among feasible designs), or None where none is known."""
        return None


def concat_evaluations(parts: list[Evaluation]) -> Evaluation:
    """One :class:`Evaluation` of the designs of ``parts`` in order (e.g. chunks priced apart)."""
    if not parts:
        raise ValueError("concat_evaluations: expected at least one evaluation")
    cat = lambda key: np.concatenate([np.asarray(getattr(p, key)) for p in parts])  # noqa: E731
    metrics = {k: np.concatenate([np.asarray(p.metrics[k]) for p in parts]) for k in parts[0].metrics}
    return Evaluation(cat("fitness"), cat("objective"), cat("feasible"), cat("overshoot"), metrics, dict(parts[0].units))
