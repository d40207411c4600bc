"""The NAAS experiment end to end with search baselines and a stand-in RL runner (RLlib runs of
the same env: tests/experiments/test_naas_rl.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from codesign_gym.costmodels.naas.design import RESNET_INDEX
from codesign_gym.costmodels.workloads import nb201
from codesign_gym.experiments.cli import main
from codesign_gym.experiments.naas import NaasConfig, archive_stats, build_problem, network_optimum, read_archive, run_experiment
from codesign_gym.experiments.results import read_results

HW = [4, 3, 1, 6, 3, 0, 0, 1, 1, 3, 2]


def test_archive_stats_takes_the_least_edp_at_equal_or_better_accuracy():
    archive = {"designs": [[0], [1], [2], [3]], "arch_index": np.arange(4), "accuracy": np.array([94.0, 93.0, 95.0, 96.0]),
               "edp": np.array([50.0, 10.0, 40.0, np.inf]), "valid": np.array([True, True, True, False]),
               "feasible": np.array([True, False, True, False])}
    st = archive_stats(archive, ref_edp=100.0, ref_accuracy=93.91)
    assert st["reduction"] == 2.5 and st["accuracy"] == 95.0 and st["design"] == [2] and st["evals"] == 4
    # front (0.1, 7%), (0.4, 5%): 0.3 * 0.93 + 0.6 * 0.95
    assert st["hypervolume"] == pytest.approx(0.3 * 0.93 + 0.6 * 0.95)


def test_network_only_optimum_is_the_resnet_cell_on_eyeriss():
    config = NaasConfig(budget=1)
    rel, idx = network_optimum(build_problem(config, "network"))
    assert idx == RESNET_INDEX and rel == 1.0


def test_run_writes_results_archives_tables_and_plot(tmp_path):
    calls = []

    def fake_rl(config, search, problem, method, seed, optimum, writer, output_dir):  # stands in for RLlib: one fixed design
        from codesign_gym.experiments.naas import _archive_path, _row, write_archive

        design = np.array(nb201.edge_ops()[RESNET_INDEX].tolist() + HW)
        m = problem.evaluate_designs(design[None, :])
        write_archive(_archive_path(output_dir, search, method, seed),
                      [(design.tolist(), RESNET_INDEX, 93.91, float(m["edp"][0]), float(m["energy_pj"][0]), int(m["latency_cycles"][0]), True, True)])
        best = float(m["edp"][0] / problem.space.ref_edp)
        writer.write([_row(config, search, method, seed, 1, 0.0, best, problem.design_config(design), optimum, True)])
        calls.append((search, method, seed))
        return best

    config = NaasConfig(budget=16, seeds=2, samples=64, rounds=0, methods=("evolution", "reinforce"), ablations=("hardware", "network"),
                        ablation_methods=("evolution",), nested_methods=("random",))
    summary = run_experiment(config, tmp_path, progress=lambda _: None, rl_runner=fake_rl)
    finals = [r for r in read_results(tmp_path) if r["final"] == 1]
    got = sorted((r["problem"].split("|")[-1], r["method"], r["seed"]) for r in finals)
    expected = [("network", "exhaustive", 0)] + [(s, m, k) for s, m in (("joint", "evolution"), ("joint", "reinforce"), ("nested", "random"),
                                                                         ("hardware", "evolution"), ("network", "evolution")) for k in range(2)]
    assert got == sorted(expected) and calls == [("joint", "reinforce", 0), ("joint", "reinforce", 1)]
    for r in finals:
        if r["feasible"]:
            cfg = json.loads(r["best_config"])
            assert cfg["accuracy"] >= 93.91 and cfg["edp_reduction"] == pytest.approx(1 / r["best_objective"])
        if r["problem"].endswith("network") and r["feasible"]:
            assert r["gap_to_opt"] >= 0
    hw = read_archive(tmp_path / "archives" / "hardware-evolution-0.csv")
    assert len(hw["accuracy"]) == 16 and (hw["arch_index"] == RESNET_INDEX).all()
    nested = read_archive(tmp_path / "archives" / "nested-random-0.csv")  # on cifar10 the best qualifying cell is the ResNet cell
    assert len(nested["accuracy"]) == 16 and (nested["arch_index"][nested["valid"]] == RESNET_INDEX).all()
    text = (tmp_path / "naas.md").read_text()
    assert "eyeriss running the ResNet cell" in text and "93.91%" in text and "| hardware" in text and "leaks test data" in text
    assert (tmp_path / "pareto.png").stat().st_size > 0 and "evolution" in summary.read_text()
    n = len(read_results(tmp_path))
    run_experiment(config, tmp_path, progress=lambda _: None, rl_runner=fake_rl)  # resuming adds nothing
    assert len(read_results(tmp_path)) == n


@pytest.mark.parametrize(
    "args, match",
    [(["--accelerator", "tpu"], "'tpu'"), (["--dataset", "mnist"], "'mnist'"), (["--budget", "0"], "--budget 0"),
     (["--methods", "magic"], "magic"), (["--ablations", "mapping"], "mapping"), (["--samples", "0"], "--samples 0"),
     (["--nested-methods", "magic"], "magic")],
)
def test_cli_bad_input(tmp_path, capsys, args, match):
    assert main(["run", "naas", "--output-dir", str(tmp_path / "out")] + args) == 2
    assert match in capsys.readouterr().err


def test_bench_rows():
    from codesign_gym.experiments.naas_bench import bench_naas

    rows = bench_naas(num_envs=(2,), min_seconds=0.01, samples=32, rounds=0)
    assert [(r["search"], r["num_envs"]) for r in rows] == [("-", "-"), ("joint", 1), ("joint", 2), ("nested", 1), ("nested", 2), ("network", 1),
                                                         ("network", 2)]
    assert all(r["per_s"] > 0 for r in rows)


def test_onchip_energy_scope_runs_end_to_end_against_the_onchip_reference(tmp_path):
    config = NaasConfig(budget=4, seeds=1, samples=32, rounds=0, methods=("random",), nested_methods=("random",), ablations=(),
                        energy_scope="onchip")
    run_experiment(config, tmp_path, progress=lambda _: None)
    text = (tmp_path / "naas.md").read_text()
    assert "onchip energy" in text and "DRAM energy left out" in text
    space = build_problem(config, "joint").space
    assert space.energy_scope == "onchip" and f"EDP {space.ref_edp:.4g}" in text
