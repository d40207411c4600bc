"""``exact``: a problem's exact optimum as a Method, so results tables carry it as a row.

The optimum itself belongs to the problem (:meth:`~codesign_gym.envs.problem.Problem.optimum`;
for ConfuciuX's resource assignment the multiple-choice knapsack of
:mod:`codesign_gym.envs.knapsack`). :class:`ExactMethod` runs wherever a problem knows its
optimum and returns a one-point trace at it.
"""

from __future__ import annotations

import numpy as np

from codesign_gym.agents.method import BestSoFar, Method, ProgressCallback, Trace, check_budget
from codesign_gym.envs.problem import Problem


class ExactMethod(Method):
    """The problem's exact optimum (:meth:`Problem.optimum`) as a one-point trace.

    The point's ``evals`` is what finding the optimum took (:attr:`KnownPoint.evals`: the
    knapsack solver reads cost tables and prices no whole design, so 0 there; an enumeration
    counts its designs). The method is not seeded: a runner runs it once, at the first seed. The optimum's design is evaluated once through
    ``problem.evaluate`` to report its fitness and feasibility (that check is not counted).
    The trace's only point is reported by the returned trace (``on_progress`` is not called),
    so a recorder writes one row for it.
    """

    name = "exact"
    seeded = False

    def supports(self, problem: Problem) -> str | None:
        if problem.optimum() is None:
            return f"{problem.label} has no known exact optimum (e.g. a non-separable objective)"
        return None

    def run(self, problem: Problem, budget: int, seed: int, on_progress: ProgressCallback | None = None) -> Trace:
        check_budget(budget)
        why = self.supports(problem)
        if why:
            raise ValueError(f"exact: {why}; expected a problem whose optimum() is known")
        optimum = problem.optimum()
        if optimum.design is None:
            raise ValueError(f"exact: the optimum of {problem.label} has no design in the design space; expected one")
        design = np.asarray(optimum.design, dtype=np.int64)[None, :]
        best = BestSoFar(self.name)
        best.observe(design, problem.evaluate(design), evals=optimum.evals)
        return best.trace


__all__ = ["ExactMethod"]
