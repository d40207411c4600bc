"""The HADAS experiment end to end (search methods and a stand-in RL runner), its tables, the
Pareto/hypervolume helpers and the ``costmodel xavier`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from codesign_gym.experiments.cli import main
from codesign_gym.experiments.hadas import HadasConfig, final_rows, run_experiment, write_archive
from codesign_gym.experiments.hadas_pareto import hypervolume, pareto_mask
from codesign_gym.experiments.results import read_results


def test_pareto_and_hypervolume():
    assert pareto_mask([1, 2, 3, 1], [3, 2, 4, 3]).tolist() == [True, True, False, False]
    assert hypervolume([0.5], [50.0], 1.0) == pytest.approx(0.25)
    assert hypervolume([0.5, 0.25], [50.0, 75.0], 1.0) == pytest.approx(0.3125)
    assert hypervolume([2.0], [10.0], 1.0) == 0.0


def test_run_writes_results_archives_tables_and_plot(tmp_path):
    calls = []

    def fake_rl(config, problem, method, seed, writer, output_dir):  # stands in for RLlib: a few fixed designs
        from codesign_gym.experiments.hadas import _archive_path, _front_config, _row

        designs = np.array([[0] + [1] * problem.max_exits + [10, 13, 28, 8], [1] + [0] * problem.max_exits + [0, 13, 28, 8]])
        m = problem.evaluate_designs(designs)
        write_archive(_archive_path(output_dir, method, seed), designs, m["accuracy"], m["energy_mj"], m["latency_ms"])
        best = _front_config(problem, designs, m["accuracy"], m["energy_mj"])
        writer.write([_row(config, method, seed, 2, 0.0, best["hypervolume"], best, True)])
        calls.append((method, seed))
        return best["hypervolume"]

    config = HadasConfig(budget=60, seeds=2, methods=("hadas", "random", "reinforce"), outer_population=4, inner_population=5)
    summary = run_experiment(config, tmp_path, progress=lambda _: None, rl_runner=fake_rl)
    finals = final_rows(tmp_path)
    assert sorted((r["method"], r["seed"]) for r in finals) == sorted((m, s) for m in config.methods for s in range(2))
    for r in finals:
        cfg = json.loads(r["best_config"])
        assert 0 < cfg["hypervolume"] <= 1 and r["best_objective"] == pytest.approx(-cfg["hypervolume"])
        assert r["method"] == "reinforce" or r["evals"] == 60
    assert calls == [("reinforce", 0), ("reinforce", 1)]
    text = (tmp_path / "hadas.md").read_text()
    assert "oracle (upper bound)" in text and "threshold (modelled)" in text and "overall (max / mean)" in text
    assert "173.8" in text and "335.5" in text  # HADAS's measured static a0/a6 energies beside the model's
    assert (tmp_path / "pareto.png").stat().st_size > 0 and "hadas" in summary.read_text()
    n = len(read_results(tmp_path))
    run_experiment(config, tmp_path, progress=lambda _: None, rl_runner=fake_rl)  # resume: nothing new
    assert len(read_results(tmp_path)) == n


def test_reduction_table_oracle_saves_and_exits_plus_dvfs_beat_each_alone():
    from codesign_gym.envs.early_exit_dvfs import EarlyExitDVFSProblem
    from codesign_gym.experiments.hadas_table import reduction_rows

    rows = [r for r in reduction_rows(EarlyExitDVFSProblem(backbones=("a0", "a1"))) if not r["backbone"].startswith("overall")]
    for r in rows:
        assert r["exits_dvfs_red_%"] >= max(r["dvfs_only_red_%"], r["exits_red_%"]) - 1e-9
        assert r["exits_dvfs_top1_%"] >= r["static_top1_%"] - 1e-6
        if r["exit_model"].startswith("oracle"):
            assert r["exits_red_%"] > 0


def test_costmodel_xavier_json(capsys):
    assert main(["costmodel", "xavier", "--backbone", "a0", "--dataset", "cifar-100", "--exits", "all", "--policy", "oracle", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"latency_ms", "energy_mj", "power_w", "accuracy"}
    assert out["accuracy"] == pytest.approx(89.95, abs=0.01) and out["gpu_mhz"] == 1377.0 and out["power_mode"] == "MAXN"
    assert out["energy_mj"] < out["static_energy_mj"]
    assert main(["costmodel", "xavier", "--backbone", "a0", "--power-mode", "MODE_15W", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gpu_mhz"] == 675.75


@pytest.mark.parametrize(
    "args, match",
    [(["--backbone", "a9"], "'a9'"), (["--exits", "13"], "exit 13 is beyond backbone a0"), (["--gpu-mhz", "500"], "500 MHz"),
     (["--power-mode", "MODE_15W", "--gpu-mhz", "1377"], "above power mode MODE_15W"), (["--policy", "threshold", "--threshold", "1.5"], "1.5"),
     (["--policy", "best"], "'best'"), (["--exits", "a,b"], "'a,b'")],
)
def test_costmodel_xavier_bad_input(capsys, args, match):
    assert main(["costmodel", "xavier", "--json"] + args) == 2
    assert match in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, match",
    [(["--dataset", "imagenet"], "imagenet"), (["--budget", "0"], "--budget 0"), (["--methods", "magic"], "magic"),
     (["--policy", "best"], "best")],
)
def test_run_hadas_bad_input(tmp_path, capsys, args, match):
    assert main(["run", "hadas", "--output-dir", str(tmp_path / "out")] + args) == 2
    assert match in capsys.readouterr().err
