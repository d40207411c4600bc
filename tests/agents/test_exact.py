"""The multiple-choice knapsack solver against brute force on small random instances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign_gym.agents.exact import pareto_front, solve_multiple_choice_knapsack


def brute_force(cost, weight, budget):
    best = np.inf
    for combo in itertools.product(range(cost.shape[1]), repeat=cost.shape[0]):
        idx = (np.arange(cost.shape[0]), np.array(combo))
        if weight[idx].sum() <= budget:
            best = min(best, cost[idx].sum())
    return best


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 5), st.integers(0, 10_000), st.floats(0.0, 1.0))
def test_matches_brute_force(layers, actions, seed, ratio):
    rng = np.random.default_rng(seed)
    cost = rng.integers(1, 100, (layers, actions)).astype(float)
    weight = rng.integers(1, 50, (layers, actions)).astype(float)
    lo, hi = weight.min(axis=1).sum(), weight.max(axis=1).sum()
    budget = lo + ratio * (hi - lo)
    sol = solve_multiple_choice_knapsack(cost, weight, budget)
    assert sol.objective == pytest.approx(brute_force(cost, weight, budget))
    assert sol.weight <= budget + 1e-9


def test_pareto_front_drops_dominated_actions():
    cost = np.array([5.0, 3.0, 4.0, 1.0])
    weight = np.array([1.0, 2.0, 3.0, 4.0])
    assert sorted(pareto_front(cost, weight).tolist()) == [0, 1, 3]


def test_infeasible_budget_is_reported():
    with pytest.raises(ValueError, match="no assignment fits"):
        solve_multiple_choice_knapsack(np.ones((2, 2)), np.full((2, 2), 3.0), budget=5.0)
