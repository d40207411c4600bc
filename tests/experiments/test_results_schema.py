"""Every registered experiment writes the one row schema with the same meaning per column, so
``results.csv`` files of any two experiments concatenate."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from codesign_gym.experiments.registry import EXPERIMENT_NAMES, get_experiment
from codesign_gym.experiments.runner.results import RESULT_COLUMNS, read_results
from codesign_gym.experiments.runner.run import run_experiment
from codesign_gym.experiments.runner.spec import ExperimentSpec

#: A small, fast problem of each experiment (options beyond the defaults).
SMALL = {"zeus": {"workloads": ("cifar100",)}, "naas": {"searches": ("network", "nested"), "samples": 32, "rounds": 0}}


def _run(name: str, out: Path) -> tuple[Path, list]:
    exp = get_experiment(name)
    options = exp.options(**SMALL.get(name, {}))
    problems = [p for p, _ in exp.problems(options)]
    spec = ExperimentSpec(experiment=name, options=options, methods=("random",), budget=8, seeds=(0,), output_dir=out, report=False)
    run_experiment(spec, progress=lambda _line: None)
    return out, problems


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, list]]:
    return {name: _run(name, tmp_path_factory.mktemp(name)) for name in EXPERIMENT_NAMES}


@pytest.mark.parametrize("name", EXPERIMENT_NAMES)
def test_results_have_the_one_schema_and_the_problems_meaning(runs, name):
    out, problems = runs[name]
    with (out / "results.csv").open(newline="") as fh:
        assert tuple(csv.reader(fh).__next__()) == RESULT_COLUMNS
    rows = read_results(out)
    by_label = {p.label: p for p in problems}
    finals = [r for r in rows if r["final"] == 1]
    assert {r["problem"] for r in finals} == set(by_label)
    for r in rows:
        problem = by_label[r["problem"]]
        assert r["experiment"] == name and r["method"] == "random" and r["seed"] == 0
        assert (r["objective_name"], r["objective_unit"], r["direction"]) == (problem.objective.name, problem.objective.unit, problem.objective.direction)
        assert 0 < r["evals"] <= 8
        assert r["feasible"] == (r["best_objective"] is not None)
        assert len(r["best_design"]) == problem.space.size
    for r in finals:
        assert r["evals"] == 8
        ev = by_label[r["problem"]].evaluate([r["best_design"]])
        assert ev.fitness[0] == pytest.approx(r["best_fitness"], rel=1e-12)
        if r["feasible"]:
            assert ev.objective[0] == pytest.approx(r["best_objective"], rel=1e-12)
        assert isinstance(r["best_config"], dict)


def test_results_of_two_experiments_concatenate(runs, tmp_path):
    names = list(EXPERIMENT_NAMES)[:2]
    merged = tmp_path / "results.csv"
    lines = []
    for i, name in enumerate(names):
        text = (runs[name][0] / "results.csv").read_text().splitlines()
        lines += text if i == 0 else text[1:]
    merged.write_text("\n".join(lines) + "\n")
    rows = read_results(tmp_path)
    assert {r["experiment"] for r in rows} == set(names)
    assert all(json.dumps(r["best_design"]) for r in rows)
