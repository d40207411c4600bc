"""The MCUNetV2 experiment end to end with search baselines and a stand-in RL runner (RLlib runs
of the same env are exercised by ``codesign-gym run mcunet --methods reinforce``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from codesign_gym.costmodels.workloads import get_workload
from codesign_gym.experiments.cli import main
from codesign_gym.experiments.mcunet import McunetConfig, best_under, build_problem, pareto_front, run_experiment, schedule_table
from codesign_gym.experiments.results import read_results


@pytest.fixture(scope="module")
def schedules():
    return schedule_table(get_workload("mobilenet_v2"))


def test_schedule_table_holds_the_check_values_and_best_schedules(schedules):
    assert schedules[0]["split_layer"] == -1 and schedules[0]["peak_kib"] == 1372.0
    paper = next(r for r in schedules if r["split_layer"] == 11 and r["grid"] == 4)
    assert paper["peak_kib"] == 171.5 and paper["split_output_hwc"] == "28x28x32"
    best = best_under(schedules, 256)
    assert best["peak_kib"] <= 256 and all(r["macs"] >= best["macs"] for r in schedules if r["peak_kib"] <= 256)
    assert best_under(schedules, 100) is None  # nothing fits 100 KiB
    front = pareto_front(schedules)
    assert all(a["peak_kib"] < b["peak_kib"] and a["macs"] > b["macs"] for a, b in zip(front, front[1:]))


def test_run_writes_results_schedules_and_plot(tmp_path):
    calls = []

    def fake_rl(config, problem, method, seed, optimum, writer):  # stands in for RLlib: a fixed feasible design
        from codesign_gym.experiments.mcunet import _row

        design = np.array([5, 3, 0, 0])
        best = float(problem.evaluate_designs(design[None, :])["objective"][0])
        writer.write([_row(config, method, seed, config.budget, 0.0, best, design, optimum, True, problem)])
        calls.append((method, seed))
        return best

    config = McunetConfig(sram_kib=256, budget=40, seeds=2, methods=("random", "genetic", "reinforce"))
    summary = run_experiment(config, tmp_path, progress=lambda _: None, rl_runner=fake_rl)
    finals = [r for r in read_results(tmp_path) if r["final"] == 1]
    assert sorted((r["method"], r["seed"]) for r in finals) == sorted(
        [("exhaustive", 0)] + [(m, s) for m in ("random", "genetic", "reinforce") for s in range(2)])
    optimum = next(r["best_objective"] for r in finals if r["method"] == "exhaustive")
    problem = build_problem(config)
    for r in finals:
        assert r["best_objective"] >= optimum and r["gap_to_opt"] >= 0
        cfg = json.loads(r["best_config"])
        assert cfg["peak_sram_kib"] <= 256 and cfg["macs"] == r["best_objective"]
    assert calls == [("reinforce", 0), ("reinforce", 1)]
    assert "exhaustive" in summary.read_text()
    text = (tmp_path / "schedules.md").read_text()
    assert "1372.0 KiB" in text and "171.50" in text
    assert (tmp_path / "peak_vs_extra_macs.png").stat().st_size > 0 and (tmp_path / "schedules.csv").exists()
    # resuming with the same settings skips finished runs and adds nothing
    n = len(read_results(tmp_path))
    run_experiment(config, tmp_path, progress=lambda _: None, rl_runner=fake_rl)
    assert len(read_results(tmp_path)) == n and problem.sram_kib == 256


@pytest.mark.parametrize(
    "args, match",
    [(["--sram-kib", "0"], "--sram-kib 0"), (["--model", "resnet18"], "resnet18"), (["--budget", "0"], "--budget 0"),
     (["--methods", "magic"], "magic")],
)
def test_cli_bad_input(tmp_path, capsys, args, match):
    assert main(["run", "mcunet", "--output-dir", str(tmp_path / "out")] + args) == 2
    assert match in capsys.readouterr().err
