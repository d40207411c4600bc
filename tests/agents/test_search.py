"""Search baselines on a small synthetic knapsack whose optimum is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from codesign_gym.agents.exact import solve_multiple_choice_knapsack
from codesign_gym.agents.search import (
    SEARCH_METHODS,
    GeneticAlgorithm,
    RandomSearch,
    make_search_method,
    run_search,
)
from codesign_gym.envs.design_space import Evaluation


class ToyKnapsack:
    """L layers x A actions; cost falls and weight rises with the action index (like PEs)."""

    def __init__(self, layers=8, actions=6, seed=0):
        rng = np.random.default_rng(seed)
        base = rng.uniform(1, 10, (layers, 1))
        self.cost = base * np.exp(-0.4 * np.arange(actions)) * rng.uniform(0.9, 1.1, (layers, actions))
        self.weight = rng.uniform(0.5, 1.5, (layers, 1)) * (1 + np.arange(actions)) * rng.uniform(0.9, 1.1, (layers, actions))
        self.budget = 0.5 * (self.weight.min(1).sum() + self.weight.max(1).sum())
        self.design_nvec = np.full(layers, actions)
        self.optimum = solve_multiple_choice_knapsack(self.cost, self.weight, self.budget).objective

    def score(self, designs):
        rows = np.arange(designs.shape[1])
        obj = self.cost[rows, designs].sum(1)
        w = self.weight[rows, designs].sum(1)
        feasible = w <= self.budget
        worst = self.cost.max(1).sum()
        fitness = np.where(feasible, obj, worst * (1 + (w - self.budget) / self.budget))
        return Evaluation(fitness=fitness / self.cost.min(1).sum(), objective=obj, feasible=feasible)


@pytest.mark.parametrize("name", sorted(SEARCH_METHODS))
def test_every_method_finds_a_feasible_design_and_counts_evaluations(name):
    toy = ToyKnapsack()
    method = make_search_method(name, toy.design_nvec, seed=0)
    trace = run_search(method, toy, budget=300, batch_size=20)
    assert trace.evals[-1] == 300 and len(trace.evals) == 15
    assert np.isfinite(trace.best_objective[-1])
    assert trace.best_objective[-1] >= toy.optimum - 1e-9
    # best-so-far never gets worse
    best = np.array(trace.best_objective)
    finite = best[np.isfinite(best)]
    assert np.all(np.diff(finite) <= 1e-12)


@pytest.mark.parametrize("name", ["genetic", "annealing", "bayesian"])
def test_guided_methods_beat_random_search(name):
    gaps = {}
    for method_name in ("random", name):
        vals = []
        for seed in range(3):
            toy = ToyKnapsack(seed=seed)
            trace = run_search(make_search_method(method_name, toy.design_nvec, seed=seed), toy, budget=600, batch_size=30)
            vals.append(trace.best_objective[-1] / toy.optimum - 1)
        gaps[method_name] = np.mean(vals)
    assert gaps[name] < gaps["random"]


def test_same_seed_same_search():
    toy = ToyKnapsack()
    a = run_search(GeneticAlgorithm(toy.design_nvec, seed=4), toy, budget=200, batch_size=16)
    b = run_search(GeneticAlgorithm(toy.design_nvec, seed=4), toy, budget=200, batch_size=16)
    assert a.best_objective == b.best_objective and np.array_equal(a.best_design, b.best_design)


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
    with pytest.raises(ValueError, match="budget=0"):
        run_search(RandomSearch(np.array([2, 2])), ToyKnapsack(), budget=0)


def test_bayesian_optimisation_bounds_its_history():
    from codesign_gym.agents.search import BayesianOptimization

    toy = ToyKnapsack()
    bo = BayesianOptimization(toy.design_nvec, seed=0, startup_trials=10, max_history=40)
    trace = run_search(bo, toy, budget=120, batch_size=10)
    assert bo._rebuilds >= 2 and len(bo.study.trials) <= 40 + 10
    assert np.isfinite(trace.best_objective[-1])
    with pytest.raises(ValueError, match="max_history=5"):
        BayesianOptimization(toy.design_nvec, max_history=5)


def test_annealing_first_batch_is_diverse():
    from codesign_gym.agents.search import SimulatedAnnealing

    sa = SimulatedAnnealing(np.full(10, 12), seed=0, chains=1)
    first = sa.ask(32)
    assert len({tuple(d) for d in first}) > 1
