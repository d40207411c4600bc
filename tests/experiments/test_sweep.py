"""Sweep files (checks, expansion into trials), a trial as a one-method one-seed ExperimentSpec,
trial bookkeeping, gathering and the report, without a cluster (the Ray Tune path runs in
test_cluster_sweep.py)."""

from __future__ import annotations

import argparse
import csv
import json
import socket
from collections import Counter
from pathlib import Path

import pytest
from codesign_gym.experiments.cli import main
from codesign_gym.experiments.runner.commands import report_command
from codesign_gym.experiments.runner.recorder import archive_path
from codesign_gym.experiments.sweep.driver import gather_results, prepare_results_dir, refresh_sweep_results, write_trials_index
from codesign_gym.experiments.sweep.spec import load_sweep, parse_sweep, trial_experiment_spec
from codesign_gym.experiments.sweep.trials import read_attempts, read_done, run_trial, trial_dir

MCU = {"experiment": "mcunet", "sram_kib": 256}
HADAS = {"experiment": "hadas", "dataset": "cifar-100"}
ZEUS = {"experiment": "zeus", "workloads": "cifar100"}
CFX = {"experiment": "confuciux", "model": "cfx/mobilenet_v2", "dataflow": "dla"}


def _sweep(**extra):
    return {"name": "t", "problems": [MCU], "methods": ["random"], "budget": 16, **extra}


def test_expansion_grid_labels_seeds_and_dedup():
    spec = parse_sweep(_sweep(methods=["random", "reinforce"], seeds=[0, 3], grid={"batch_size": [8, 32], "lr": [1e-3, 1e-4]}), check=False)
    by_method = Counter(t.method for t in spec.trials)
    # random: batch_size x seeds (lr does not change it); reinforce: lr x seeds (its constructor takes no batch_size)
    assert by_method == {"random": 4, "reinforce": 4}
    assert {t.label for t in spec.trials if t.method == "random"} == {"random[batch_size=8]", "random[batch_size=32]"}
    assert {t.label for t in spec.trials if t.method == "reinforce"} == {"reinforce[lr=0.001]", "reinforce[lr=0.0001]"}
    assert {t.seed for t in spec.trials} == {0, 3}
    assert len({t.key for t in spec.trials}) == len(spec.trials)
    assert parse_sweep(_sweep(seeds=2)).trials == parse_sweep(_sweep(seeds=2)).trials  # stable keys for resuming


def test_search_space_is_sampled_reproducibly_and_problem_options_name_the_problem():
    data = {"problems": [{"experiment": "mcunet"}], "methods": ["random", "reinforce"], "budget": 8,
            "grid": {"sram_kib": [128, 256]}, "search_space": {"lr": {"loguniform": [1e-4, 1e-2]}}, "num_samples": 3, "sample_seed": 5}
    a, b = parse_sweep(data, check=False), parse_sweep(data, check=False)
    assert [t.key for t in a.trials] == [t.key for t in b.trials]
    lrs = {t.params["lr"] for t in a.trials if t.method == "reinforce"}
    assert len(lrs) == 3 and all(1e-4 <= v <= 1e-2 for v in lrs)
    assert {t.problem["sram_kib"] for t in a.trials} == {128, 256}
    assert all("sram" not in t.label for t in a.trials)  # a problem option is part of the problem, not the label
    assert sum(t.method == "random" for t in a.trials) == 2  # lr samples do not multiply random search


def test_a_trial_is_a_one_method_one_seed_experiment_spec(tmp_path):
    spec = parse_sweep({"problems": [HADAS], "methods": ["hadas", "random", "reinforce"], "seeds": [4], "budget": 24, "eval_tasks": 2,
                        "checkpoint_every": 3, "grid": {"outer_population": [4, 8], "batch_size": [12]},
                        "resources": {"num_env_runners": 2, "lr": 0.01}}, check=False)
    hadas = next(t for t in spec.trials if t.label == "hadas[outer_population=8]")
    es = trial_experiment_spec(hadas, tmp_path, spec.execution)
    assert (es.experiment, es.methods, es.seeds, es.budget, es.report) == ("hadas", ("hadas",), (4,), 24, False)
    assert es.options.outer_population == 8 and es.options.dataset == "cifar-100" and es.labels == {"hadas": "hadas[outer_population=8]"}
    assert es.method_params == {}  # the nested NSGA-II takes no eval_tasks
    search = trial_experiment_spec(next(t for t in spec.trials if t.method == "random"), tmp_path, spec.execution)
    assert search.options.outer_population == 64  # a key that does not change a method keeps its default
    assert search.method_params == {"batch_size": 12, "eval_tasks": 2, "eval_min_chunk": 256}
    rl = trial_experiment_spec(next(t for t in spec.trials if t.method == "reinforce"), tmp_path, spec.execution)
    assert (rl.rllib.num_env_runners, rl.rllib.lr, rl.rllib.checkpoint_every) == (2, 0.01, 3)
    assert rl.rllib.checkpoint_dir == str(tmp_path / "rllib_checkpoint") and "eval_tasks" not in rl.method_params


def test_an_experiment_option_that_sets_other_method_options_changes_only_the_methods_that_take_them():
    # Zeus's rl_episodes becomes the RL methods' train_episodes (ExperimentDef.method_options); its policies take none
    spec = parse_sweep({"problems": [ZEUS], "methods": ["zeus", "grid", "reinforce"], "grid": {"rl_episodes": [2, 4]}}, check=False)
    assert [t.label for t in spec.trials] == ["zeus", "grid", "reinforce[rl_episodes=2]", "reinforce[rl_episodes=4]"]
    assert {t.params.get("rl_episodes") for t in spec.trials if t.method != "reinforce"} == {None}


def test_trial_bundles_follow_resources_and_rl_options():
    spec = parse_sweep(_sweep(methods=["random", "reinforce"], eval_tasks=2,
                              resources={"cpus_per_trial": 2, "custom": {"nodeB": 1}, "num_env_runners": 2}), check=False)
    rl = next(t for t in spec.trials if t.method == "reinforce")
    search = next(t for t in spec.trials if t.method == "random")
    assert spec.trial_bundles(search) == [{"CPU": 2.0, "nodeB": 1.0}, {"CPU": 1.0}, {"CPU": 1.0}]  # its eval tasks
    assert spec.trial_bundles(rl) == [{"CPU": 2.0, "nodeB": 1.0}, {"CPU": 1.0}, {"CPU": 1.0}]  # its env runners


@pytest.mark.parametrize("data, words", [
    (_sweep(problems=[{"experiment": "tetris"}]), ["'tetris'", "confuciux"]),
    (_sweep(methods=["hillclimb"]), ["'hillclimb'", "random"]),
    (_sweep(grid={}), ["empty grid"]),
    (_sweep(grid={"batch_size": []}), ["batch_size", "non-empty"]),
    (_sweep(grid={"temperature": [1, 2]}), ["'temperature'"]),
    (_sweep(grid={"lr": [0.1]}), ["'lr'", "RL methods"]),
    (_sweep(seeds=0), ["seeds 0"]),
    (_sweep(budget=0), ["budget 0", "positive"]),
    (_sweep(problems=[{**MCU, "model": "lenet9000"}]), ["lenet9000"]),
    (_sweep(problems=[{**MCU, "pes": 3}]), ["'pes'", "sram_kib"]),
    (_sweep(grid={"batch_size": [0]}), ["batch_size"]),
    (_sweep(methods=["hadas"]), ["'hadas'", "EarlyExitDVFSProblem"]),
    (_sweep(search_space={"lr": {"gaussian": [0, 1]}}, methods=["reinforce"]), ["gaussian", "loguniform"]),
    (_sweep(resources={"cpus_per_trial": 0}), ["cpus_per_trial"]),
    (_sweep(resources={"num_env_runners": -1}), ["num_env_runners"]),
    (_sweep(retries=2), ["'retries'"]),
    (_sweep(problems=[{**HADAS, "policy": "magic"}], methods=["hadas"]), ["'magic'"]),
    (_sweep(problems=[{"experiment": "zeus", "gpu": "v100"}], methods=["zeus"]), ["6 problems", "workloads"]),
    (_sweep(problems=[ZEUS], methods=["zeus"], grid={"output": ["z.json"]}), ["'output'", "report option"]),
    (_sweep(problems=[{**CFX, "objective": "edp"}], methods=["model_based"]), ["model_based", "edp"]),
    (_sweep(problems=[{"experiment": "naas", "searches": "mapping"}]), ["'mapping'", "nested"]),
    (_sweep(problems=[{"experiment": "naas", "searches": "joint", "dataset": "mnist"}]), ["'mnist'"]),
])
def test_malformed_sweep_is_a_clear_error(data, words):
    with pytest.raises(ValueError) as err:
        parse_sweep(data)
    for word in words:
        assert word in str(err.value)


def test_cli_rejects_a_bad_sweep_and_an_unreachable_cluster_before_anything_runs(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("problems: [{experiment: mcunet}]\nmethods: [random]\ngrid: {}\n")
    out = tmp_path / "out"
    assert main(["sweep", str(bad), "--output-dir", str(out)]) == 2
    assert "empty grid" in capsys.readouterr().err and not out.exists()
    good = tmp_path / "good.yaml"
    good.write_text("problems: [{experiment: mcunet}]\nmethods: [random]\nbudget: 8\n")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["sweep", str(good), "--output-dir", str(out), "--address", f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and "not reachable" in err and not out.exists()
    assert main(["sweep", str(good), "--address", "nohostport"]) == 2
    assert "malformed" in capsys.readouterr().err
    assert main(["sweep", str(good), "--num-env-runners", "-1"]) == 2
    assert "num_env_runners" in capsys.readouterr().err
    assert main(["sweep", str(tmp_path / "missing.yaml")]) == 2
    assert main(["sweep"]) == 2 and "either a sweep file" in capsys.readouterr().err


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_trials_bookkeeping_gather_and_report(tmp_path, capsys):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(json.dumps({"name": "book", "problems": [MCU, {**HADAS, "methods": ["hadas"], "budget": 20},
                                                              {**ZEUS, "methods": ["zeus"], "budget": 0}],
                                 "methods": ["random", "genetic"], "seeds": 2, "budget": 24}))
    spec, results = prepare_results_dir(sweep, tmp_path / "res")
    assert len(spec.trials) == 8
    first, second = spec.trials[0], spec.trials[1]
    # an interrupted attempt left rows (and other settings) behind; the retry starts the run over and replaces them
    directory = trial_dir(results, first.key)
    directory.mkdir(parents=True)
    (directory / "run_config.json").write_text(json.dumps({"experiment": "mcunet", "eval_tasks": 3}))
    (directory / "results.csv").write_text(
        "experiment,problem,method,seed,evals,wall_s,best_objective,objective_name,objective_unit,direction,best_fitness,feasible,"
        "gap_to_opt,ratio_to_ref,best_design,best_config,final,version\nmcunet,p,random,0,8,0.1,,acc,%,max,1.0,0,,,,,0,v\n")
    record = run_trial(first, results)
    assert record["attempts"] == 1 and not record["skipped"] and record["evals"] == 24 and record["best_objective"] > 0
    rows = _rows(directory / "results.csv")
    assert rows[0]["problem"] == record["problem"] == "mobilenet_v2@224x1|sram256KiB" and [r["final"] for r in rows].count("1") == 1
    again = run_trial(first, results)  # complete: never runs again
    assert again["skipped"] and len(read_attempts(results, first.key)) == 1
    for trial in spec.trials[1:]:
        run_trial(trial, results)
    assert read_done(results, second.key)["method"] == second.label
    hadas = next(t for t in spec.trials if t.method == "hadas")
    assert (trial_dir(results, hadas.key) / "archives").is_dir()  # the experiment's archives, as run hadas keeps them
    zeus = next(t for t in spec.trials if t.method == "zeus")
    assert read_done(results, zeus.key)["evals"] == 140  # budget 0: the problem's own, Zeus's 2 |B| |P| recurrences (cifar100 on a V100)
    assert gather_results(spec, results) == 8
    table = _rows(results / "results.csv")
    finals = Counter((r["problem"], r["method"], r["seed"]) for r in table if r["final"] == "1")
    assert len(finals) == 8 and set(finals.values()) == {1}
    index = write_trials_index(spec, results)
    assert {r["status"] for r in _rows(index)} == {"complete"}
    (results / "results.csv").unlink()
    assert report_command(argparse.Namespace(output_dir=str(results))) == 0  # gathers the trials again, then reports
    out = capsys.readouterr().out
    assert "genetic" in out and "cifar-100" in out and "cifar100" in out and (results / "summary.md").exists()
    assert refresh_sweep_results(results) and not refresh_sweep_results(directory)
    # the same sweep file resumes its directory; another one is refused
    assert prepare_results_dir(sweep, results)[0].trials == spec.trials
    other = tmp_path / "o.yaml"
    other.write_text(sweep.read_text().replace("24", "25"))
    with pytest.raises(ValueError, match="another sweep"):
        prepare_results_dir(other, results)
    assert load_sweep(results / "sweep.yaml").trials == spec.trials


def test_hadas_populations_change_only_the_nested_nsga2(tmp_path):
    spec = parse_sweep({"name": "h", "problems": [HADAS], "methods": ["hadas", "random"], "seeds": 1, "budget": 24,
                        "grid": {"outer_population": [4, 8]}})
    # the population grid makes two hadas trials and leaves random search alone (nothing runs twice)
    assert sorted(t.label for t in spec.trials) == ["hadas[outer_population=4]", "hadas[outer_population=8]", "random"]
    records = {t.label: run_trial(t, tmp_path) for t in spec.trials}
    assert all(r["problem"] == "cifar-100|current|threshold" and r["evals"] >= 24 for r in records.values())
    for trial in spec.trials:
        directory = trial_dir(tmp_path, trial.key)
        settings = json.loads((directory / "run_config.json").read_text())
        assert settings["outer_population"] == trial.params.get("outer_population", 64)
        archives = list((directory / "archives").rglob("*.csv"))
        assert archives == [archive_path(directory, records[trial.label]["problem"], trial.label, 0)]


def test_naas_trials_run_one_search_each_with_its_archive(tmp_path):
    problems = [{"experiment": "naas", "dataset": "ImageNet16-120", "searches": "nested", "methods": ["evolution"]},
                {"experiment": "naas", "dataset": "ImageNet16-120", "searches": ["network"], "methods": ["random"], "energy_scope": "onchip"}]
    spec = parse_sweep({"name": "naas", "problems": problems, "seeds": 1, "budget": 12, "grid": {"samples": [32]}})
    # samples (the inner mapping search's effort) is a problem option: part of the problem, never of a label
    assert [(t.problem["searches"], t.label, t.problem["samples"]) for t in spec.trials] == [("nested", "evolution", 32),
                                                                                             (["network"], "random", 32)]
    records = [run_trial(t, tmp_path) for t in spec.trials]
    assert [r["problem"] for r in records] == ["eyeriss|ImageNet16-120|nested", "eyeriss|ImageNet16-120|network"]
    assert all(r["evals"] == 12 and r["best_objective"] is not None and r["best_objective"] > 0 for r in records)
    for trial, record in zip(spec.trials, records):  # each trial keeps the designs it evaluated, as run naas does
        archive = archive_path(trial_dir(tmp_path, trial.key), record["problem"], trial.label, 0)
        assert len(archive.read_text().splitlines()) == 13


@pytest.mark.parametrize("path", sorted(Path("examples/sweeps").glob("*.yaml")), ids=lambda p: p.name)
def test_example_sweep_files_are_valid(path):
    spec = load_sweep(path)
    assert spec.trials and len({t.key for t in spec.trials}) == len(spec.trials)
