"""Search baselines behind the ask/tell interface: random, genetic, simulated annealing, and
Bayesian optimisation (optuna's TPE). All minimise ``Evaluation.fitness``."""

from __future__ import annotations

import numpy as np

from codesign_gym.agents.search.base import OptunaSearch, SearchMethod
from codesign_gym.envs.problem import Evaluation


class RandomSearch(SearchMethod):
    """Uniformly random designs; ignores feedback."""

    name = "random"

    def ask(self, n: int) -> np.ndarray:
        return self.random_designs(n)

    def tell(self, designs: np.ndarray, evaluation: Evaluation) -> None:
        pass


class GeneticAlgorithm(SearchMethod):
    """Generational GA with elitism, tournament selection, uniform crossover and per-gene mutation.

    Args:
        population: designs per generation (the batch it asks for is one generation).
        elite: best designs copied unchanged into the next generation.
        mutation_rate: probability that a gene is redrawn; default ``2 / D``.
        local_mutation: share of mutations that move a gene by +-1 level instead of redrawing it
            (levels are ordered, so small moves refine a good design).
        seed_design: optional (D,) design the first generation is built around (ConfuciuX's
            second stage seeds the GA with the best RL design); the rest are its mutants.
    """

    name = "genetic"
    preferred_batch = 32  # one generation per batch

    def __init__(
        self,
        nvec: np.ndarray,
        seed: int = 0,
        population: int = 32,
        elite: int = 1,
        tournament: int = 4,
        mutation_rate: float | None = None,
        local_mutation: float = 0.9,
        seed_design: np.ndarray | None = None,
    ):
        super().__init__(nvec, seed)
        if population < 2 or not 0 <= elite < population:
            raise ValueError(f"population={population}, elite={elite}: need population >= 2 and 0 <= elite < population")
        self.population = population
        self.elite = elite
        self.tournament = tournament
        self.mutation_rate = 2.0 / self.nvec.size if mutation_rate is None else mutation_rate
        self.local_mutation = local_mutation
        self._pool: np.ndarray | None = None  # (M, D) evaluated designs competing for the next generation
        self._fit: np.ndarray | None = None  # (M,) their fitness
        self._queue = self._first_generation(seed_design)

    def _first_generation(self, seed_design: np.ndarray | None) -> np.ndarray:
        if seed_design is None:
            return self.random_designs(self.population)
        seed_design = np.asarray(seed_design, dtype=np.int64)
        if seed_design.shape != self.nvec.shape or np.any(seed_design < 0) or np.any(seed_design >= self.nvec):
            raise ValueError(f"seed_design {seed_design.tolist()} does not fit the design space nvec={self.nvec.tolist()}")
        mutants = self.mutate(np.tile(seed_design, (self.population - 1, 1)))
        return np.concatenate([seed_design[None, :], mutants])

    def mutate(self, designs: np.ndarray) -> np.ndarray:
        """Mutated copies of ``designs`` (N, D)."""
        out = designs.copy()
        hit = self.rng.random(out.shape) < self.mutation_rate
        local = self.rng.random(out.shape) < self.local_mutation
        step = np.where(self.rng.random(out.shape) < 0.5, -1, 1)
        moved = np.clip(out + step, 0, self.nvec - 1)
        redrawn = (self.rng.random(out.shape) * self.nvec).astype(np.int64)
        return np.where(hit, np.where(local, moved, redrawn), out)

    def _next_generation(self) -> np.ndarray:
        """Children of the evaluated pool: its ``elite`` best unchanged, the rest bred by tournament."""
        order = np.argsort(self._fit, kind="stable")
        pool, fit = self._pool[order][: self.population], self._fit[order][: self.population]
        n_children = self.population - min(self.elite, len(pool))
        contenders = self.rng.integers(0, len(pool), (2 * n_children, self.tournament))
        winners = contenders[np.arange(2 * n_children), np.argmin(fit[contenders], axis=1)]
        a, b = pool[winners[:n_children]], pool[winners[n_children:]]
        children = np.where(self.rng.random(a.shape) < 0.5, a, b)
        # keep the elite in the pool so they compete in the next round too
        self._pool, self._fit = pool[: self.elite], fit[: self.elite]
        return np.concatenate([pool[: self.elite], self.mutate(children)])

    def ask(self, n: int) -> np.ndarray:
        while self._queue.shape[0] < n:
            evaluated = self._pool is not None and len(self._pool) > 0
            self._queue = np.concatenate([self._queue, self._next_generation() if evaluated else self.random_designs(self.population)])
        out, self._queue = self._queue[:n], self._queue[n:]
        return out

    def tell(self, designs: np.ndarray, evaluation: Evaluation) -> None:
        fit = evaluation.fitness.astype(float)
        if self._pool is None:
            self._pool, self._fit = designs.copy(), fit.copy()
        else:
            self._pool = np.concatenate([self._pool, designs])
            self._fit = np.concatenate([self._fit, fit])


class SimulatedAnnealing(SearchMethod):
    """``chains`` annealing chains stepped together; an ask of ``n`` designs spreads ``n``
    neighbour proposals round-robin over the chains, and each chain moves to its best proposal
    by the Metropolis rule.

    A proposal changes ``moves`` genes by +-1 level (or redraws one with probability
    ``redraw``); with probability ``exchange`` another gene moves the opposite way, which trades a
    shared resource (e.g. a budget) between variables. The temperature (in fitness units) falls geometrically from ``t_start`` to
    ``t_end`` over ``steps`` ask/tell rounds; by default over the whole budget given to
    :func:`run_search`.
    """

    name = "annealing"
    preferred_batch = 1  # annealing is sequential: every evaluation moves the chain

    def __init__(
        self,
        nvec: np.ndarray,
        seed: int = 0,
        chains: int = 1,
        t_start: float = 0.03,
        t_end: float = 1e-4,
        steps: int | None = None,
        moves: int = 2,
        redraw: float = 0.05,
        exchange: float = 0.3,
    ):
        super().__init__(nvec, seed)
        self.exchange = exchange
        self.chains = chains
        self.t_start, self.t_end = t_start, t_end
        self.steps = 1000 if steps is None else max(int(steps), 1)
        self._fixed_steps = steps is not None
        self.moves, self.redraw = moves, redraw
        self.current: np.ndarray | None = None
        self.current_fit = np.full(chains, np.inf)
        self._step = 0
        self._pending: np.ndarray | None = None  # chain index of each asked design

    def plan(self, budget: int, batch_size: int) -> None:
        if not self._fixed_steps:
            self.steps = max(-(-budget // batch_size), 1)

    @property
    def temperature(self) -> float:
        frac = min(self._step / self.steps, 1.0)
        return self.t_start * (self.t_end / self.t_start) ** frac

    def ask(self, n: int) -> np.ndarray:
        if self.current is None:
            # first round: random starts; each chain begins at the best of the ones it is dealt
            self.current = self.random_designs(self.chains)
            self._pending = np.arange(n) % self.chains
            return self.random_designs(n)
        idx = np.arange(n) % self.chains
        base = self.current[idx]
        out = base.copy()
        rows = np.arange(n)
        for _ in range(self.moves):
            gene = self.rng.integers(0, self.nvec.size, n)
            step = np.where(self.rng.random(n) < 0.5, -1, 1)
            moved = np.clip(out[rows, gene] + step, 0, self.nvec[gene] - 1)
            redrawn = (self.rng.random(n) * self.nvec[gene]).astype(np.int64)
            out[rows, gene] = np.where(self.rng.random(n) < self.redraw, redrawn, moved)
            # exchange: a second gene moves the opposite way (trades a shared resource between variables)
            other = self.rng.integers(0, self.nvec.size, n)
            swap = self.rng.random(n) < self.exchange
            counter = np.clip(out[rows, other] - step, 0, self.nvec[other] - 1)
            out[rows, other] = np.where(swap, counter, out[rows, other])
        self._pending = idx
        return out

    def tell(self, designs: np.ndarray, evaluation: Evaluation) -> None:
        fit = evaluation.fitness.astype(float)
        temp = self.temperature
        for chain in np.unique(self._pending):
            mine = np.flatnonzero(self._pending == chain)
            j = mine[np.argmin(fit[mine])]
            delta = fit[j] - self.current_fit[chain]
            if not np.isfinite(self.current_fit[chain]) or delta <= 0 or self.rng.random() < np.exp(-delta / temp):
                self.current[chain] = designs[j]
                self.current_fit[chain] = fit[j]
        self._step += 1


class BayesianOptimization(OptunaSearch):
    """Bayesian optimisation with optuna's TPE sampler (multivariate), one integer parameter per
    design variable. optuna is a well-kept BO library; we do not hand-write a surrogate.

    TPE's cost per suggestion grows with the number of observed trials, so a 3,673-evaluation
    run would take tens of minutes. With ``max_history`` set (default 400), once the study holds
    more trials it is rebuilt from the best half and the most recent half of that many trials:
    the surrogate keeps what matters for proposing improvements at a bounded cost per step.
    ``max_history=None`` keeps every trial (plain TPE).
    """

    name = "bayesian"

    def __init__(self, nvec: np.ndarray, seed: int = 0, startup_trials: int = 20, max_history: int | None = 400):
        super().__init__(nvec, seed)
        if max_history is not None and max_history < 2 * startup_trials:
            raise ValueError(f"max_history={max_history}; expected None or at least 2 * startup_trials = {2 * startup_trials}")
        self._optuna = self._start_optuna()
        self._seed, self._startup, self.max_history = seed, startup_trials, max_history
        self._rebuilds = 0
        self.study = self._new_study()

    def _new_study(self):
        sampler = self._optuna.samplers.TPESampler(seed=self._seed + 7919 * self._rebuilds, multivariate=True, n_startup_trials=self._startup)
        return self._optuna.create_study(direction="minimize", sampler=sampler)

    def _trim_history(self) -> None:
        trials = self.study.get_trials(deepcopy=False, states=(self._optuna.trial.TrialState.COMPLETE,))
        if self.max_history is None or len(trials) <= self.max_history:
            return
        half = self.max_history // 2
        best = sorted(trials, key=lambda t: t.value)[:half]
        keep = {t.number for t in best}
        recent = [t for t in trials[::-1] if t.number not in keep][:half]
        self._rebuilds += 1
        self.study = self._new_study()
        self.study.add_trials(best + recent)

    def _before_ask(self) -> None:
        self._trim_history()


#: Search methods by name, for experiment configs and the CLI.
SEARCH_METHODS: dict[str, type[SearchMethod]] = {
    cls.name: cls for cls in (RandomSearch, GeneticAlgorithm, SimulatedAnnealing, BayesianOptimization)
}
from codesign_gym.agents.search.evolution import CMAES, RegularizedEvolution  # noqa: E402  (evolution imports only .base)

SEARCH_METHODS.update({cls.name: cls for cls in (RegularizedEvolution, CMAES)})


def make_search_method(name: str, nvec: np.ndarray, seed: int = 0, **options) -> SearchMethod:
    """Instantiate a search method by name (see :data:`SEARCH_METHODS`)."""
    if name not in SEARCH_METHODS:
        raise ValueError(f"search method {name!r} is not known; expected one of {sorted(SEARCH_METHODS)}")
    return SEARCH_METHODS[name](nvec, seed=seed, **options)
