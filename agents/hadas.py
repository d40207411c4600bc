"""HADAS's nested evolutionary search (DATE 2023) with optuna's NSGA-II, and the archive every
multi-objective method of the HADAS experiment fills.

Outer loop: NSGA-II (``optuna.samplers.NSGAIISampler``, population ``outer_population``, HADAS: 64)
over the backbone. Each outer trial runs the inner loop for that backbone: NSGA-II (population
``inner_population``, HADAS: 10) over the exits, the exit threshold and the GPU/CPU/EMC levels,
for ``inner_generations`` generations, minimising (energy per inference, top-1 error). Each
backbone keeps its inner study across outer visits, so a backbone drawn again continues its
search. The outer trial is told the best energy and the best error its inner generations reached
(the ideal point of that inner front). Every inner design is one whole-design evaluation of the
budget; the run stops when the budget is spent.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from codesign_gym.envs.early_exit_dvfs import EarlyExitDVFSProblem


@dataclasses.dataclass
class Archive:
    """Every design a run evaluated, in order: ``designs`` (N, D) one-shot index vectors,
    ``accuracy`` (N,) %, ``energy_mj`` (N,), ``latency_ms`` (N,), and ``wall_s`` at each evaluation."""

    designs: list = dataclasses.field(default_factory=list)
    accuracy: list = dataclasses.field(default_factory=list)
    energy_mj: list = dataclasses.field(default_factory=list)
    latency_ms: list = dataclasses.field(default_factory=list)
    wall_s: list = dataclasses.field(default_factory=list)

    def add(self, designs: np.ndarray, metrics: dict[str, np.ndarray], wall_s: float) -> None:
        self.designs.extend(np.asarray(designs).tolist())
        self.accuracy.extend(metrics["accuracy"].tolist())
        self.energy_mj.extend(metrics["energy_mj"].tolist())
        self.latency_ms.extend(metrics["latency_ms"].tolist())
        self.wall_s.extend([wall_s] * len(designs))

    def __len__(self) -> int:
        return len(self.designs)


class NestedNSGA2:
    """HADAS's nested NSGA-II on an :class:`EarlyExitDVFSProblem` (module docstring)."""

    name = "hadas"

    def __init__(self, problem: EarlyExitDVFSProblem, seed: int = 0, outer_population: int = 64, inner_population: int = 10,
                 inner_generations: int = 2):
        import optuna

        for name, v in (("outer_population", outer_population), ("inner_population", inner_population), ("inner_generations", inner_generations)):
            if not isinstance(v, (int, np.integer)) or v < (2 if "population" in name else 1):
                raise ValueError(f"{name}={v!r}; expected an integer >= {2 if 'population' in name else 1}")
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
        p, IntD = self.problem, self._optuna.distributions.IntDistribution
        dist = {f"exit{j + 1}": IntD(0, 1) for j in range(int(p.space.num_exits[k]))}
        tail = p.design_nvec[1 + p.max_exits :]
        names = (["threshold"] if p.policy == "threshold" else []) + ["gpu", "cpu", "emc"]
        dist.update({n: IntD(0, int(v) - 1) for n, v in zip(names, tail)})
        return dist

    def _design(self, k: int, params: dict) -> np.ndarray:
        p = self.problem
        exits = [params.get(f"exit{j + 1}", 0) for j in range(p.max_exits)]
        names = (["threshold"] if p.policy == "threshold" else []) + ["gpu", "cpu", "emc"]
        return np.array([k] + exits + [params[n] for n in names], dtype=np.int64)

    def run(self, budget: int, on_batch: Callable[[Archive], None] | None = None) -> Archive:
        """Search for exactly ``budget`` whole-design evaluations; returns the archive."""
        if not isinstance(budget, (int, np.integer)) or budget < 1:
            raise ValueError(f"budget={budget!r}; expected a positive number of design evaluations")
        archive, start = Archive(), time.perf_counter()
        while len(archive) < budget:
            outer_trial = self.outer.ask(self.outer_dist)
            k = int(outer_trial.params["backbone"])
            study, dist = self._inner_study(k), self._inner_distributions(k)
            best_energy, best_error = np.inf, np.inf
            for _ in range(self.inner_generations):
                n = min(self.inner_population, budget - len(archive))
                if n <= 0:
                    break
                trials = [study.ask(dist) for _ in range(n)]
                designs = np.stack([self._design(k, t.params) for t in trials])
                m = self.problem.evaluate_designs(designs)
                error = 100.0 - m["accuracy"]
                for t, e, err in zip(trials, m["energy_mj"].tolist(), error.tolist()):
                    study.tell(t, [e, err])
                best_energy = min(best_energy, float(m["energy_mj"].min()))
                best_error = min(best_error, float(error.min()))
                archive.add(designs, m, time.perf_counter() - start)
                if on_batch is not None:
                    on_batch(archive)
            if np.isfinite(best_energy):
                self.outer.tell(outer_trial, [best_energy, best_error])
        return archive


def random_archive(problem: EarlyExitDVFSProblem, budget: int, seed: int = 0, batch: int = 64,
                   on_batch: Callable[[Archive], None] | None = None) -> Archive:
    """Uniform random designs over the one-shot action space, ``budget`` of them."""
    from codesign_gym.agents.search import RandomSearch

    if not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"budget={budget!r}; expected a positive number of design evaluations")
    search, archive, start = RandomSearch(problem.design_nvec, seed=seed), Archive(), time.perf_counter()
    while len(archive) < budget:
        designs = search.ask(min(batch, budget - len(archive)))
        archive.add(designs, problem.evaluate_designs(designs), time.perf_counter() - start)
        if on_batch is not None:
            on_batch(archive)
    return archive
