"""The Zeus experiment end to end on the one runner: results.csv, the JSON summary (its schema
and the figures of the pre-runner experiment), the table and plots, resume, CLI, RLlib."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from codesign_gym.experiments.cli import main
from codesign_gym.experiments.runner.results import RESULT_COLUMNS, read_results
from codesign_gym.experiments.runner.run import run_experiment
from codesign_gym.experiments.runner.spec import ExperimentSpec
from codesign_gym.experiments.zeus import WORKLOADS, ZeusOptions
from codesign_gym.experiments.zeus.report import json_summary

RUN_KEYS = {"seed", "method", "final_bs", "final_pl", "ETA_last10", "TTA_last10", "cum_cost", "cum_cost_default", "cum_regret_vs_oracle"}
METHODS = ("zeus", "default", "oracle", "grid")


def _run(out: Path, methods=METHODS, budget=30, seeds=(0, 1), report=False, **options) -> list[dict]:
    """The JSON summary of a run (with ``report``, as the report wrote it)."""
    opts = ZeusOptions(**{"workloads": ("squad", "sentiment140"), **options})
    run_experiment(ExperimentSpec(experiment="zeus", options=opts, methods=methods, budget=budget, seeds=seeds, output_dir=out, report=report),
                   progress=lambda _: None)
    return json.loads(Path(opts.output or out / "zeus.json").read_text()) if report else json_summary(out, opts)


def test_run_writes_results_json_table_and_plots(tmp_path):
    summary = _run(tmp_path, report=True, output=str(tmp_path / "out.json"))
    assert summary == _run(tmp_path, output=str(tmp_path / "out.json"))  # resumed: nothing to run, same summary
    assert not (tmp_path / "zeus.json").exists()
    assert [e["workload"] for e in summary] == ["squad", "sentiment140"]
    for entry in summary:
        assert set(entry) == {"gpu", "dataset", "workload", "eta", "beta", "maxpower", "default", "oracle", "runs"}
        assert entry["maxpower"] == 250 and entry["eta"] == 0.5 and entry["beta"] == 2.0
        for ref in ("default", "oracle"):
            assert set(entry[ref]) == {"bs", "pl", "ETA", "TTA", "cost"}
        assert entry["default"]["pl"] == 250 and entry["oracle"]["cost"] <= entry["default"]["cost"] * 1.5
        assert len(entry["runs"]) == 8 and all(set(r) == RUN_KEYS for r in entry["runs"])
        assert [r["method"] for r in entry["runs"]] == [m for m in METHODS for _ in range(2)]
        for r in entry["runs"]:
            assert r["cum_cost_default"] == pytest.approx(30 * entry["default"]["cost"])
    rows = read_results(tmp_path)
    assert set(rows[0]) == set(RESULT_COLUMNS)
    finals = [r for r in rows if r["final"] == 1]
    assert len(finals) == 2 * 4 * 2
    for r in finals:  # evals count recurrences; the best is the last try's configuration, priced
        assert set(r["best_config"]) == {"batch_size", "power_limit_w"} and r["evals"] == 30
        assert r["objective_name"] == "cost" and r["objective_unit"] == "J" and r["feasible"] == 1
    by_key = {(e["workload"], r["method"], r["seed"]): r for e in summary for r in e["runs"]}
    for r in finals:
        run = by_key[(r["problem"].split("|")[0], r["method"], r["seed"])]
        assert (r["best_config"]["batch_size"], r["best_config"]["power_limit_w"]) == (run["final_bs"], run["final_pl"])
    oracle = [r for r in finals if r["method"] == "oracle"]
    assert all(r["gap_to_opt"] == 0 for r in oracle)
    assert all(r["ratio_to_ref"] == 1 for r in finals if r["method"] == "default")
    assert (tmp_path / "summary.md").exists() and (tmp_path / "regret_v100.png").exists()
    assert "energy_vs_default_%" in (tmp_path / "energy_vs_default.md").read_text()


#: From the experiment before the one runner (``ZeusConfig(seeds=3)``, Zeus's default budget):
#: (workload, method, seed) -> (final_bs, final_pl, ETA_last10 J, cum_regret_vs_oracle J).
OLD_FIGURES = {
    ("squad", "zeus", 0): (12, 200, 1325158.6496951845, 5526740.1810008995),
    ("squad", "zeus", 2): (8, 200, 1293309.8782607112, 2298523.6395158637),
    ("squad", "default", 1): (32, 250, 1621828.6445683853, 12791147.144917235),
    ("squad", "grid", 0): (8, 175, 1244979.1320623558, 17212084.847755373),
    ("squad", "oracle", 2): (12, 200, 1277357.6264158934, 149077.88132079924),
    ("sentiment140", "zeus", 1): (64, 175, 2180790.6428083614, 4676938.657588785),
    ("sentiment140", "grid", 2): (64, 175, 2180790.6428083614, 22617148.777451348),
}


def test_default_budget_reproduces_the_figures_of_the_old_experiment(tmp_path):
    summary = _run(tmp_path, budget=0, seeds=(0, 1, 2))
    runs = {(e["workload"], r["method"], r["seed"]): r for e in summary for r in e["runs"]}
    for key, (bs, pl, eta_j, regret) in OLD_FIGURES.items():
        r = runs[key]
        assert (r["final_bs"], r["final_pl"]) == (bs, pl), key
        assert r["ETA_last10"] == pytest.approx(eta_j, rel=1e-12) and r["cum_regret_vs_oracle"] == pytest.approx(regret, rel=1e-9), key
    squad = summary[0]
    assert squad["default"] == {"bs": 32, "pl": 250, "ETA": pytest.approx(1621828.6445683856), "TTA": pytest.approx(7106.4685),
                                "cost": pytest.approx(1699222.8847841925)}
    assert {r["evals"] for r in read_results(tmp_path) if r["final"] == 1} == {98, 70}  # 2 |B| |P| recurrences


def test_default_method_saves_nothing_and_oracle_regret_is_small(tmp_path):
    entry = _run(tmp_path, workloads=("sentiment140",))[0]
    default = [r for r in entry["runs"] if r["method"] == "default"]
    for r in default:  # b0 at max power every time: energy within the spread of the trace's runs
        assert r["ETA_last10"] / entry["default"]["ETA"] - 1 == pytest.approx(0.0, abs=0.05)
        assert r["cum_cost"] == pytest.approx(r["cum_cost_default"], rel=0.05)
    oracle = np.mean([r["cum_regret_vs_oracle"] for r in entry["runs"] if r["method"] == "oracle"])
    zeus = np.mean([r["cum_regret_vs_oracle"] for r in entry["runs"] if r["method"] == "zeus"])
    assert abs(oracle) < zeus


def test_resume_skips_finished_runs(tmp_path):
    first = _run(tmp_path, methods=("zeus",), workloads=("squad",))
    n_rows = len(read_results(tmp_path))
    second = _run(tmp_path, methods=("zeus",), workloads=("squad",))
    assert len(read_results(tmp_path)) == n_rows and first == second


def test_options_check_their_values():
    assert ZeusOptions(beta=0).beta is None and ZeusOptions().workloads == WORKLOADS
    from codesign_gym.costmodels.zeus import WORKLOADS as COSTMODEL_WORKLOADS

    assert WORKLOADS == tuple(COSTMODEL_WORKLOADS)
    with pytest.raises(ValueError, match="rl_episodes 0: expected a positive number"):
        ZeusOptions(rl_episodes=0)
    with pytest.raises(ValueError, match="workloads"):
        ZeusOptions(workloads=())


def test_cli_runs_and_rejects_bad_input(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert main(["run", "zeus", "--gpu", "a40", "--workloads", "squad", "--methods", "zeus", "default", "--seeds", "1",
                 "--budget", "12", "--output-dir", str(tmp_path / "run"), "--output", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary[0]["gpu"] == "a40" and summary[0]["maxpower"] == 300 and len(summary[0]["runs"]) == 2
    assert "energy_vs_default.md" in capsys.readouterr().out
    for args, fragment in (
        (["--gpu", "h100"], "gpu 'h100' is not known"),
        (["--eta", "2"], "eta 2.0 is outside [0, 1]"),
        (["--beta", "1"], "beta 1.0: expected a number > 1"),
        (["--workloads", "mnist"], "workload 'mnist' is not known"),
        (["--methods", "sac"], "not known"),
        (["--budget", "-1"], "--budget -1"),
    ):
        assert main(["run", "zeus", "--output-dir", str(tmp_path / "bad"), *args]) != 0
        assert fragment in capsys.readouterr().err


def test_reinforce_trains_on_the_env_and_is_evaluated(tmp_path):
    """REINFORCE through RLlib on the native vector env (jit power limits), then a greedy episode."""
    ray = pytest.importorskip("ray")
    from codesign_gym.agents.rllib.run_options import RLlibOptions

    opts = ZeusOptions(workloads=("sentiment140",), rl_episodes=4)
    ray.init(address="local", num_cpus=2, include_dashboard=False)
    try:
        spec = ExperimentSpec(experiment="zeus", options=opts, methods=("reinforce",), budget=4, seeds=(0,), output_dir=tmp_path,
                              rllib=RLlibOptions(num_env_runners=0))
        run_experiment(dataclasses.replace(spec, report=False), progress=lambda _: None)
    finally:
        ray.shutdown()
    (run,) = json_summary(tmp_path, opts)[0]["runs"]
    assert run["method"] == "reinforce" and run["final_bs"] in (8, 16, 32, 64, 128) and run["cum_cost"] > 0
    (final,) = [r for r in read_results(tmp_path) if r["final"] == 1]
    assert final["evals"] == 4 and final["best_config"]["batch_size"] == run["final_bs"]
