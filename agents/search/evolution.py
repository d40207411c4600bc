"""Evolutionary search baselines behind the ask/tell interface: regularized evolution (Real et
al., AAAI 2019) and CMA-ES (optuna's ``CmaEsSampler``, the evolution strategy NAAS used).
Both minimise ``Evaluation.fitness`` over integer designs."""

from __future__ import annotations

import warnings
from collections import deque

import numpy as np

from codesign_gym.agents.search.base import OptunaSearch, SearchMethod
from codesign_gym.envs.problem import Evaluation


class RegularizedEvolution(SearchMethod):
    """Aging evolution (Real et al., "Regularized Evolution for Image Classifier Architecture
    Search", AAAI 2019, Algorithm 1).

    The first ``population`` designs are random. After that every child comes from a
    tournament: ``sample_size`` members drawn uniformly (without replacement) from the current
    population, the fittest is the parent, and the child is the parent with one gene mutated
    (moved one level up or down with probability ``local_mutation``, since levels are ordered;
    otherwise redrawn to a different value, as in the paper). A told child joins the
    population and the **oldest** member leaves (age-based removal, not worst-based). An ask
    of ``n`` designs runs ``n`` tournaments on the population as it stands (``n`` parallel
    workers in the paper's terms).
    """

    name = "evolution"
    preferred_batch = 8

    def __init__(self, nvec: np.ndarray, seed: int = 0, population: int = 50, sample_size: int = 10, local_mutation: float = 0.5):
        super().__init__(nvec, seed)
        if not isinstance(population, (int, np.integer)) or population < 2:
            raise ValueError(f"population={population!r}; expected an integer >= 2")
        if not isinstance(sample_size, (int, np.integer)) or not 1 <= sample_size <= population:
            raise ValueError(f"sample_size={sample_size!r}; expected an integer in 1..population ({population})")
        if not 0.0 <= local_mutation <= 1.0:
            raise ValueError(f"local_mutation={local_mutation!r}; expected a probability in [0, 1]")
        self.population, self.sample_size, self.local_mutation = int(population), int(sample_size), float(local_mutation)
        self._members: deque[tuple[np.ndarray, float]] = deque()  # (design, fitness), oldest first
        self._initial_asked = 0

    def mutate(self, parent: np.ndarray) -> np.ndarray:
        """``parent`` with one gene (among those with more than one choice) changed."""
        child = parent.copy()
        genes = np.flatnonzero(self.nvec > 1)
        if genes.size == 0:
            return child
        g = int(self.rng.choice(genes))
        n = int(self.nvec[g])
        if self.rng.random() < self.local_mutation:
            step = 1 if self.rng.random() < 0.5 else -1
            if not 0 <= child[g] + step < n:
                step = -step
            child[g] += step
        else:
            child[g] = (child[g] + 1 + int(self.rng.integers(n - 1))) % n  # any other value, uniformly
        return child

    def ask(self, n: int) -> np.ndarray:
        fresh = min(n, max(self.population - self._initial_asked, 0))
        if not self._members:
            fresh = n  # nothing to breed from yet
        self._initial_asked += fresh
        out = [self.random_designs(fresh)] if fresh else []
        children = []
        for _ in range(n - fresh):
            members = list(self._members)
            k = min(self.sample_size, len(members))
            picks = self.rng.choice(len(members), size=k, replace=False)
            parent = min((members[int(i)] for i in picks), key=lambda m: m[1])[0]
            children.append(self.mutate(parent))
        if children:
            out.append(np.array(children, dtype=np.int64))
        return np.concatenate(out).astype(np.int64)

    def tell(self, designs: np.ndarray, evaluation: Evaluation) -> None:
        for d, f in zip(np.asarray(designs), evaluation.fitness.astype(float)):
            self._members.append((d.copy(), float(f)))
            if len(self._members) > self.population:
                self._members.popleft()


class CMAES(OptunaSearch):
    """CMA-ES through optuna's ``CmaEsSampler`` (one integer parameter per design variable;
    ``with_margin=True``, the margin correction for discrete variables, Hamano et al. GECCO
    2022, so no variable collapses on one value). The batch it prefers is one generation
    (``popsize``; default ``4 + floor(3 ln D)``, CMA-ES's own)."""

    name = "cmaes"

    def __init__(self, nvec: np.ndarray, seed: int = 0, popsize: int | None = None, sigma0: float | None = None,
                 with_margin: bool = True):
        super().__init__(nvec, seed)
        optuna = self._start_optuna()
        dims = int(self.nvec.size)
        self.popsize = int(popsize) if popsize is not None else 4 + int(np.floor(3 * np.log(max(dims, 1))))
        if self.popsize < 2:
            raise ValueError(f"popsize={popsize!r}; expected an integer >= 2")
        self.preferred_batch = self.popsize
        with warnings.catch_warnings():  # with_margin is marked experimental in optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.CmaEsSampler(seed=seed, popsize=self.popsize, sigma0=sigma0, with_margin=with_margin,
                                                   warn_independent_sampling=False)
        self.study = optuna.create_study(direction="minimize", sampler=sampler)
