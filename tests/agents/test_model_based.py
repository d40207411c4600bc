"""Model-based RL on the resource-assignment env: explore, learn the per-layer tables, plan."""

from __future__ import annotations

import numpy as np
import pytest

from codesign_gym.agents.model_based import run_model_based
from codesign_gym.envs.resource_assignment import ResourceAssignmentProblem, ResourceAssignmentVectorEnv
from codesign_gym.experiments.confuciux import exact_optimum


@pytest.mark.parametrize("objective,constraint", [("latency", "area:0.5"), ("energy", "power:0.3")])
def test_reaches_the_exact_optimum_well_within_confuciux_budget(objective, constraint):
    problem = ResourceAssignmentProblem(workload="cfx/mobilenet_v2", dataflow="dla", objective=objective, constraint=constraint)
    optimum, _ = exact_optimum(problem)
    trace = run_model_based(ResourceAssignmentVectorEnv(num_envs=32, problem=problem), budget=3673, seed=1)
    assert trace.evals[-1] <= 3673
    assert trace.observed_fraction == 1.0
    assert trace.best_objective[-1] == pytest.approx(optimum, rel=1e-12)
    # The result is the env's own score of the planned design, and it is feasible.
    assert problem.score(trace.best_design[None, :]).feasible[0]


def test_a_small_budget_is_respected_and_the_plan_uses_only_observed_actions():
    problem = ResourceAssignmentProblem(workload="cfx/mobilenet_v2", dataflow="dla", objective="latency", constraint="area:0.5")
    optimum, _ = exact_optimum(problem)
    trace = run_model_based(ResourceAssignmentVectorEnv(num_envs=8, problem=problem), budget=20, seed=0)
    assert trace.evals[-1] <= 20
    assert 0 < trace.observed_fraction < 1
    assert np.all(np.diff(trace.evals) >= 0)
    best = trace.best_objective[-1]
    assert np.isnan(best) or best >= optimum


def test_refuses_a_non_separable_objective_and_tiny_budgets():
    edp = ResourceAssignmentProblem(workload="cfx/mobilenet_v2", dataflow="dla", objective="edp", constraint="area:0.5")
    with pytest.raises(ValueError, match="separable objective"):
        run_model_based(ResourceAssignmentVectorEnv(num_envs=2, problem=edp), budget=100)
    latency = ResourceAssignmentProblem(workload="cfx/mobilenet_v2", dataflow="dla", objective="latency", constraint="area:0.5")
    with pytest.raises(ValueError, match="budget=1"):
        run_model_based(ResourceAssignmentVectorEnv(num_envs=2, problem=latency), budget=1)
