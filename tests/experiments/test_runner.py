"""The one runner's pieces on a toy problem: checkpoint rule, row schema, archives, resume,
generated command-line flags."""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import pytest

from codesign_gym.agents.method import BestSoFar, Method
from codesign_gym.agents.search.base import Search
from codesign_gym.envs.problem import DesignSpace, Evaluation, KnownPoint, Objective, Problem
from codesign_gym.experiments.runner.options import add_dataclass_flags, dataclass_from_args
from codesign_gym.experiments.runner.recorder import CheckpointRule, Recorder, archive_path, gap_to_optimum, read_archive
from codesign_gym.experiments.runner.results import RESULT_COLUMNS, read_results
from codesign_gym.experiments.runner.spec import METHOD, option


class Sum(Problem):
    """Minimise the sum of 3 choices in 0..4 subject to choice 0 >= 1 (optimum 1)."""

    env_id = "none"

    def __init__(self):
        self._options = {"kind": "sum"}
        self.space = DesignSpace(("a", "b", "c"), np.array([5, 5, 5]))
        self.objective = Objective("sum", "1", "min")

    def evaluate(self, designs):
        d = self.space.check(designs)
        total = d.sum(axis=1).astype(float)
        feasible = d[:, 0] >= 1
        over = np.where(feasible, 0.0, 1.0)
        return Evaluation(np.where(feasible, total, 100.0 + over), total, feasible, over, {"first": d[:, 0]}, {"first": "index"})

    def to_config(self, design):
        return {"values": [int(v) for v in design]}

    def optimum(self):
        return KnownPoint(1.0, np.array([1, 0, 0]), "by hand")

    def reference(self):
        return KnownPoint(6.0, np.array([2, 2, 2]), "middle")


def test_checkpoint_rule_keeps_improvements_and_one_row_per_percent():
    rule = CheckpointRule(1000)
    assert rule.wants(1, float("nan")) is False
    assert rule.wants(2, 5.0) is True          # first feasible value
    assert rule.wants(3, 5.0) is False         # no change, not due
    assert rule.wants(10, 5.0) is True         # 1% of the budget
    assert rule.wants(11, 4.0) is True         # improvement


def test_gap_follows_the_direction():
    opt = KnownPoint(10.0)
    assert gap_to_optimum(11.0, opt, "min") == pytest.approx(0.1)
    assert gap_to_optimum(9.0, opt, "max") == pytest.approx(0.1)
    assert np.isnan(gap_to_optimum(float("nan"), opt, "min"))


def test_recorder_writes_the_schema_archive_and_resumes(tmp_path):
    problem = Sum()
    with Recorder(tmp_path, "toy", {"experiment": "toy"}, archive=True, progress=lambda _l: None) as rec:
        trace = rec.run(problem, Search("random", batch_size=4), seed=0, budget=40)
        with pytest.raises(ValueError, match=r"in use by another run: pid \d+ on host"):  # locked while open
            Recorder(tmp_path, "toy", {"experiment": "toy"}, progress=lambda _l: None)
    assert not (tmp_path / "run.lock").exists()
    rows = read_results(tmp_path)
    assert list(rows[0]) == list(RESULT_COLUMNS)
    final = [r for r in rows if r["final"] == 1]
    assert len(final) == 1 and final[0]["evals"] == 40 and final[0]["best_objective"] == trace.best_objective
    assert final[0]["gap_to_opt"] == pytest.approx(trace.best_objective / 1.0 - 1.0)
    assert final[0]["ratio_to_ref"] == pytest.approx(trace.best_objective / 6.0)
    assert final[0]["best_config"] == {"values": final[0]["best_design"]}
    archive = read_archive(archive_path(tmp_path, problem.label, "random", 0))
    assert archive["design"].shape == (40, 3) and archive["first"].shape == (40,)
    np.testing.assert_array_equal(archive["fitness"], problem.evaluate(archive["design"]).fitness)
    # a resumed recorder knows the run is done
    with Recorder(tmp_path, "toy", {"experiment": "toy"}, progress=lambda _l: None) as again:
        assert again.pending(problem, "random", [0, 1]) == [1]
    with pytest.raises(ValueError, match="other settings"):
        Recorder(tmp_path, "toy", {"experiment": "other"}, progress=lambda _l: None)


def test_best_so_far_keeps_the_lowest_fitness_and_its_objective_once_feasible():
    problem = Sum()
    best = BestSoFar("m")
    best.observe(np.array([[0, 0, 0]]), problem.evaluate(np.array([[0, 0, 0]])))
    assert best.trace.last.feasible is False and np.isnan(best.trace.last.best_objective)
    best.observe(np.array([[1, 4, 4], [2, 0, 0]]), problem.evaluate(np.array([[1, 4, 4], [2, 0, 0]])))
    assert best.trace.last.best_objective == 2.0 and best.trace.last.evals == 3
    assert best.trace.last.best_design.tolist() == [2, 0, 0]


class Broken(Method):
    name = "broken"

    def run(self, problem, budget, seed, on_progress=None):
        from codesign_gym.agents.method import Trace

        return Trace(self.name)


def test_an_empty_trace_is_an_error(tmp_path):
    with Recorder(tmp_path, "toy", {"experiment": "toy"}, progress=lambda _l: None) as rec:
        with pytest.raises(RuntimeError, match="empty trace"):
            rec.run(Sum(), Broken(), seed=0, budget=5)


@dataclasses.dataclass(frozen=True)
class Toy:
    model: str = option("m", "model")
    ratio: float | None = option(None, "a ratio")
    names: tuple[str, ...] = option(("a", "b"), "names")
    batch_size: int | None = option(None, "batch", role=METHOD)
    mode: str = option("x", "mode", choices=("x", "y"))


def test_flags_come_from_the_options_dataclass():
    parser = argparse.ArgumentParser()
    add_dataclass_flags(parser, Toy)
    assert dataclass_from_args(Toy, parser.parse_args([])) == Toy()
    got = dataclass_from_args(Toy, parser.parse_args(["--model", "n", "--ratio", "0.5", "--names", "c", "d", "--batch-size", "3", "--mode", "y"]))
    assert got == Toy(model="n", ratio=0.5, names=("c", "d"), batch_size=3, mode="y")
    assert dataclass_from_args(Toy, parser.parse_args(["--ratio", "none"])).ratio is None
    with pytest.raises(SystemExit):
        parser.parse_args(["--mode", "z"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--batch-size", "x"])
