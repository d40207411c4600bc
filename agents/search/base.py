"""The ask/tell interface every search baseline shares, and the loop that drives one on a budget.

Problems expose the black-box view of :mod:`codesign_gym.envs.design_space` (``design_nvec``,
``score``), so every method is compared on the same axis: whole-design evaluations used versus
the best feasible objective found.
"""

from __future__ import annotations

import abc
import dataclasses
import time
from typing import Callable

import numpy as np

from codesign_gym.envs.design_space import DesignProblem, Evaluation


class SearchMethod(abc.ABC):
    """A black-box minimiser of ``fitness`` over integer designs, driven by ask/tell.

    Subclasses keep their own state; ``ask(n)`` returns ``n`` designs to evaluate next and
    ``tell`` hands back their evaluation. Randomness comes only from ``self.rng``.
    """

    name: str = "search"
    #: Designs per ask/tell round when the caller does not choose (sequential methods use 1).
    preferred_batch: int = 32

    def __init__(self, nvec: np.ndarray, seed: int = 0):
        self.nvec = np.asarray(nvec, dtype=np.int64)
        if self.nvec.ndim != 1 or np.any(self.nvec < 1):
            raise ValueError(f"nvec must be a 1-D array of positive choice counts; got {nvec!r}")
        self.rng = np.random.default_rng(seed)

    @abc.abstractmethod
    def ask(self, n: int) -> np.ndarray:
        """Return ``n`` designs, shape (n, D), int64."""

    @abc.abstractmethod
    def tell(self, designs: np.ndarray, evaluation: Evaluation) -> None:
        """Receive the evaluation of designs returned by :meth:`ask`."""

    def plan(self, budget: int, batch_size: int) -> None:
        """Told by :func:`run_search` before the first ask; methods with schedules (annealing) use it."""

    def random_designs(self, n: int) -> np.ndarray:
        """``n`` uniformly random designs, shape (n, D)."""
        return (self.rng.random((n, self.nvec.size)) * self.nvec).astype(np.int64)


@dataclasses.dataclass
class SearchTrace:
    """Best-so-far record of one search run; lists have one entry per evaluated batch."""

    method: str
    evals: list[int] = dataclasses.field(default_factory=list)
    wall_s: list[float] = dataclasses.field(default_factory=list)
    best_objective: list[float] = dataclasses.field(default_factory=list)  # nan until feasible
    best_design: np.ndarray | None = None
    best_fitness: float = float("inf")


def run_search(
    method: SearchMethod,
    problem: DesignProblem,
    budget: int,
    batch_size: int | None = None,
    on_batch: Callable[[SearchTrace], None] | None = None,
) -> SearchTrace:
    """Drive ``method`` for exactly ``budget`` whole-design evaluations (repeats count).

    ``batch_size`` defaults to the method's :attr:`~SearchMethod.preferred_batch`. ``on_batch`` is
    called after every batch with the trace so far (progress, checkpoints).
    """
    batch_size = method.preferred_batch if batch_size is None else batch_size
    if budget < 1 or batch_size < 1:
        raise ValueError(f"budget={budget} and batch_size={batch_size} must both be >= 1")
    trace = SearchTrace(method=method.name)
    method.plan(budget, batch_size)
    best_objective = float("nan")
    used, start = 0, time.perf_counter()
    while used < budget:
        n = min(batch_size, budget - used)
        designs = method.ask(n)
        if designs.shape != (n, method.nvec.size):
            raise RuntimeError(f"{method.name}.ask({n}) returned shape {designs.shape}; expected {(n, method.nvec.size)}")
        evaluation = problem.score(designs)
        method.tell(designs, evaluation)
        used += n
        i = int(np.argmin(evaluation.fitness))
        if evaluation.fitness[i] < trace.best_fitness:
            trace.best_fitness = float(evaluation.fitness[i])
            trace.best_design = designs[i].copy()
            if evaluation.feasible[i]:
                best_objective = float(evaluation.objective[i])
        trace.evals.append(used)
        trace.wall_s.append(time.perf_counter() - start)
        trace.best_objective.append(best_objective)
        if on_batch is not None:
            on_batch(trace)
    return trace
