"""HADAS's nested evolutionary search (DATE 2023) with optuna's NSGA-II, as a Method.

Outer loop: NSGA-II (``optuna.samplers.NSGAIISampler``, population ``outer_population``, HADAS: 64)
over the backbone. Each outer trial runs the inner loop for that backbone: NSGA-II (population
``inner_population``, HADAS: 10) over the exits, the exit threshold and the GPU/CPU/EMC levels,
for ``inner_generations`` generations, minimising (energy per inference, top-1 error). Each
backbone keeps its inner study across outer visits, so a backbone drawn again continues its
search. The outer trial is told the best energy and the best error its inner generations reached
(the ideal point of that inner front). Every inner design is one evaluation of the budget
(``problem.evaluate``); the run stops when the budget is spent. The trace follows the problem's
own ``fitness`` (:class:`~codesign_gym.agents.method.BestSoFar`); the Pareto front and its
hypervolume come from the run's archive (``experiments/hadas/report.py``).
"""

from __future__ import annotations

import numpy as np

from codesign_gym.agents.method import BestSoFar, Method, ProgressCallback, Trace, check_budget
from codesign_gym.envs.early_exit_dvfs import EarlyExitDVFSProblem
from codesign_gym.envs.problem import Problem


def check_populations(outer_population, inner_population, inner_generations) -> None:
    """ValueError naming the first of the nested NSGA-II's sizes that is not an integer >= 2
    (populations) or >= 1 (generations)."""
    for name, value, least in (("outer_population", outer_population, 2), ("inner_population", inner_population, 2),
                               ("inner_generations", inner_generations, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name}={value!r}; expected an integer >= {least}")


def _unwrapped(problem) -> Problem:
    """The problem behind a runner's wrapper (e.g. its archiving wrapper), for type checks."""
    return getattr(problem, "problem", problem)


class _NestedSearch:
    """One run's studies: the outer study over the backbone and one inner study per backbone."""

    def __init__(self, problem: EarlyExitDVFSProblem, seed: int, outer_population: int, inner_population: int, inner_generations: int):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna, self.problem, self.seed = optuna, problem, int(seed)
        self.inner_population, self.inner_generations = int(inner_population), int(inner_generations)
        sampler = optuna.samplers.NSGAIISampler(population_size=int(outer_population), seed=self.seed)
        self.outer = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
        self.outer_dist = {"backbone": optuna.distributions.IntDistribution(0, problem.num_backbones - 1)}
        self.inner: dict[int, object] = {}

    def _inner_study(self, k: int):
        if k not in self.inner:
            sampler = self._optuna.samplers.NSGAIISampler(population_size=self.inner_population, seed=self.seed * 1009 + k + 1)
            self.inner[k] = self._optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
        return self.inner[k]

    def _inner_distributions(self, k: int) -> dict:
        """Backbone ``k``'s own exits, then the threshold (if any) and the levels, by design-space name."""
        p, IntD = self.problem, self._optuna.distributions.IntDistribution
        exits = {f"exit{j + 1}" for j in range(int(p.xavier.num_exits[k]))}
        return {name: IntD(0, int(n) - 1) for name, n in zip(p.space.names[1:], p.space.nvec[1:])
                if not name.startswith("exit") or name in exits}

    def _design(self, k: int, params: dict) -> np.ndarray:
        return np.array([k] + [params.get(name, 0) for name in self.problem.space.names[1:]], dtype=np.int64)

    def run(self, problem, budget: int, best: BestSoFar) -> None:
        """Spend exactly ``budget`` evaluations of ``problem`` (this one, or a wrapper of it)."""
        used = 0
        while used < budget:
            outer_trial = self.outer.ask(self.outer_dist)
            k = int(outer_trial.params["backbone"])
            study, dist = self._inner_study(k), self._inner_distributions(k)
            best_energy, best_error = np.inf, np.inf
            for _ in range(self.inner_generations):
                n = min(self.inner_population, budget - used)
                if n <= 0:
                    break
                trials = [study.ask(dist) for _ in range(n)]
                designs = np.stack([self._design(k, t.params) for t in trials])
                evaluation = problem.evaluate(designs)
                energy, error = evaluation.metrics["energy_mj"], 100.0 - evaluation.metrics["accuracy"]
                for t, e, err in zip(trials, energy.tolist(), error.tolist()):
                    study.tell(t, [e, err])
                best_energy, best_error = min(best_energy, float(energy.min())), min(best_error, float(error.min()))
                used += n
                best.observe(designs, evaluation)
            if np.isfinite(best_energy):
                self.outer.tell(outer_trial, [best_energy, best_error])


class NestedNSGA2Method(Method):
    """HADAS's nested NSGA-II (module docstring) on an :class:`EarlyExitDVFSProblem`.

    Args:
        outer_population: outer NSGA-II population over the backbone (HADAS: 64), >= 2.
        inner_population: inner population over exits, threshold and levels (HADAS: 10), >= 2.
        inner_generations: inner generations per outer trial, >= 1.
    """

    name = "hadas"

    def __init__(self, outer_population: int = 64, inner_population: int = 10, inner_generations: int = 2):
        check_populations(outer_population, inner_population, inner_generations)
        self.outer_population, self.inner_population, self.inner_generations = int(outer_population), int(inner_population), int(inner_generations)

    def supports(self, problem: Problem) -> str | None:
        if isinstance(_unwrapped(problem), EarlyExitDVFSProblem):
            return None
        return f"the nested NSGA-II searches EarlyExitDVFSProblem designs only, not {type(_unwrapped(problem)).__name__}"

    def run(self, problem: Problem, budget: int, seed: int, on_progress: ProgressCallback | None = None) -> Trace:
        """Search for exactly ``budget`` whole-design evaluations with ``seed``; returns the trace."""
        check_budget(budget)
        why = self.supports(problem)
        if why:
            raise ValueError(why)
        best = BestSoFar(self.name, on_progress)
        search = _NestedSearch(_unwrapped(problem), seed, self.outer_population, self.inner_population, self.inner_generations)
        search.run(problem, budget, best)
        return best.trace
