"""Search baselines on a small synthetic knapsack whose optimum is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from codesign_gym.agents.method import BestSoFar
from codesign_gym.agents.registry import make_method
from codesign_gym.agents.search import (
    SEARCH_METHODS,
    GeneticAlgorithm,
    RandomSearch,
    Search,
    make_search_method,
    run_search,
)
from codesign_gym.envs.knapsack import solve_multiple_choice_knapsack
from codesign_gym.envs.problem import DesignSpace, Evaluation, Objective, Problem


class ToyKnapsack(Problem):
    """L layers x A actions; cost falls and weight rises with the action index (like PEs)."""

    def __init__(self, layers=8, actions=6, seed=0):
        rng = np.random.default_rng(seed)
        base = rng.uniform(1, 10, (layers, 1))
        self.cost = base * np.exp(-0.4 * np.arange(actions)) * rng.uniform(0.9, 1.1, (layers, actions))
        self.weight = rng.uniform(0.5, 1.5, (layers, 1)) * (1 + np.arange(actions)) * rng.uniform(0.9, 1.1, (layers, actions))
        self.budget = 0.5 * (self.weight.min(1).sum() + self.weight.max(1).sum())
        self.space = DesignSpace([f"a{i}" for i in range(layers)], np.full(layers, actions))
        self.objective = Objective("cost", "1")
        self._options = {"layers": layers, "actions": actions, "seed": seed}
        self.optimum_value = solve_multiple_choice_knapsack(self.cost, self.weight, self.budget).objective

    def evaluate(self, designs):
        designs = self.space.check(designs)
        rows = np.arange(designs.shape[1])
        obj = self.cost[rows, designs].sum(1)
        w = self.weight[rows, designs].sum(1)
        feasible = w <= self.budget
        overshoot = np.maximum(w - self.budget, 0) / self.budget
        fitness = np.where(feasible, obj, self.cost.max(1).sum() * (1 + overshoot))
        return Evaluation(fitness / self.cost.min(1).sum(), obj, feasible, overshoot, {"weight": w}, {"weight": "1"})

    def to_config(self, design):
        return {"action": np.asarray(design).tolist()}


def _bests(trace) -> np.ndarray:
    return np.array([p.best_objective if p.feasible else np.nan for p in trace.points])


@pytest.mark.parametrize("name", sorted(SEARCH_METHODS))
def test_every_method_finds_a_feasible_design_and_counts_evaluations(name):
    toy = ToyKnapsack()
    trace = Search(name, batch_size=20).run(toy, budget=300, seed=0)
    assert trace.evals == 300 and len(trace.points) == 15 and trace.method == name
    assert trace.last.feasible and trace.best_objective >= toy.optimum_value - 1e-9
    # best-so-far never gets worse; the best design is what the problem scores
    best = _bests(trace)
    finite = best[np.isfinite(best)]
    assert np.all(np.diff(finite) <= 1e-12)
    assert toy.evaluate(trace.last.best_design[None, :]).objective[0] == trace.best_objective


@pytest.mark.parametrize("name", ["genetic", "annealing", "bayesian"])
def test_guided_methods_beat_random_search(name):
    gaps = {}
    for method_name in ("random", name):
        vals = []
        for seed in range(3):
            toy = ToyKnapsack(seed=seed)
            trace = make_method(method_name, batch_size=30).run(toy, budget=300, seed=seed)
            vals.append(trace.best_objective / toy.optimum_value - 1)
        gaps[method_name] = np.mean(vals)
    assert gaps[name] < gaps["random"]


def test_same_seed_same_search():
    toy = ToyKnapsack()
    a = run_search(GeneticAlgorithm(toy.design_nvec, seed=4), toy, 200, 16, BestSoFar("genetic"))
    b = Search("genetic", batch_size=16).run(toy, 200, seed=4)
    assert a.best_objective == b.best_objective and np.array_equal(a.last.best_design, b.last.best_design)


def test_progress_is_reported_per_batch_and_a_later_stage_continues_the_count():
    toy = ToyKnapsack()
    seen = []
    first = Search("random", batch_size=50).run(toy, 100, seed=0, on_progress=lambda t: seen.append(t.last.evals))
    assert seen == [50, 100]
    best = BestSoFar("staged", offset_evals=first.evals)
    best.seed_best(first.last.best_design, first.last.best_fitness, first.best_objective, first.last.feasible)
    second = Search("genetic", batch_size=25, seed_design=first.last.best_design).run(toy, 50, seed=1, best=best)
    assert second.evals == 150 and second.best_objective <= first.best_objective


def test_seeded_genetic_algorithm_starts_from_the_seed_design():
    toy = ToyKnapsack()
    seed_design = np.zeros(toy.design_nvec.size, dtype=np.int64)
    ga = GeneticAlgorithm(toy.design_nvec, seed=0, seed_design=seed_design)
    first = ga.ask(5)
    np.testing.assert_array_equal(first[0], seed_design)
    with pytest.raises(ValueError, match="seed_design"):
        GeneticAlgorithm(toy.design_nvec, seed_design=np.full(toy.design_nvec.size, 99))


def test_unknown_method_and_bad_budget_are_rejected():
    with pytest.raises(ValueError, match="'hillclimb'"):
        make_search_method("hillclimb", np.array([2, 2]))
    with pytest.raises(ValueError, match="'hillclimb'"):
        Search("hillclimb")
    with pytest.raises(ValueError, match="budget 0"):
        run_search(RandomSearch(np.array([2, 2])), ToyKnapsack(layers=2, actions=2), 0, None, BestSoFar("random"))
    with pytest.raises(ValueError, match="batch_size=0"):
        Search("random", batch_size=0)


def test_bayesian_optimisation_bounds_its_history():
    from codesign_gym.agents.search import BayesianOptimization

    toy = ToyKnapsack()
    bo = BayesianOptimization(toy.design_nvec, seed=0, startup_trials=10, max_history=40)
    trace = run_search(bo, toy, 120, 10, BestSoFar("bayesian"))
    assert bo._rebuilds >= 2 and len(bo.study.trials) <= 40 + 10
    assert trace.last.feasible
    with pytest.raises(ValueError, match="max_history=5"):
        BayesianOptimization(toy.design_nvec, max_history=5)


def test_annealing_first_batch_is_diverse():
    from codesign_gym.agents.search import SimulatedAnnealing

    sa = SimulatedAnnealing(np.full(10, 12), seed=0, chains=1)
    first = sa.ask(32)
    assert len({tuple(d) for d in first}) > 1
