"""The multiple-choice knapsack solver (envs/knapsack.py) against brute force and a MILP, and
``exact``, the Method that reports a problem's optimum."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign_gym.agents.exact import ExactMethod
from codesign_gym.agents.registry import make_method
from codesign_gym.envs.knapsack import pareto_front, solve_multiple_choice_knapsack
from codesign_gym.envs.resource_assignment import ResourceAssignmentProblem


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


@pytest.fixture(scope="module")
def mobilenet() -> ResourceAssignmentProblem:
    return ResourceAssignmentProblem(workload="cfx/mobilenet_v2", dataflow="dla", objective="latency", constraint="area:0.5")


def test_matches_an_independent_milp_on_confuciux_mobilenet_v2(mobilenet):
    """The DP against scipy's HiGHS MILP (which proves optimality quickly on this instance)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    p = mobilenet
    L, A = p.latency.shape
    onehot = np.kron(np.eye(L), np.ones((1, A)))
    res = milp(
        p.latency.ravel() / p.latency.max(),
        constraints=[LinearConstraint(onehot, 1, 1), LinearConstraint(p.constraint_cost.ravel()[None, :], -np.inf, p.budget.value)],
        integrality=np.ones(L * A), bounds=Bounds(0, 1), options={"mip_rel_gap": 0.0},
    )
    milp_objective = float(p.latency.ravel()[res.x > 0.5].sum())
    sol = solve_multiple_choice_knapsack(p.latency, p.constraint_cost, p.budget.value)
    assert sol.objective == pytest.approx(milp_objective, rel=1e-12)
    assert sol.weight <= p.budget.value
    # the figure the ConfuciuX experiment reports as its optimum
    assert sol.objective == 20_513_969.0 and p.optimum().objective == sol.objective


def test_exact_method_is_a_one_point_trace_at_the_optimum(mobilenet):
    method = make_method("exact")
    assert isinstance(method, ExactMethod) and method.supports(mobilenet) is None
    calls = []
    trace = method.run(mobilenet, budget=10, seed=3, on_progress=calls.append)
    optimum = mobilenet.optimum()
    assert len(trace.points) == 1 and not calls
    point = trace.last
    assert point.evals == 0 and point.feasible and point.best_objective == optimum.objective
    np.testing.assert_array_equal(point.best_design, optimum.design)
    assert point.best_fitness == pytest.approx(optimum.objective / mobilenet.objective_norm)


def test_exact_method_refuses_a_problem_without_a_known_optimum():
    edp = ResourceAssignmentProblem(workload="cfx/alexnet", dataflow="dla", objective="edp")
    assert edp.optimum() is None
    assert "no known exact optimum" in ExactMethod().supports(edp)
    with pytest.raises(ValueError, match="no known exact optimum"):
        ExactMethod().run(edp, budget=1, seed=0)
