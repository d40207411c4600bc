"""The HADAS experiment on the one runner: rows, archives, the report (hypervolumes as before the
refactor, tables, plot), its options and flags, the Pareto/hypervolume helpers, and the
``costmodel xavier`` command."""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
import pytest

from codesign_gym.experiments.cli import main
from codesign_gym.experiments.hadas import EXPERIMENT, HadasOptions
from codesign_gym.experiments.hadas.pareto import hypervolume, pareto_mask
from codesign_gym.experiments.hadas.report import archive_hypervolume
from codesign_gym.experiments.runner.recorder import archive_path, read_archive
from codesign_gym.experiments.runner.results import read_results
from codesign_gym.experiments.runner.spec import ExperimentSpec

LABEL = "cifar-100|current|threshold"
#: Hypervolume of each run's archive, budget 60, outer/inner population 4/5 (per-rail cost model, module scope).
SEEDED_HYPERVOLUME = {("hadas", 0): 0.5614958538011993, ("hadas", 1): 0.6430335109488757,
                      ("random", 0): 0.5820828658306951, ("random", 1): 0.6045873931955552}


def test_pareto_and_hypervolume():
    assert pareto_mask([1, 2, 3, 1], [3, 2, 4, 3]).tolist() == [True, True, False, False]
    assert hypervolume([0.5], [50.0], 1.0) == pytest.approx(0.25)
    assert hypervolume([0.5, 0.25], [50.0, 75.0], 1.0) == pytest.approx(0.3125)
    assert hypervolume([2.0], [10.0], 1.0) == 0.0


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from codesign_gym.experiments.runner.run import run_experiment

    out = tmp_path_factory.mktemp("hadas")
    spec = ExperimentSpec("hadas", HadasOptions(outer_population=4, inner_population=5), ("hadas", "random"), 60, (0, 1), out)
    run_experiment(spec, progress=lambda _: None)
    return out, spec


def test_rows_follow_the_common_schema(run_dir):
    out, _ = run_dir
    finals = [r for r in read_results(out) if r["final"] == 1]
    assert sorted((r["method"], r["seed"]) for r in finals) == sorted(SEEDED_HYPERVOLUME)
    for r in finals:
        assert r["problem"] == LABEL and r["evals"] == 60 and r["objective_name"] == "scalarized_cost" and r["direction"] == "min"
        archive = read_archive(archive_path(out, LABEL, r["method"], r["seed"]))
        assert r["best_objective"] == pytest.approx(archive["fitness"].min()) == r["best_fitness"]
        assert r["best_config"]["backbone"].startswith("a") and np.isfinite(r["ratio_to_ref"])


def test_archives_keep_every_evaluation_and_hypervolumes_are_unchanged(run_dir):
    from codesign_gym.envs.early_exit_dvfs import EarlyExitDVFSProblem

    out, _ = run_dir
    problem = EarlyExitDVFSProblem()
    for (method, seed), expected in SEEDED_HYPERVOLUME.items():
        archive = read_archive(archive_path(out, method=method, seed=seed, problem_label=LABEL))
        assert archive["design"].shape == (60, problem.space.size)
        assert {"accuracy", "energy_mj", "latency_ms", "power_w", "gpu_mhz"} <= set(archive)
        np.testing.assert_array_equal(archive["energy_mj"], problem.evaluate(archive["design"]).metrics["energy_mj"])
        assert archive_hypervolume(archive, problem.energy_ref_mj) == pytest.approx(expected, rel=1e-12, abs=0)


def test_report_tables_and_plot(run_dir):
    out, spec = run_dir
    text = (out / "hadas.md").read_text()
    hv = np.mean([SEEDED_HYPERVOLUME[("hadas", s)] for s in (0, 1)])
    assert f"{hv:.4f} +- " in text and "Budget 60 design evaluations" in text
    assert "oracle (upper bound)" in text and "threshold (modelled)" in text and "overall (max / mean)" in text
    assert "173.8" in text and "335.5" in text  # HADAS's measured static a0/a6 energies beside the model's
    assert (out / "pareto.png").stat().st_size > 0 and "hadas" in (out / "summary.md").read_text()
    from codesign_gym.experiments.runner.run import run_experiment

    n = len(read_results(out))
    run_experiment(dataclasses.replace(spec, report=False), progress=lambda _: None)  # resume: nothing new
    assert len(read_results(out)) == n


def test_reduction_table_oracle_saves_and_exits_plus_dvfs_beat_each_alone():
    from codesign_gym.envs.early_exit_dvfs import EarlyExitDVFSProblem
    from codesign_gym.experiments.hadas.table import reduction_rows

    rows = [r for r in reduction_rows(EarlyExitDVFSProblem(backbones=("a0", "a1"))) if not r["backbone"].startswith("overall")]
    for r in rows:
        assert r["exits_dvfs_red_%"] >= max(r["dvfs_only_red_%"], r["exits_red_%"]) - 1e-9
        assert r["exits_dvfs_top1_%"] >= r["static_top1_%"] - 1e-6
        if r["exit_model"].startswith("oracle"):
            assert r["exits_red_%"] > 0


def _spec(argv: list[str]) -> ExperimentSpec:
    """The spec ``codesign-gym run hadas ARGV`` builds (its generated flags, without the other experiments)."""
    from codesign_gym.experiments.runner.commands import add_core_flags, spec_from_args
    from codesign_gym.experiments.runner.options import add_dataclass_flags

    parser = argparse.ArgumentParser(prog="codesign-gym run hadas")
    add_core_flags(parser, EXPERIMENT.default_budget, EXPERIMENT.default_seeds, EXPERIMENT.budget_help, EXPERIMENT.default_methods)
    add_dataclass_flags(parser, EXPERIMENT.options)
    args = parser.parse_args(argv)
    args.experiment = "hadas"
    return spec_from_args(args)


def test_flags_defaults_and_method_options():
    from codesign_gym.agents.registry import make_method
    from codesign_gym.experiments.runner.run import planned_runs

    spec = _spec(["--dataset", "tiny-imagenet", "--exit-set", "current", "--policy", "oracle", "--outer-population", "8", "--budget", "5"])
    assert spec.budget == 5 and spec.seeds == (0, 1, 2) and spec.methods is None
    assert spec.options == HadasOptions("tiny-imagenet", "current", "oracle", outer_population=8)
    assert EXPERIMENT.default_methods == ("hadas", "random", "reinforce") and EXPERIMENT.archive
    assert _spec([]).budget == 640
    spec.methods = ("hadas", "random")
    [(problem, methods)] = planned_runs(EXPERIMENT, spec)
    assert problem.label == "tiny-imagenet|current|oracle" and [m.name for m in methods] == ["hadas", "random"]
    assert methods[0].outer_population == 8 and methods[1].batch_size == 64
    opts = EXPERIMENT.options_for_methods(spec.options, problem)
    assert {k: opts[k] for k in ("module", "episode_length", "envs_per_runner", "episodes_per_batch")} == {
        "module": "mlp", "episode_length": 1, "envs_per_runner": 8, "episodes_per_batch": 16}
    assert make_method("hadas", **opts).inner_population == 10


@pytest.mark.parametrize("argv, match", [(["--dataset", "imagenet"], "imagenet"), (["--policy", "best"], "best"),
                                         (["--outer-population", "many"], "many")])
def test_bad_flags_name_the_value(capsys, argv, match):
    with pytest.raises(SystemExit):
        _spec(argv)
    assert match in capsys.readouterr().err


@pytest.mark.parametrize("argv, match", [(["--budget", "0"], "--budget 0"), (["--inner-population", "1"], "inner_population=1"),
                                         (["--inner-generations", "0"], "inner_generations=0")])
def test_bad_values_raise_value_errors(argv, match):
    with pytest.raises(ValueError, match=match):
        _spec(argv)


def test_unknown_method_is_refused():
    from codesign_gym.experiments.runner.run import planned_runs

    spec = _spec(["--methods", "magic"])
    with pytest.raises(ValueError, match="magic"):
        planned_runs(EXPERIMENT, spec)


def test_reinforce_archives_every_episode_through_the_runner(tmp_path):
    """RL on the HADAS problem: every trained episode's design is an archived evaluation."""
    pytest.importorskip("codesign_gym.agents.rllib.method")
    import ray

    from codesign_gym.envs.early_exit_dvfs import EarlyExitDVFSProblem
    from codesign_gym.experiments.runner.run import run_experiment

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        spec = ExperimentSpec("hadas", HadasOptions(), ("reinforce",), 16, (0,), tmp_path, report=False)
        run_experiment(spec, progress=lambda _: None)
    finally:
        ray.shutdown()
    [final] = [r for r in read_results(tmp_path) if r["final"] == 1]
    assert final["method"] == "reinforce" and final["evals"] >= 16
    archive = read_archive(archive_path(tmp_path, LABEL, "reinforce", 0))
    assert archive["design"].shape[0] >= 16
    np.testing.assert_allclose(archive["energy_mj"], EarlyExitDVFSProblem().evaluate(archive["design"]).metrics["energy_mj"], rtol=1e-9)


def test_costmodel_xavier_json(capsys):
    assert main(["costmodel", "xavier", "--backbone", "a0", "--dataset", "cifar-100", "--exits", "all", "--policy", "oracle", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"latency_ms", "energy_mj", "power_w", "accuracy"}
    assert out["accuracy"] == pytest.approx(89.95, abs=0.01) and out["gpu_mhz"] == 1377.0 and out["power_mode"] == "MAXN"
    assert out["energy_mj"] < out["static_energy_mj"]
    assert main(["costmodel", "xavier", "--backbone", "a0", "--power-mode", "MODE_15W", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gpu_mhz"] == 675.75


def test_costmodel_xavier_static_backbones_against_hadas(capsys):
    """``--exits none`` prices any static backbone (a6 has no current-head exit data): HADAS measured
    173.8 mJ (a0, calibrates the non-GPU rails) and 335.5 mJ (a6, within 15%) at the highest levels."""
    outs = {}
    for b in ("a0", "a6"):
        assert main(["costmodel", "xavier", "--backbone", b, "--dataset", "cifar-100", "--exits", "none", "--json"]) == 0
        outs[b] = json.loads(capsys.readouterr().out)
    assert outs["a0"]["energy_mj"] == pytest.approx(173.78, abs=0.01) and outs["a6"]["energy_mj"] == pytest.approx(335.49, rel=0.15)
    assert outs["a6"]["accuracy"] == pytest.approx(87.65, abs=0.01) and outs["a6"]["accuracy_from"] == "old_res"
    assert outs["a0"]["energy_scope"] == "module" and 20 < outs["a0"]["power_w"] < 40
    assert main(["costmodel", "xavier", "--backbone", "a0", "--exits", "none", "--energy-scope", "gpu_rail", "--json"]) == 0
    gpu = json.loads(capsys.readouterr().out)
    assert gpu["energy_mj"] == pytest.approx(outs["a0"]["gpu_rail_energy_mj"]) and gpu["latency_ms"] == outs["a0"]["latency_ms"]
    assert main(["costmodel", "xavier", "--backbone", "a6", "--dataset", "tiny-imagenet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] is None  # no exit file has a6 on Tiny-ImageNet


@pytest.mark.parametrize(
    "args, match",
    [(["--backbone", "a9"], "'a9'"), (["--exits", "13"], "exit 13 is beyond backbone a0"), (["--gpu-mhz", "500"], "500 MHz"),
     (["--power-mode", "MODE_15W", "--gpu-mhz", "1377"], "above power mode MODE_15W"), (["--policy", "threshold", "--threshold", "1.5"], "1.5"),
     (["--policy", "best"], "'best'"), (["--exits", "a,b"], "'a,b'"), (["--energy-scope", "wall"], "'wall'"),
     (["--backbone", "a6", "--exits", "all"], "no exit accuracies")],
)
def test_costmodel_xavier_bad_input(capsys, args, match):
    assert main(["costmodel", "xavier", "--json"] + args) == 2
    assert match in capsys.readouterr().err
