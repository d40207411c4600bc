"""The ConfuciuX experiment on the one runner: its definition and generated flags, a seeded run of
the search baselines and model-based RL (the numbers the old experiment gave), the exact row,
resume, and bad options (RL runs in tests/agents)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from codesign_gym.experiments.confuciux import EXPERIMENT, ConfuciuxOptions
from codesign_gym.experiments.runner.results import RESULT_COLUMNS, read_results
from codesign_gym.experiments.runner.run import run_experiment
from codesign_gym.experiments.runner.spec import ExperimentSpec

ALEXNET = ConfuciuxOptions(model="cfx/alexnet", batch_size=16)
PROBLEM = "cfx/alexnet|dla|latency|area:0.5"
OPTIMUM = 361085653.0  # cycles, the multiple-choice knapsack optimum
#: final best cycles of the seeded runs at budget 96 (batch 16), as the pre-runner experiment gave them
SEEDED = {("random", 0): 367428833.0, ("random", 1): 366031441.0, ("genetic", 0): 362366556.0, ("genetic", 1): 364143999.0,
          ("annealing", 0): 365054297.0, ("annealing", 1): 364118607.0, ("model_based", 0): 361129685.0,
          ("model_based", 1): 361125701.0}
METHODS = ("exact", "random", "genetic", "annealing", "model_based")


def _spec(tmp_path, methods=METHODS, seeds=(0, 1), budget=96, options=ALEXNET, report=False) -> ExperimentSpec:
    return ExperimentSpec("confuciux", options, methods, budget, seeds, tmp_path, report=report)


def _finals(path) -> dict:
    return {(r["method"], r["seed"]): r for r in read_results(path) if r["final"] == 1}


def test_experiment_definition_builds_the_problem_and_rl_settings():
    assert EXPERIMENT.default_methods == ("exact", "random", "genetic", "annealing", "bayesian", "model_based", "reinforce", "rl_ga")
    assert (EXPERIMENT.default_budget, EXPERIMENT.default_seeds) == (600, 3)
    [(problem, methods)] = EXPERIMENT.problems(ConfuciuxOptions(model="cfx/alexnet", dataflow="shi", objective="energy",
                                                                constraint="power:0.3"))
    assert methods is None and problem.label == "cfx/alexnet|shi|energy|power:0.3"
    assert problem.options == {"workload": "cfx/alexnet", "dataflow": "shi", "objective": "energy", "constraint": "power:0.3"}
    assert EXPERIMENT.options_for_methods(ConfuciuxOptions(), problem) == {"module": "lstm", "episode_length": 5}


def _parse(argv: list[str]) -> ExperimentSpec:
    """``codesign-gym run confuciux ARGV`` as the command line parses it."""
    from codesign_gym.experiments.cli import build_parser
    from codesign_gym.experiments.runner.commands import spec_from_args

    return spec_from_args(build_parser().parse_args(["run", "confuciux", *argv]))


def test_generated_flags_keep_the_old_names(tmp_path):
    spec = _parse(["--model", "cfx/resnet50", "--dataflow", "shi", "--objective", "edp", "--constraint", "power:0.4",
                   "--batch-size", "8", "--budget", "3673", "--seeds", "2", "--methods", "random", "model_based",
                   "--output-dir", str(tmp_path)])
    assert spec.options == ConfuciuxOptions(model="cfx/resnet50", dataflow="shi", objective="edp", constraint="power:0.4", batch_size=8)
    assert spec.budget == 3673 and spec.seeds == (0, 1) and spec.methods == ("random", "model_based")
    assert _parse([]).options == ConfuciuxOptions()
    with pytest.raises(SystemExit):  # argparse: invalid choice
        _parse(["--objective", "speed"])


def test_seeded_run_gives_the_old_best_objectives(tmp_path):
    run_experiment(_spec(tmp_path, report=True), progress=lambda _: None)
    rows = read_results(tmp_path)
    assert set(rows[0]) == set(RESULT_COLUMNS)
    finals = _finals(tmp_path)
    assert {k: r["best_objective"] for k, r in finals.items() if k[0] != "exact"} == SEEDED
    for (method, seed), r in finals.items():
        assert r["problem"] == PROBLEM and (r["objective_name"], r["objective_unit"], r["direction"]) == ("latency", "cycles", "min")
        assert r["evals"] == {"exact": 0, "model_based": 65}.get(method, 96)
        assert r["gap_to_opt"] == pytest.approx(r["best_objective"] / OPTIMUM - 1) and r["gap_to_opt"] >= 0
        assert len(r["best_config"]["pe"]) == len(r["best_config"]["buffer"]) == 5 and len(r["best_design"]) == 10
    exact = finals[("exact", 0)]
    assert exact["best_objective"] == OPTIMUM and exact["gap_to_opt"] == 0
    assert exact["best_config"] == {"pe": [4, 64, 64, 96, 64], "buffer": [8, 12, 12, 8, 8]}
    assert finals[("genetic", 0)]["best_config"] == {"pe": [4, 128, 64, 48, 64], "buffer": [8, 8, 10, 2, 11]}
    text = (tmp_path / "summary.md").read_text()
    assert "genetic" in text and list(tmp_path.glob("convergence_*.png"))


def test_best_design_and_config_are_what_the_problem_scores(tmp_path):
    run_experiment(_spec(tmp_path, ("genetic",), (0,)), progress=lambda _: None)
    [(problem, _)] = EXPERIMENT.problems(ALEXNET)
    row = _finals(tmp_path)[("genetic", 0)]
    design = np.array(row["best_design"])
    ev = problem.evaluate(design[None, :])
    assert ev.objective[0] == row["best_objective"] and ev.feasible[0] and ev.fitness[0] == row["best_fitness"]
    assert problem.to_config(design) == row["best_config"]


def test_model_based_is_skipped_for_a_non_separable_objective(tmp_path):
    messages = []
    options = ConfuciuxOptions(model="cfx/alexnet", objective="edp")
    run_experiment(_spec(tmp_path, ("exact", "model_based", "random"), (0,), options=options), progress=messages.append)
    assert set(_finals(tmp_path)) == {("random", 0)}
    assert any("model_based: skipped" in m and "separable" in m for m in messages)
    assert any("exact: skipped" in m for m in messages)


def test_resume_skips_finished_runs_and_redoes_killed_ones(tmp_path):
    spec = _spec(tmp_path, ("random",))
    run_experiment(spec, progress=lambda _: None)
    before = read_results(tmp_path)
    # simulate a run killed half-way: drop seed 1's final row
    path = tmp_path / "results.csv"
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(r for r in rows if not (r["seed"] == "1" and r["final"] == "1"))
    messages = []
    run_experiment(spec, progress=messages.append)
    after = read_results(tmp_path)
    assert any("seed 0: done already" in m for m in messages) and any("dropped" in m for m in messages)
    assert len(after) == len(before)
    assert [r["best_objective"] for r in after if r["seed"] == 1 and r["final"]] == [
        r["best_objective"] for r in before if r["seed"] == 1 and r["final"]]


def test_resuming_with_other_settings_is_refused_and_more_seeds_extend_the_run(tmp_path):
    run_experiment(_spec(tmp_path, ("random",), (0,)), progress=lambda _: None)
    with pytest.raises(ValueError, match="budget: recorded 96, now 500"):
        run_experiment(_spec(tmp_path, ("random",), (0,), budget=500), progress=lambda _: None)
    run_experiment(_spec(tmp_path, ("random",), (0, 1)), progress=lambda _: None)
    assert {r["seed"] for r in read_results(tmp_path) if r["method"] == "random"} == {0, 1}


@pytest.mark.parametrize("options, match", [(dict(model="lenet9000"), "lenet9000"), (dict(constraint="volume:0.5"), "volume"),
                                            (dict(objective="speed"), "speed"), (dict(batch_size=0), "--batch-size 0")])
def test_bad_options_fail_before_anything_is_written(tmp_path, options, match):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=match):
        run_experiment(_spec(out, ("random",), options=ConfuciuxOptions(**{"model": "cfx/alexnet", **options})), progress=lambda _: None)
    assert not out.exists()
    with pytest.raises(ValueError, match="'dqn'"):
        run_experiment(_spec(out, ("dqn",)), progress=lambda _: None)
    assert not out.exists()


# ---------------------------------------------------------------- ConfuciuX's fine-tuning GA (rl_ga's second stage)
def _alexnet():
    [(problem, _)] = EXPERIMENT.problems(ALEXNET)
    return problem


def test_finetune_ga_first_generation_is_made_of_the_seed_design():
    """ConfuciuX hands the GA one design with its known fitness: the first ask is population - 1
    children of it, each at most ``tries`` genes moved by at most ``max_step`` levels plus one swap;
    without the fitness the seed is priced first."""
    from codesign_gym.agents.search import FineTuningGA, name_groups

    problem = _alexnet()
    seed = problem.optimum().design
    ga = FineTuningGA(problem.design_nvec, seed=0, groups=name_groups(problem.space.names, problem.design_nvec), seed_design=seed,
                      seed_fitness=float(problem.evaluate(seed[None, :]).fitness[0]), swap_rate=0.0)
    children = ga.ask(ga.preferred_batch)
    assert children.shape == (19, 10) and ga.preferred_batch == 19
    assert np.all(np.count_nonzero(children != seed, axis=1) <= 3) and np.all(np.abs(children - seed) <= 6)
    unpriced = FineTuningGA(problem.design_nvec, seed=0, seed_design=seed)
    first = unpriced.ask(20)
    assert np.array_equal(first[0], seed) and len(first) == 20


def test_finetune_ga_swaps_stay_within_a_kind_of_gene():
    from codesign_gym.agents.search import FineTuningGA, name_groups

    problem = _alexnet()
    groups = name_groups(problem.space.names, problem.design_nvec)
    assert [g.tolist() for g in groups] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]  # the PE levels, the buffer levels
    seed = np.array([0, 3, 5, 7, 11, 1, 2, 4, 8, 10])
    ga = FineTuningGA(problem.design_nvec, seed=1, groups=groups, seed_design=seed, seed_fitness=1.0, tries=0, swap_rate=1.0)
    for child in ga.ask(19):  # one swap each: each kind keeps its values
        assert sorted(child[:5]) == sorted(seed[:5]) and sorted(child[5:]) == sorted(seed[5:])
    with pytest.raises(ValueError, match="same number of levels"):
        FineTuningGA(np.array([2, 3]), groups=[np.array([0, 1])])
    with pytest.raises(ValueError, match="parents=21"):
        FineTuningGA(problem.design_nvec, parents=21)
    with pytest.raises(ValueError, match="seed_design"):
        FineTuningGA(problem.design_nvec, seed_design=np.full(10, 99), seed_fitness=1.0)


def test_finetune_ga_improves_on_its_seed_and_is_deterministic():
    """From a random feasible design, 200 evaluations on AlexNet: better, never below the optimum,
    the budget exactly, the same run for the same seed; the seed is not priced again."""
    from codesign_gym.agents.method import BestSoFar
    from codesign_gym.agents.search import FineTuningGA, name_groups, run_search

    problem = _alexnet()
    designs = problem.space.sample(np.random.default_rng(0), 8)
    ev = problem.evaluate(designs)
    i = int(np.argmin(ev.fitness))
    assert ev.feasible[i]

    def once():
        priced = []

        class Counting:
            def __getattr__(self, name):
                return getattr(problem, name)

            def evaluate(self, d):
                priced.extend(map(tuple, d))
                return problem.evaluate(d)

        best = BestSoFar("ga")
        best.seed_best(designs[i], ev.fitness[i], ev.objective[i], True)
        ga = FineTuningGA(problem.design_nvec, seed=3, groups=name_groups(problem.space.names, problem.design_nvec), seed_design=designs[i],
                          seed_fitness=ev.fitness[i], parents=4)
        return run_search(ga, Counting(), 200, None, best), priced

    (a, priced), (b, _) = once(), once()
    assert a.evals == 200 and len(priced) == 200 and tuple(designs[i]) not in priced[:19]
    assert a.best_objective < ev.objective[i] and a.best_objective >= OPTIMUM
    assert a.best_objective == b.best_objective and np.array_equal(a.last.best_design, b.last.best_design)
