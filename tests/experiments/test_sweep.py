"""Sweep files (checks, expansion into trials), trial bookkeeping, gathering and the report,
without a cluster (the Ray Tune path runs in test_cluster_sweep.py)."""

from __future__ import annotations

import csv
import json
import socket
from collections import Counter

import pytest
from codesign_gym.experiments.cli import main
from codesign_gym.experiments.sweep import (
    gather_results,
    prepare_results_dir,
    write_trials_index,
)
from codesign_gym.experiments.sweep_spec import load_sweep, parse_sweep
from codesign_gym.experiments.sweep_trials import (
    read_attempts,
    read_done,
    run_trial,
    trial_dir,
)

CFX = {"experiment": "confuciux", "model": "cfx/mobilenet_v2", "dataflow": "dla"}


def _sweep(**extra):
    return {"name": "t", "problems": [CFX], "methods": ["random"], "budget": 64, **extra}


def test_expansion_grid_labels_seeds_and_dedup():
    spec = parse_sweep(_sweep(methods=["random", "reinforce"], seeds=[0, 3], grid={"batch_size": [8, 32], "lr": [1e-3, 1e-4]}))
    by_method = Counter(t.method for t in spec.trials)
    # random: batch_size x seeds (lr does not change it); reinforce: lr x seeds (batch_size does not change it)
    assert by_method == {"random": 4, "reinforce": 4}
    assert {t.label for t in spec.trials if t.method == "random"} == {"random[batch_size=8]", "random[batch_size=32]"}
    assert {t.label for t in spec.trials if t.method == "reinforce"} == {"reinforce[lr=0.001]", "reinforce[lr=0.0001]"}
    assert {t.seed for t in spec.trials} == {0, 3}
    assert len({t.key for t in spec.trials}) == len(spec.trials)
    assert parse_sweep(_sweep(seeds=2)).trials == parse_sweep(_sweep(seeds=2)).trials  # stable keys for resuming


def test_search_space_is_sampled_reproducibly_and_problem_fields_name_the_problem():
    data = {"problems": [{"experiment": "mcunet"}], "methods": ["random", "reinforce"], "budget": 8,
            "grid": {"sram_kib": [128, 256]}, "search_space": {"lr": {"loguniform": [1e-4, 1e-2]}}, "num_samples": 3, "sample_seed": 5}
    a, b = parse_sweep(data), parse_sweep(data)
    assert [t.key for t in a.trials] == [t.key for t in b.trials]
    lrs = {t.params["lr"] for t in a.trials if t.method == "reinforce"}
    assert len(lrs) == 3 and all(1e-4 <= v <= 1e-2 for v in lrs)
    assert {t.problem["sram_kib"] for t in a.trials} == {128, 256}
    assert all("sram" not in t.label for t in a.trials)  # a problem field is part of the problem, not the label
    assert sum(t.method == "random" for t in a.trials) == 2  # lr samples do not multiply random search


def test_trial_bundles_follow_resources_and_rl_options():
    spec = parse_sweep(_sweep(methods=["random", "reinforce"], resources={"cpus_per_trial": 2, "custom": {"nodeB": 1}, "num_env_runners": 2}))
    rl = next(t for t in spec.trials if t.method == "reinforce")
    search = next(t for t in spec.trials if t.method == "random")
    assert spec.trial_bundles(search) == [{"CPU": 2.0, "nodeB": 1.0}]
    assert spec.trial_bundles(rl) == [{"CPU": 2.0, "nodeB": 1.0}, {"CPU": 1.0}, {"CPU": 1.0}]


@pytest.mark.parametrize("data, words", [
    (_sweep(problems=[{"experiment": "tetris"}]), ["'tetris'", "confuciux"]),
    (_sweep(methods=["hillclimb"]), ["'hillclimb'", "random"]),
    (_sweep(grid={}), ["empty grid"]),
    (_sweep(grid={"batch_size": []}), ["batch_size", "non-empty"]),
    (_sweep(grid={"temperature": [1, 2]}), ["'temperature'"]),
    (_sweep(grid={"lr": [0.1]}), ["'lr'", "RL methods"]),
    (_sweep(seeds=0), ["seeds 0"]),
    (_sweep(problems=[{**CFX, "model": "lenet9000"}]), ["lenet9000"]),
    (_sweep(problems=[{**CFX, "pes": 3}]), ["'pes'", "model"]),
    (_sweep(problems=[{"experiment": "zeus", "gpu": "v100"}], methods=["zeus"]), ["workload"]),
    (_sweep(problems=[{**CFX, "objective": "edp"}], methods=["model_based"]), ["model_based", "edp"]),
    (_sweep(search_space={"lr": {"gaussian": [0, 1]}}, methods=["reinforce"]), ["gaussian", "loguniform"]),
    (_sweep(resources={"cpus_per_trial": 0}), ["cpus_per_trial"]),
    (_sweep(retries=2), ["'retries'"]),
    (_sweep(problems=[{"experiment": "naas", "search": "mapping"}]), ["naas search 'mapping'", "nested"]),
    (_sweep(problems=[{"experiment": "naas", "dataset": "mnist"}]), ["'mnist'"]),
    (_sweep(problems=[{"experiment": "hadas", "policy": "magic"}], methods=["hadas"]), ["'magic'"]),
])
def test_malformed_sweep_is_a_clear_error(data, words):
    with pytest.raises(ValueError) as err:
        parse_sweep(data)
    for word in words:
        assert word in str(err.value)


def test_cli_rejects_a_bad_sweep_and_an_unreachable_cluster_before_anything_runs(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("problems: [{experiment: confuciux}]\nmethods: [random]\ngrid: {}\n")
    out = tmp_path / "out"
    assert main(["sweep", str(bad), "--output-dir", str(out)]) == 2
    assert "empty grid" in capsys.readouterr().err and not out.exists()
    good = tmp_path / "good.yaml"
    good.write_text("problems: [{experiment: confuciux}]\nmethods: [random]\nbudget: 8\n")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["sweep", str(good), "--output-dir", str(out), "--address", f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and "not reachable" in err and not out.exists()
    assert main(["sweep", str(good), "--address", "nohostport"]) == 2
    assert "malformed" in capsys.readouterr().err
    assert main(["sweep", str(tmp_path / "missing.yaml")]) == 2
    assert main(["sweep"]) == 2 and "either a sweep file" in capsys.readouterr().err


def test_trials_bookkeeping_gather_and_report(tmp_path, capsys):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(json.dumps({"name": "book", "problems": [CFX, {"experiment": "zeus", "workload": "cifar100", "methods": ["zeus"], "budget": 20}],
                                 "methods": ["random", "genetic"], "seeds": 2, "budget": 96}))
    spec, results = prepare_results_dir(sweep, tmp_path / "res")
    assert len(spec.trials) == 6
    first, second = spec.trials[0], spec.trials[1]
    # an interrupted attempt left rows behind; the retry starts the search over and replaces them
    directory = trial_dir(results, first.key)
    directory.mkdir(parents=True)
    (directory / "results.csv").write_text("experiment,problem,method,seed,evals,layer_queries,wall_s,best_objective,feasible,"
                                           "gap_to_opt,best_config,final,version\nconfuciux,p,random,0,32,0,0.1,5,1,,,0,v\n")
    record = run_trial(first, results)
    assert record["attempts"] == 1 and not record["skipped"] and record["evals"] == 96
    with (directory / "results.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["problem"] != "p" and [r["final"] for r in rows].count("1") == 1
    again = run_trial(first, results)  # complete: never runs again
    assert again["skipped"] and len(read_attempts(results, first.key)) == 1
    for trial in spec.trials[1:]:
        run_trial(trial, results)
    assert read_done(results, second.key)["method"] == second.label
    assert gather_results(spec, results) == 6
    with (results / "results.csv").open(newline="") as fh:
        table = list(csv.DictReader(fh))
    finals = Counter((r["problem"], r["method"], r["seed"]) for r in table if r["final"] == "1")
    assert len(finals) == 6 and set(finals.values()) == {1}
    write_trials_index(spec, results)
    assert main(["report", str(results)]) == 0
    out = capsys.readouterr().out
    assert "genetic" in out and "cifar100" in out and (results / "summary.md").exists()
    # the same sweep file resumes its directory; another one is refused
    assert prepare_results_dir(sweep, results)[0].trials == spec.trials
    other = tmp_path / "o.yaml"
    other.write_text(sweep.read_text().replace("96", "97"))
    with pytest.raises(ValueError, match="another sweep"):
        prepare_results_dir(other, results)
    assert load_sweep(results / "sweep.yaml").trials == spec.trials


def test_naas_trials_run_one_search_each_with_its_archive(tmp_path):
    sweep = tmp_path / "n.yaml"
    problems = [{"experiment": "naas", "dataset": "ImageNet16-120", "search": "nested", "methods": ["evolution"]},
                {"experiment": "naas", "dataset": "ImageNet16-120", "search": "network", "methods": ["random"], "energy_scope": "onchip"}]
    sweep.write_text(json.dumps({"name": "naas", "problems": problems, "seeds": 1, "budget": 12, "grid": {"samples": [32]}}))
    spec, results = prepare_results_dir(sweep, tmp_path / "res")
    # a one-value grid does not vary, so it stays out of the labels
    assert [(t.problem["search"], t.method, t.label, t.params["samples"]) for t in spec.trials] == [("nested", "evolution", "evolution", 32),
                                                                                                   ("network", "random", "random", 32)]
    records = [run_trial(t, results) for t in spec.trials]
    assert [r["problem"] for r in records] == ["eyeriss|ImageNet16-120|nested", "eyeriss|ImageNet16-120|network"]
    assert all(r["evals"] == 12 and r["best_objective"] is not None and r["best_objective"] > 0 for r in records)
    for trial in spec.trials:  # each trial keeps the designs it evaluated, as run naas does
        archive = trial_dir(results, trial.key) / "archives" / f"{trial.problem['search']}-{trial.method}-0.csv"
        assert len(archive.read_text().splitlines()) == 13
    assert gather_results(spec, results) == 2


def test_hadas_trials_and_populations_that_only_the_nested_nsga2_uses(tmp_path):
    sweep = tmp_path / "h.yaml"
    sweep.write_text(json.dumps({"name": "h", "problems": [{"experiment": "hadas", "dataset": "cifar-100"}], "methods": ["hadas", "random"],
                                 "seeds": 1, "budget": 24, "grid": {"outer_population": [4, 8]}}))
    spec, results = prepare_results_dir(sweep, tmp_path / "res")
    # the population grid makes two hadas trials and leaves random search alone (nothing runs twice)
    assert sorted(t.label for t in spec.trials) == ["hadas[outer_population=4]", "hadas[outer_population=8]", "random"]
    records = {t.label: run_trial(t, results) for t in spec.trials}
    assert all(r["problem"] == "cifar-100|current|threshold" and r["evals"] >= 24 for r in records.values())
    assert all(-1 < r["best_objective"] < 0 for r in records.values())  # minus the hypervolume, a fraction of the box
    for trial in spec.trials:
        assert (trial_dir(results, trial.key) / "archives" / f"{trial.method}-0.csv").exists()
    assert gather_results(spec, results) == 3


@pytest.mark.parametrize("path", sorted(__import__("pathlib").Path("examples/sweeps").glob("*.yaml")), ids=lambda p: p.name)
def test_example_sweep_files_are_valid(path):
    spec = load_sweep(path)
    assert spec.trials and len({t.key for t in spec.trials}) == len(spec.trials)


def test_resource_options_map_onto_the_rllib_config():
    pytest.importorskip("ray")
    from codesign_gym.agents.rllib.run_options import rllib_options
    from codesign_gym.agents.rllib.training import build_algorithm_config

    env = {"workload": "cfx/mobilenet_v2", "dataflow": "dla"}
    plain = build_algorithm_config("ppo", env, seed=0, module="mlp", episode_length=52)
    assert plain.num_env_runners == 0 and plain.restart_failed_env_runners
    with rllib_options(num_env_runners=3, envs_per_runner=8, num_learners=2, num_gpus_per_learner=0.5, lr=0.01, num_cpus_per_env_runner=0.5):
        config = build_algorithm_config("ppo", env, seed=0, module="mlp", episode_length=52)
    assert (config.num_env_runners, config.num_envs_per_env_runner, config.num_learners, config.num_gpus_per_learner) == (3, 8, 2, 0.5)
    assert config.lr == 0.01 and config.num_cpus_per_env_runner == 0.5 and config.restart_failed_env_runners
    with pytest.raises(ValueError, match="num_env_runners"):
        with rllib_options(num_env_runners=-1):
            pass
