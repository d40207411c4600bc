"""The ask/tell interface every search baseline shares, and :class:`Search`, the Method that
drives one on a Problem for a budget.

Problems are scored in batches (one vectorized cost-model call per ask), so every method is
compared on the same axis: evaluations used versus the best feasible objective found.
"""

from __future__ import annotations

import abc

import numpy as np

from codesign_gym.agents.method import BestSoFar, Method, ProgressCallback, Trace, check_budget
from codesign_gym.envs.problem import Evaluation, Problem


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


class OptunaSearch(SearchMethod):
    """A :class:`SearchMethod` whose designs come from an optuna study (``self.study``), one
    integer parameter ``x<d>`` in ``0..nvec[d]-1`` per design variable. A subclass calls
    :meth:`_start_optuna` in ``__init__`` and sets ``self.study``; :meth:`_before_ask` may
    reshape the study (e.g. trim its history) before each batch."""

    def _start_optuna(self):
        """Quiet optuna's logging, build the parameter distributions; returns the optuna module."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._distributions = {f"x{d}": optuna.distributions.IntDistribution(0, int(k) - 1) for d, k in enumerate(self.nvec)}
        self._trials: list = []
        return optuna

    def _before_ask(self) -> None:
        """Called before each batch is asked for."""

    def ask(self, n: int) -> np.ndarray:
        self._before_ask()
        self._trials = [self.study.ask(self._distributions) for _ in range(n)]
        return np.array([[t.params[f"x{d}"] for d in range(self.nvec.size)] for t in self._trials], dtype=np.int64)

    def tell(self, designs: np.ndarray, evaluation: Evaluation) -> None:
        for trial, value in zip(self._trials, np.asarray(evaluation.fitness).tolist()):
            self.study.tell(trial, float(value))
        self._trials = []


def run_search(searcher: SearchMethod, problem: Problem, budget: int, batch_size: int | None, best: BestSoFar) -> Trace:
    """Drive ``searcher`` for exactly ``budget`` evaluations of ``problem`` (repeats count),
    ``batch_size`` designs per ask (default: the searcher's preferred batch); ``best`` records
    a trace point per batch."""
    batch_size = searcher.preferred_batch if batch_size is None else batch_size
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: expected a positive number of designs per round")
    check_budget(budget)
    searcher.plan(budget, batch_size)
    used = 0
    while used < budget:
        n = min(batch_size, budget - used)
        designs = searcher.ask(n)
        if designs.shape != (n, searcher.nvec.size):
            raise RuntimeError(f"{searcher.name}.ask({n}) returned shape {designs.shape}; expected {(n, searcher.nvec.size)}")
        evaluation = problem.evaluate(designs)
        searcher.tell(designs, evaluation)
        used += n
        best.observe(designs, evaluation)
    return best.trace


class Search(Method):
    """An ask/tell search baseline (:data:`~codesign_gym.agents.search.methods.SEARCH_METHODS`) as a Method.

    Args:
        name: the search method (``random``, ``genetic``, ``annealing``, ``bayesian``, ``evolution``, ``cmaes``).
        batch_size: designs per ask/tell round (default: the method's preferred batch).
        eval_tasks: Ray tasks that price each batch (0: price in this process).
        eval_min_chunk: fewest designs per pricing task.
        seed_design: (D,) design the genetic algorithm's first generation is built around.
    """

    def __init__(self, name: str, batch_size: int | None = None, eval_tasks: int = 0, eval_min_chunk: int = 256,
                 seed_design: np.ndarray | None = None):
        from codesign_gym.agents.search.methods import SEARCH_METHODS

        if name not in SEARCH_METHODS:
            raise ValueError(f"search method {name!r} is not known; expected one of {sorted(SEARCH_METHODS)}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError(f"batch_size={batch_size!r}: expected a positive number of designs per round")
        if eval_tasks < 0:
            raise ValueError(f"eval_tasks={eval_tasks!r}: expected 0 (price in this process) or more Ray tasks")
        self.name, self.batch_size, self.eval_tasks, self.eval_min_chunk = name, batch_size, int(eval_tasks), int(eval_min_chunk)
        self.seed_design = seed_design
        self.needs_ray = self.eval_tasks > 0

    def run(self, problem: Problem, budget: int, seed: int, on_progress: ProgressCallback | None = None,
            best: BestSoFar | None = None) -> Trace:
        """As :meth:`Method.run`; ``best`` continues an earlier stage's standing (offset evals and time)."""
        from codesign_gym.agents.search.methods import make_search_method

        options = {} if self.seed_design is None else {"seed_design": self.seed_design}
        searcher = make_search_method(self.name, problem.design_nvec, seed=seed, **options)
        if self.eval_tasks:
            from codesign_gym.agents.search.distributed import DistributedProblem

            problem = DistributedProblem(problem, num_tasks=self.eval_tasks, min_chunk=self.eval_min_chunk)
        return run_search(searcher, problem, budget, self.batch_size, best or BestSoFar(self.name, on_progress))
