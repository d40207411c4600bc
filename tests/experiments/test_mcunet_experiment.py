"""The MCUNetV2 experiment on the one runner: its options and generated flags, a seeded run of
the search baselines (the numbers the old experiment gave), resume, and the schedule report."""

from __future__ import annotations

import argparse

import pytest

from codesign_gym.costmodels.workloads import get_workload
from codesign_gym.experiments.mcunet import EXPERIMENT, McunetOptions
from codesign_gym.experiments.mcunet.report import best_under, pareto_front, schedule_table
from codesign_gym.experiments.runner.results import read_results
from codesign_gym.experiments.runner.run import run_experiment
from codesign_gym.experiments.runner.spec import ExperimentSpec

OPTIMUM = 318882624.0  # MACs: split after layer 11 (28x28x32), 3x3 grid, 246.0 KiB
#: final best MACs of the seeded baselines at budget 100, as the pre-runner experiment gave them
SEEDED = {("random", 0): 339009152.0, ("random", 1): OPTIMUM, ("genetic", 0): OPTIMUM, ("genetic", 1): OPTIMUM,
          ("annealing", 0): OPTIMUM, ("annealing", 1): OPTIMUM}


@pytest.fixture(scope="module")
def schedules():
    return schedule_table(get_workload("mobilenet_v2"))


def test_schedule_table_holds_the_check_values_and_best_schedules(schedules):
    assert schedules[0]["split_layer"] == -1 and schedules[0]["peak_kib"] == 1372.0
    paper = next(r for r in schedules if r["split_layer"] == 11 and r["grid"] == 4)
    assert paper["peak_kib"] == 171.5 and paper["split_output_hwc"] == "28x28x32"
    best = best_under(schedules, 256)
    assert best["peak_kib"] <= 256 and all(r["macs"] >= best["macs"] for r in schedules if r["peak_kib"] <= 256)
    assert best["macs"] == OPTIMUM and best["split_layer"] == 11 and best["grid"] == 3
    assert best_under(schedules, 512)["grid"] == 2 and round(best_under(schedules, 512)["peak_kib"], 1) == 431.5
    assert best_under(schedules, 100) is None  # nothing fits 100 KiB
    front = pareto_front(schedules)
    assert all(a["peak_kib"] < b["peak_kib"] and a["macs"] > b["macs"] for a, b in zip(front, front[1:]))


def test_experiment_definition_builds_the_problem_and_rl_settings():
    assert EXPERIMENT.default_methods[0] == "exact" and EXPERIMENT.default_budget == 100 and EXPERIMENT.default_seeds == 3
    [(problem, methods)] = EXPERIMENT.problems(McunetOptions(sram_kib=320, flash_kib=4096, width=0.75, resolution=160))
    assert methods is None and problem.label == "mobilenet_v2@160x0.75|sram320KiB|flash4096KiB"
    assert problem.design_nvec.tolist() == [19, 8, 1, 1]
    assert EXPERIMENT.options_for_methods(McunetOptions(), problem) == {"module": "mlp", "episode_length": 1, "envs_per_runner": 8,
                                                                   "episodes_per_batch": 16}


def _parse(argv: list[str], monkeypatch) -> ExperimentSpec:
    """``codesign-gym run mcunet ARGV`` as the runner's generated command line parses it."""
    from codesign_gym.experiments.runner import commands

    monkeypatch.setattr(commands, "EXPERIMENT_NAMES", ("mcunet",))
    parser = argparse.ArgumentParser(prog="codesign-gym")
    commands.add_parser(parser.add_subparsers(dest="command", required=True))
    return commands.spec_from_args(parser.parse_args(["run", "mcunet", *argv]))


def test_generated_flags_keep_the_old_names(monkeypatch, tmp_path):
    spec = _parse(["--model", "mobilenet_v2", "--sram-kib", "320", "--flash-kib", "2048", "--width", "0.5", "--resolution", "128",
                   "--budget", "152", "--seeds", "2", "--output-dir", str(tmp_path)], monkeypatch)
    assert spec.options == McunetOptions(sram_kib=320.0, flash_kib=2048.0, width=0.5, resolution=128)
    assert spec.budget == 152 and spec.seeds == (0, 1) and spec.methods is None
    assert _parse(["--flash-kib", "none"], monkeypatch).options.flash_kib is None


@pytest.mark.parametrize("argv, match", [(["--sram-kib", "0"], "sram_kib=0"), (["--budget", "0"], "--budget 0"),
                                         (["--width", "-1"], "widths")])
def test_bad_options_fail_before_anything_runs(monkeypatch, tmp_path, argv, match):
    with pytest.raises(ValueError, match=match):
        spec = _parse(argv + ["--output-dir", str(tmp_path / "out")], monkeypatch)
        EXPERIMENT.problems(spec.options)
    assert not (tmp_path / "out").exists()


def test_unknown_model_is_refused(monkeypatch):
    with pytest.raises(SystemExit):  # argparse: invalid choice
        _parse(["--model", "resnet18"], monkeypatch)
    with pytest.raises(ValueError, match="resnet18"):
        McunetOptions(model="resnet18")


def test_seeded_run_gives_the_old_best_objectives_and_writes_the_report(tmp_path):
    spec = ExperimentSpec("mcunet", McunetOptions(), ("random", "genetic", "annealing"), 100, (0, 1), tmp_path)
    run_experiment(spec, progress=lambda _: None)
    finals = {(r["method"], r["seed"]): r for r in read_results(tmp_path) if r["final"] == 1}
    assert {k: r["best_objective"] for k, r in finals.items()} == SEEDED
    for r in finals.values():
        assert r["problem"] == "mobilenet_v2@224x1|sram256KiB" and r["evals"] == 100
        assert (r["objective_name"], r["objective_unit"], r["direction"]) == ("macs", "MACs", "min")
        assert r["gap_to_opt"] == pytest.approx(r["best_objective"] / OPTIMUM - 1)
        assert r["best_config"]["macs"] == r["best_objective"] and r["best_config"]["peak_sram_kib"] <= 256
    assert finals[("random", 0)]["best_config"] == {"split_layer": 11, "grid": 5, "width": 1.0, "resolution": 224, "peak_sram_kib": 171.5,
                                                    "flash_kib": 3458.96875, "macs": 339009152, "extra_macs": 38234880}
    text = (tmp_path / "schedules.md").read_text()
    assert "# mobilenet_v2@224x1|sram256KiB: patch-based schedules" in text and "1372.0 KiB" in text and "171.50" in text
    assert (tmp_path / "peak_vs_extra_macs.png").stat().st_size > 0 and (tmp_path / "schedules.csv").exists()
    n = len(read_results(tmp_path))  # resuming the same run adds nothing
    run_experiment(spec, progress=lambda _: None)
    assert len(read_results(tmp_path)) == n


def test_exact_row_is_the_enumerated_optimum(tmp_path):
    from codesign_gym.agents import exact

    if not hasattr(exact, "ExactMethod"):
        pytest.skip("agents/exact.py has no ExactMethod yet")
    run_experiment(ExperimentSpec("mcunet", McunetOptions(), ("exact",), 100, (0,), tmp_path, report=False), progress=lambda _: None)
    [row] = [r for r in read_results(tmp_path) if r["final"] == 1]
    assert row["method"] == "exact" and row["best_objective"] == OPTIMUM and row["gap_to_opt"] == 0
    assert row["best_design"] == [5, 2, 0, 0]


def test_reinforce_runs_on_the_env_through_rllib(tmp_path):
    """REINFORCE (MLP, one-step episodes) as ``run mcunet --methods reinforce`` runs it."""
    pytest.importorskip("ray")
    from codesign_gym.experiments.runner.ray_session import ray_session

    spec = ExperimentSpec("mcunet", McunetOptions(), ("reinforce",), 16, (0,), tmp_path, report=False)
    with ray_session(num_cpus=2):  # an embedded local instance, shut down after
        run_experiment(spec, progress=lambda _: None)
    [row] = [r for r in read_results(tmp_path) if r["final"] == 1]
    assert row["method"] == "reinforce" and row["evals"] >= 16 and row["feasible"] == 1
    assert row["best_objective"] >= OPTIMUM and row["best_config"]["macs"] == row["best_objective"]
