"""HADAS's nested NSGA-II (optuna) as a Method on the EarlyExitDVFS problem: budget, seeding,
the designs it searched before the one-contract refactor, its trace and what it refuses."""

from __future__ import annotations

import numpy as np
import pytest

from codesign_gym.agents.hadas import NestedNSGA2Method
from codesign_gym.agents.registry import make_method
from codesign_gym.envs.early_exit_dvfs import EarlyExitDVFSProblem
from codesign_gym.envs.problem import DesignSpace, Evaluation, Objective, Problem
from codesign_gym.experiments.runner.recorder import ArchivingProblem


@pytest.fixture(scope="module")
def problem() -> EarlyExitDVFSProblem:
    return EarlyExitDVFSProblem()


def _run(problem, budget: int, seed: int, **options):
    """(trace, every evaluated design (budget, D), the traces seen by on_progress)."""
    archive, seen = ArchivingProblem(problem), []
    trace = NestedNSGA2Method(**options).run(archive, budget, seed, on_progress=lambda t: seen.append(t.last))
    return trace, np.concatenate([d for d, _ in archive.batches]), seen


def test_spends_exactly_the_budget_is_seeded_and_searches_as_before(problem):
    small = dict(outer_population=4, inner_population=5, inner_generations=2)
    trace, designs, seen = _run(problem, 37, 3, **small)
    _, again, _ = _run(problem, 37, 3, **small)
    assert trace.evals == 37 and designs.shape == (37, problem.space.size)
    np.testing.assert_array_equal(designs, again)
    # the designs the nested NSGA-II searched before the refactor (same seed and sizes)
    assert designs[:, 0].tolist() == [3] * 10 + [4] * 10 + [1] * 10 + [3] * 7
    assert int(designs.sum()) == 1481 and int((designs * np.arange(1, designs.shape[1] + 1)).sum()) == 24683
    # one trace point per inner generation (a batch of inner_population designs, the last cut to the budget)
    assert [p.evals for p in seen] == [5, 10, 15, 20, 25, 30, 35, 37] and seen[-1] == trace.last


def test_trace_holds_the_best_fitness_so_far(problem):
    trace, designs, _ = _run(problem, 60, 0, outer_population=4, inner_population=5)
    fitness = problem.evaluate(designs).fitness
    best = [p.best_fitness for p in trace.points]
    assert best == sorted(best, reverse=True) and trace.last.best_fitness == pytest.approx(fitness.min())
    assert trace.last.feasible and trace.best_objective == trace.last.best_fitness
    assert problem.evaluate(trace.last.best_design[None, :]).fitness[0] == pytest.approx(fitness.min())


def test_improves_on_its_first_generation(problem):
    _, designs, _ = _run(problem, 200, 0, outer_population=4, inner_population=10, inner_generations=4)
    m = problem.evaluate(designs).metrics
    energy, acc = m["energy_mj"], m["accuracy"]
    assert (acc[:10] >= 85).any()
    assert energy[acc >= 85].min() < energy[:10][acc[:10] >= 85].min()  # lower energy at >= 85% top-1 than generation 1


class _OtherProblem(Problem):
    def __init__(self):
        self.space, self.objective = DesignSpace(("x",), np.array([3])), Objective("x", "1")

    def evaluate(self, designs):
        d = self.space.check(designs).astype(float)[:, 0]
        return Evaluation(d, d, np.ones(d.size, bool), np.zeros(d.size))

    def to_config(self, design):
        return {"x": int(design[0])}


def test_refuses_other_problems_bad_sizes_and_budgets(problem):
    method = NestedNSGA2Method()
    assert method.supports(problem) is None and method.supports(ArchivingProblem(problem)) is None
    assert "EarlyExitDVFSProblem" in method.supports(_OtherProblem())
    with pytest.raises(ValueError, match="EarlyExitDVFSProblem"):
        method.run(_OtherProblem(), 10, 0)
    with pytest.raises(ValueError, match="budget 0"):
        method.run(problem, 0, 0)
    for options, match in ((dict(inner_population=1), "inner_population=1"), (dict(outer_population=2.5), "outer_population=2.5"),
                           (dict(inner_generations=0), "inner_generations=0")):
        with pytest.raises(ValueError, match=match):
            NestedNSGA2Method(**options)


def test_registry_builds_it_with_only_its_options(problem):
    method = make_method("hadas", outer_population=4, inner_population=5, batch_size=64, episode_length=1)
    assert isinstance(method, NestedNSGA2Method) and method.name == "hadas" and method.outer_population == 4
    assert make_method("random", batch_size=64, outer_population=4).run(problem, 20, 0).evals == 20
