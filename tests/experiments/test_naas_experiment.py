"""The NAAS experiment on the one runner: which searches run with which methods, rows (EDP and its
ratio to the reference), archives, the report (EDP table, best designs, plot), its flags and the
``bench naas`` rows. RL methods on RLlib: tests/experiments/test_naas_rl.py."""

from __future__ import annotations

import numpy as np
import pytest

from codesign_gym.costmodels.naas.design import RESNET_INDEX
from codesign_gym.costmodels.workloads import nb201
from codesign_gym.experiments.cli import main
from codesign_gym.experiments.naas import EXPERIMENT, NaasOptions, build_problem
from codesign_gym.experiments.naas.report import archive_stats
from codesign_gym.experiments.runner.recorder import archive_path, read_archive
from codesign_gym.experiments.runner.results import read_results
from codesign_gym.experiments.runner.run import planned_runs, run_experiment
from codesign_gym.experiments.runner.spec import ExperimentSpec

QUICK = {"samples": 32, "rounds": 0}


def test_archive_stats_takes_the_least_edp_at_equal_or_better_accuracy():
    archive = {"design": np.arange(4)[:, None], "arch_index": np.arange(4.0), "accuracy": np.array([94.0, 93.0, 95.0, 96.0]),
               "edp": np.array([50.0, 10.0, 40.0, np.nan]), "valid": np.array([1.0, 1.0, 1.0, 0.0])}
    st = archive_stats(archive, ref_edp=100.0, accuracy_target=93.91)
    assert st["reduction"] == 2.5 and st["accuracy"] == 95.0 and st["row"] == 2 and st["evals"] == 4
    # front (0.1, 7%), (0.4, 5%): 0.3 * 0.93 + 0.6 * 0.95
    assert st["hypervolume"] == pytest.approx(0.3 * 0.93 + 0.6 * 0.95)


def test_options_pick_the_searches_and_their_methods():
    assert NaasOptions().runs() == [("joint", None), ("nested", ("random", "evolution", "cmaes")),
                                    ("hardware", ("random", "evolution", "cmaes")), ("network", ("random", "evolution", "cmaes"))]
    assert NaasOptions(nested_methods=("none",), ablations=("network",), ablation_methods=("random",)).runs() == \
        [("joint", None), ("network", ("random",))]
    assert NaasOptions(ablations=("none",)).runs() == [("joint", None), ("nested", ("random", "evolution", "cmaes"))]
    assert NaasOptions(searches=("nested", "network")).runs() == [("nested", None), ("network", None)]
    assert NaasOptions(searches="nested").searches == ("nested",)  # one name, as a sweep file may give it
    assert NaasOptions(dataset="ImageNet16-120").dataset == "ImageNet16-120"
    from codesign_gym.costmodels.naas.accelerators import BASELINES
    from codesign_gym.experiments.naas import _BASELINES

    assert _BASELINES == tuple(BASELINES)


def test_methods_flag_is_the_joint_searchs_and_searches_take_it_everywhere():
    spec = ExperimentSpec("naas", NaasOptions(nested_methods=("cmaes",), ablations=("network",), **QUICK), ("random",), 4, (0,), "unused")
    runs = planned_runs(EXPERIMENT, spec)
    assert [(p.label, [m.name for m in ms]) for p, ms in runs] == [("eyeriss|cifar10|joint", ["random"]), ("eyeriss|cifar10|nested", ["cmaes"]),
                                                                   ("eyeriss|cifar10|network", ["random", "evolution", "cmaes"])]
    spec.options = NaasOptions(searches=("hardware",), **QUICK)
    assert [(p.label, [m.name for m in ms]) for p, ms in planned_runs(EXPERIMENT, spec)] == [("eyeriss|cifar10|hardware", ["random"])]
    problem = runs[0][0]
    assert problem.options["objective"] == "constrained" and problem.options["action"] == "multidiscrete"
    assert EXPERIMENT.options_for_methods(spec.options, problem) == {"module": "mlp", "episode_length": 1, "envs_per_runner": 8,
                                                               "episodes_per_batch": 16}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("naas")
    options = NaasOptions(nested_methods=("random",), ablation_methods=("evolution",), **QUICK)
    spec = ExperimentSpec("naas", options, ("evolution", "random"), 16, (0, 1), out)
    run_experiment(spec, progress=lambda _: None)
    return out, spec


def test_rows_carry_the_edp_and_its_ratio_to_the_reference(run_dir):
    out, spec = run_dir
    problems = {s: build_problem(spec.options, s) for s in ("joint", "nested", "hardware", "network")}
    ref_edp = problems["joint"].naas_space.ref_edp
    finals = [r for r in read_results(out) if r["final"] == 1]
    got = sorted((r["problem"].split("|")[-1], r["method"], r["seed"]) for r in finals)
    expected = [(s, m, k) for s, m in (("joint", "evolution"), ("joint", "random"), ("nested", "random"), ("hardware", "evolution"),
                                       ("network", "evolution")) for k in range(2)]
    assert got == sorted(expected)
    for r in finals:
        search = r["problem"].split("|")[-1]
        assert r["evals"] == 16 and (r["objective_name"], r["objective_unit"], r["direction"]) == ("edp", "pJ*cycles", "min")
        if r["feasible"]:
            assert r["ratio_to_ref"] == pytest.approx(r["best_objective"] / ref_edp, rel=1e-12)
            ev = problems[search].evaluate(np.array([r["best_design"]]))
            assert ev.feasible[0] and ev.objective[0] == r["best_objective"] and ev.metrics["accuracy"][0] >= 93.91
            assert r["best_config"] == problems[search].to_config(np.array(r["best_design"]))
        assert (r["gap_to_opt"] is not None) == (search == "network" and bool(r["feasible"]))
        if r["gap_to_opt"] is not None:
            assert r["gap_to_opt"] >= 0
    hw = read_archive(archive_path(out, "eyeriss|cifar10|hardware", "evolution", 0))
    assert len(hw["accuracy"]) == 16 and (hw["arch_index"] == RESNET_INDEX).all()
    nested = read_archive(archive_path(out, "eyeriss|cifar10|nested", "random", 0))  # on cifar10 the best qualifying cell is the ResNet cell
    assert len(nested["accuracy"]) == 16 and (nested["arch_index"][nested["valid"] == 1] == RESNET_INDEX).all()


def test_report_writes_the_edp_table_best_designs_and_plot(run_dir):
    out, spec = run_dir
    text = (out / "naas.md").read_text()
    assert "eyeriss running the ResNet cell" in text and "93.91%" in text and "leaks test data" in text and "Budget 16 design" in text
    for search in ("joint", "nested", "hardware", "network"):
        assert f"| {search}" in text
    assert (out / "pareto.png").stat().st_size > 0 and "evolution" in (out / "summary.md").read_text()
    n = len(read_results(out))
    run_experiment(spec, progress=lambda _: None)  # resuming adds nothing
    assert len(read_results(out)) == n


def test_onchip_energy_scope_runs_end_to_end_against_the_onchip_reference(tmp_path):
    options = NaasOptions(searches=("joint",), energy_scope="onchip", **QUICK)
    run_experiment(ExperimentSpec("naas", options, ("random",), 4, (0,), tmp_path), progress=lambda _: None)
    text = (tmp_path / "naas.md").read_text()
    assert "onchip energy" in text and "DRAM energy left out" in text
    space = build_problem(options, "joint").naas_space
    assert space.energy_scope == "onchip" and f"EDP {space.ref_edp:.4g}" in text


@pytest.mark.parametrize(
    "args, match",
    [(["--accelerator", "tpu"], "'tpu'"), (["--dataset", "mnist"], "'mnist'"), (["--budget", "0"], "--budget 0"),
     (["--methods", "magic"], "magic"), (["--ablations", "mapping"], "mapping"), (["--samples", "0"], "--samples 0"),
     (["--nested-methods", "magic"], "magic"), (["--searches", "mapping"], "mapping")],
)
def test_cli_bad_input(tmp_path, capsys, args, match):
    try:
        code = main(["run", "naas", "--output-dir", str(tmp_path / "out")] + args)
    except SystemExit as exit_:  # argparse refuses a value outside a flag's choices
        code = exit_.code
    assert code == 2
    assert match in capsys.readouterr().err


def test_bench_rows():
    from codesign_gym.experiments.naas.bench import bench_naas

    rows = bench_naas(num_envs=(2,), min_seconds=0.01, samples=32, rounds=0)
    assert [(r["search"], r["num_envs"]) for r in rows] == [("-", "-"), ("joint", 1), ("joint", 2), ("nested", 1), ("nested", 2), ("network", 1),
                                                         ("network", 2)]
    assert all(r["per_s"] > 0 for r in rows)


def test_network_optimum_is_the_resnet_cell_on_eyeriss():
    opt = build_problem(NaasOptions(), "network").optimum()
    assert opt.design.tolist() == nb201.edge_ops()[RESNET_INDEX].tolist() and opt.objective == build_problem(NaasOptions(), "network").reference().objective
