"""The Method contract: every optimiser runs on a Problem for a budget and returns a Trace.

``method.run(problem, budget, seed, on_progress) -> Trace``. ``budget`` counts the problem's
evaluations (:attr:`~codesign_gym.envs.problem.Problem.evaluation_unit`; repeats count again).
A :class:`Trace` holds, after every batch a method evaluates, the evaluations used, the wall
time and the best design so far (indices) with its fitness and objective; ``on_progress(trace)``
is called after each of those points, so a caller can record rows and checkpoints.

Search baselines (ask/tell), Zeus's optimizer, HADAS's nested NSGA-II, model-based RL, the exact
solvers and RLlib's REINFORCE/PPO are all Methods (:mod:`codesign_gym.agents.registry` names them).
"""

from __future__ import annotations

import abc
import dataclasses
import time
from typing import Any, Callable

import numpy as np

from codesign_gym.envs.problem import Evaluation, Problem


@dataclasses.dataclass(frozen=True)
class TracePoint:
    """The standing after ``evals`` evaluations: best design so far (lowest fitness) with its
    fitness and, if it is feasible, its objective (NaN until a feasible design is found)."""

    evals: int
    wall_s: float
    best_fitness: float
    best_objective: float
    feasible: bool
    best_design: np.ndarray | None


@dataclasses.dataclass
class Trace:
    """A method's run: its points in order and ``extras``, JSON-able data a method's report
    needs beyond the best design (e.g. Zeus's per-recurrence costs), stored as the run's archive."""

    method: str
    points: list[TracePoint] = dataclasses.field(default_factory=list)
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def last(self) -> TracePoint:
        if not self.points:
            raise ValueError(f"{self.method}: the trace has no points yet")
        return self.points[-1]

    @property
    def evals(self) -> int:
        return self.points[-1].evals if self.points else 0

    @property
    def best_objective(self) -> float:
        return self.points[-1].best_objective if self.points else float("nan")


ProgressCallback = Callable[[Trace], None]


class BestSoFar:
    """Builds a :class:`Trace` from evaluated batches: keeps the lowest-fitness design and
    appends a point (then calls ``on_progress``) per batch.

    Args:
        method: the method's name.
        on_progress: called with the trace after every point.
        offset_evals, offset_s: evaluations and seconds already spent (a resumed or staged run).
    """

    def __init__(self, method: str, on_progress: ProgressCallback | None = None, offset_evals: int = 0, offset_s: float = 0.0):
        self.trace = Trace(method)
        self.on_progress = on_progress
        self.evals = int(offset_evals)
        self.start = time.perf_counter() - float(offset_s)
        self.fitness = float("inf")
        self.objective = float("nan")
        self.feasible = False
        self.design: np.ndarray | None = None

    def observe(self, designs: np.ndarray, evaluation: Evaluation, evals: int | None = None) -> TracePoint:
        """Take a batch (N, D) and its evaluation; ``evals`` is the count it used (default N)."""
        if len(evaluation):
            i = int(np.argmin(evaluation.fitness))
            if evaluation.fitness[i] < self.fitness:
                self.fitness = float(evaluation.fitness[i])
                self.design = np.asarray(designs[i], dtype=np.int64).copy()
                self.feasible = bool(evaluation.feasible[i])
                if self.feasible:
                    self.objective = float(evaluation.objective[i])
        return self.point(len(evaluation) if evals is None else evals)

    def seed_best(self, design: np.ndarray | None, fitness: float, objective: float, feasible: bool) -> None:
        """Start from a known best (a resumed run's, or an earlier stage's)."""
        if design is not None and fitness < self.fitness:
            self.design, self.fitness, self.objective, self.feasible = np.asarray(design, dtype=np.int64).copy(), float(fitness), float(objective), bool(feasible)

    def point(self, evals: int = 0) -> TracePoint:
        """Count ``evals`` more evaluations and append the current standing as a point."""
        self.evals += int(evals)
        p = TracePoint(self.evals, time.perf_counter() - self.start, self.fitness, self.objective, self.feasible, self.design)
        self.trace.points.append(p)
        if self.on_progress is not None:
            self.on_progress(self.trace)
        return p


class Method(abc.ABC):
    """An optimiser. ``name`` identifies it in results; options are its constructor's keyword
    arguments (a runner passes each method only the options its constructor takes)."""

    name: str = "method"
    #: True for methods that train on RLlib (they need a Ray instance).
    needs_ray: bool = False
    #: False for a method whose result does not depend on the seed (an exact solver): run once.
    seeded: bool = True

    def supports(self, problem: Problem) -> str | None:
        """None if this method can run on ``problem``, else the reason it cannot."""
        return None

    @abc.abstractmethod
    def run(self, problem: Problem, budget: int, seed: int, on_progress: ProgressCallback | None = None) -> Trace:
        """Run on ``problem`` for ``budget`` evaluations with ``seed``; see the module docstring."""


def check_budget(budget: Any) -> int:
    """``budget`` as a positive int, or a ValueError naming it."""
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"budget {budget!r}: expected a positive number of evaluations")
    return int(budget)
