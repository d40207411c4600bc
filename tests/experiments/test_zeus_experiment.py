"""The Zeus experiment end to end: results.csv, the JSON summary, the table and plots, resume, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from codesign_gym.experiments.cli import main
from codesign_gym.experiments.results import RESULT_COLUMNS, read_results
from codesign_gym.experiments.zeus import ZeusConfig, run_experiment

CONFIG = dict(gpu="v100", workloads=("squad", "sentiment140"), methods=("zeus", "default", "oracle", "grid"), seeds=2, budget=30)
RUN_KEYS = {"seed", "method", "final_bs", "final_pl", "ETA_last10", "TTA_last10", "cum_cost", "cum_cost_default", "cum_regret_vs_oracle"}


def test_run_writes_results_json_table_and_plots(tmp_path):
    summary = run_experiment(ZeusConfig(**CONFIG), tmp_path, json_path=tmp_path / "out.json", progress=lambda _: None)
    assert json.loads((tmp_path / "out.json").read_text()) == json.loads(json.dumps(summary))
    assert [e["workload"] for e in summary] == ["squad", "sentiment140"]
    for entry in summary:
        assert set(entry) == {"gpu", "dataset", "workload", "eta", "beta", "maxpower", "default", "oracle", "runs"}
        assert entry["maxpower"] == 250 and entry["eta"] == 0.5 and entry["beta"] == 2.0
        for ref in ("default", "oracle"):
            assert set(entry[ref]) == {"bs", "pl", "ETA", "TTA", "cost"}
        assert entry["default"]["pl"] == 250 and entry["oracle"]["cost"] <= entry["default"]["cost"] * 1.5
        assert len(entry["runs"]) == 8 and all(set(r) == RUN_KEYS for r in entry["runs"])
        for r in entry["runs"]:
            assert r["cum_cost_default"] == pytest.approx(30 * entry["default"]["cost"])
    rows = read_results(tmp_path)
    assert set(rows[0]) == set(RESULT_COLUMNS)
    finals = [r for r in rows if r["final"] == 1]
    assert len(finals) == 2 * 4 * 2
    for r in finals:
        cfg = json.loads(r["best_config"])
        assert set(cfg) == {"batch_size", "power_limit"} and r["feasible"] == 1 and r["evals"] >= 30
    assert (tmp_path / "summary.md").exists() and (tmp_path / "regret_v100.png").exists()
    assert "energy_vs_default_%" in (tmp_path / "energy_vs_default.md").read_text()


def test_default_method_saves_nothing_and_oracle_regret_is_small(tmp_path):
    summary = run_experiment(ZeusConfig(**{**CONFIG, "workloads": ("sentiment140",)}), tmp_path, progress=lambda _: None)
    entry = summary[0]
    default = [r for r in entry["runs"] if r["method"] == "default"]
    for r in default:  # b0 at max power every time: energy within the spread of the trace's runs
        assert r["ETA_last10"] / entry["default"]["ETA"] - 1 == pytest.approx(0.0, abs=0.05)
        assert r["cum_cost"] == pytest.approx(r["cum_cost_default"], rel=0.05)
    oracle = np.mean([r["cum_regret_vs_oracle"] for r in entry["runs"] if r["method"] == "oracle"])
    zeus = np.mean([r["cum_regret_vs_oracle"] for r in entry["runs"] if r["method"] == "zeus"])
    assert abs(oracle) < zeus


def test_resume_skips_finished_runs(tmp_path):
    config = ZeusConfig(**{**CONFIG, "workloads": ("squad",), "methods": ("zeus",)})
    first = run_experiment(config, tmp_path, progress=lambda _: None)
    n_rows = len(read_results(tmp_path))
    second = run_experiment(config, tmp_path, progress=lambda _: None)
    assert len(read_results(tmp_path)) == n_rows and first == second


def test_cli_runs_and_rejects_bad_input(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert main(["run", "zeus", "--gpu", "a40", "--workloads", "squad", "--methods", "zeus", "default", "--seeds", "1",
                 "--budget", "12", "--output-dir", str(tmp_path / "run"), "--output", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary[0]["gpu"] == "a40" and summary[0]["maxpower"] == 300 and len(summary[0]["runs"]) == 2
    assert "energy_vs_default_%" in capsys.readouterr().out
    for args, fragment in (
        (["--gpu", "h100"], "gpu 'h100' is not known"),
        (["--eta", "2"], "eta 2.0 is outside [0, 1]"),
        (["--beta", "1"], "beta 1.0: expected a number > 1"),
        (["--workloads", "mnist"], "workload 'mnist' is not known"),
        (["--methods", "sac"], "method 'sac' is not known"),
    ):
        assert main(["run", "zeus", "--output-dir", str(tmp_path / "bad"), *args]) != 0
        assert fragment in capsys.readouterr().err


def test_reinforce_trains_on_the_env_and_is_evaluated(tmp_path):
    """REINFORCE through RLlib on the native vector env (jit power limits), then a greedy episode."""
    ray = pytest.importorskip("ray")
    from codesign_gym.experiments.ray_session import ray_session

    config = ZeusConfig(gpu="v100", workloads=("sentiment140",), methods=("reinforce",), seeds=1, budget=4, rl_episodes=4)
    with ray_session(None, num_cpus=1):
        summary = run_experiment(config, tmp_path, progress=lambda _: None)
    assert not ray.is_initialized()
    (run,) = summary[0]["runs"]
    assert run["method"] == "reinforce" and run["final_bs"] in (8, 16, 32, 64, 128) and run["cum_cost"] > 0
