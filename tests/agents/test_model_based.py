"""Model-based RL on the resource-assignment env: explore, learn the per-layer tables, plan."""

from __future__ import annotations

import numpy as np
import pytest

from codesign_gym.agents.model_based import ModelBased
from codesign_gym.agents.registry import make_method
from codesign_gym.envs.resource_assignment import ResourceAssignmentProblem
from codesign_gym.experiments.runner.recorder import ArchivingProblem


def _problem(objective="latency", constraint="area:0.5") -> ResourceAssignmentProblem:
    return ResourceAssignmentProblem(workload="cfx/mobilenet_v2", dataflow="dla", objective=objective, constraint=constraint)


@pytest.mark.parametrize("objective,constraint", [("latency", "area:0.5"), ("energy", "power:0.3")])
def test_reaches_the_exact_optimum_well_within_confuciux_budget(objective, constraint):
    problem = _problem(objective, constraint)
    trace = ModelBased(num_envs=32).run(problem, budget=3673, seed=1)
    assert trace.evals <= 3673
    assert trace.extras["observed_fraction"] == 1.0
    assert trace.best_objective == pytest.approx(problem.optimum().objective, rel=1e-12)
    # The result is the problem's own evaluation of the planned design, and it is feasible.
    ev = problem.evaluate(trace.last.best_design[None, :])
    assert ev.feasible[0] and ev.objective[0] == trace.best_objective


def test_seeded_figures_of_the_confuciux_experiment():
    """The model_based rows of ``run confuciux --budget 200 --seeds 2`` (64 sub-envs)."""
    problem = _problem()
    for seed, best in ((0, 20_515_537.0), (1, 20_518_801.0)):
        trace = make_method("model_based").run(problem, budget=200, seed=seed)
        assert (trace.evals, trace.best_objective) == (193, best)


def test_a_small_budget_is_respected_and_the_plan_uses_only_observed_actions():
    problem = _problem()
    seen = []
    trace = ModelBased(num_envs=8).run(problem, budget=20, seed=0, on_progress=lambda t: seen.append(t.last.evals))
    assert trace.evals <= 20 and seen[-1] == trace.evals
    assert 0 < trace.extras["observed_fraction"] < 1
    assert np.all(np.diff([p.evals for p in trace.points]) >= 0)
    best = trace.best_objective
    assert np.isnan(best) or best >= problem.optimum().objective


def test_every_evaluation_goes_through_the_problem_it_is_given():
    archive = ArchivingProblem(_problem())
    trace = ModelBased().run(archive, budget=10, seed=0)  # fewer evaluations than sub-envs: 9 explore, 1 plan
    recorded = sum(len(ev) for _, ev in archive.batches)
    assert trace.evals == recorded == 10


def test_refuses_a_non_separable_objective_other_problems_and_tiny_budgets():
    edp = _problem("edp")
    assert "separable objective" in ModelBased().supports(edp)
    with pytest.raises(ValueError, match="separable objective"):
        ModelBased().run(edp, budget=100, seed=0)
    with pytest.raises(ValueError, match="budget=1"):
        ModelBased().run(_problem(), budget=1, seed=0)
    with pytest.raises(ValueError, match="num_envs=0"):
        ModelBased(num_envs=0)
