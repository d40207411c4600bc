"""The ConfuciuX experiment end to end with the search baselines (RL runs in tests/agents)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from codesign_gym.experiments.confuciux import ConfuciuxConfig, build_problem, exact_optimum, run_experiment
from codesign_gym.experiments.results import RESULT_COLUMNS, read_results

CONFIG = dict(model="cfx/alexnet", dataflow="dla", budget=96, seeds=2, methods=("random", "genetic", "annealing"), batch_size=16)


def test_run_writes_results_summary_and_plot(tmp_path):
    summary = run_experiment(ConfuciuxConfig(**CONFIG), tmp_path, progress=lambda _: None)
    rows = read_results(tmp_path)
    assert set(rows[0]) == set(RESULT_COLUMNS)
    finals = [r for r in rows if r["final"] == 1]
    assert sorted((r["method"], r["seed"]) for r in finals) == sorted(
        [("exact", 0)] + [(m, s) for m in CONFIG["methods"] for s in range(2)]
    )
    optimum = next(r["best_objective"] for r in finals if r["method"] == "exact")
    for r in finals:
        assert r["evals"] == (0 if r["method"] == "exact" else 96)
        assert r["gap_to_opt"] >= -1e-12 and r["best_objective"] >= optimum * (1 - 1e-12)
        config = json.loads(r["best_config"])
        assert len(config["pe"]) == len(config["buffer"]) == 5
    text = summary.read_text()
    assert "evals_to_1%" in text and "genetic" in text
    assert list(tmp_path.glob("convergence_*.png"))


def test_best_config_is_what_the_problem_scores(tmp_path):
    run_experiment(ConfuciuxConfig(**{**CONFIG, "methods": ("genetic",), "seeds": 1}), tmp_path, progress=lambda _: None)
    problem = build_problem(ConfuciuxConfig(**CONFIG))
    row = next(r for r in read_results(tmp_path) if r["final"] == 1 and r["method"] == "genetic")
    cfg = json.loads(row["best_config"])
    pe = np.searchsorted(problem.table.pe_levels, cfg["pe"])[None, :]
    buf = np.searchsorted(problem.table.buffer_levels, cfg["buffer"])[None, :]
    scored = problem.evaluate_designs(pe, buf)
    assert scored["objective"][0] == pytest.approx(row["best_objective"]) and scored["feasible"][0]


def test_resume_skips_finished_runs_and_redoes_killed_ones(tmp_path):
    config = ConfuciuxConfig(**{**CONFIG, "methods": ("random",), "seeds": 2})
    run_experiment(config, tmp_path, progress=lambda _: None)
    before = read_results(tmp_path)
    # simulate a run killed half-way: drop seed 1's final row
    path = tmp_path / "results.csv"
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(r for r in rows if not (r["seed"] == "1" and r["final"] == "1"))
    messages = []
    run_experiment(config, tmp_path, progress=messages.append)
    after = read_results(tmp_path)
    assert any("seed 0: done already" in m for m in messages)
    assert any("dropped" in m for m in messages)
    assert len(after) == len(before)
    assert [r["best_objective"] for r in after if r["seed"] == 1 and r["final"]] == [
        r["best_objective"] for r in before if r["seed"] == 1 and r["final"]
    ]


def test_exact_optimum_beats_or_ties_every_feasible_random_design():
    problem = build_problem(ConfuciuxConfig(model="cfx/mobilenet_v2"))
    optimum, design = exact_optimum(problem)
    L = problem.num_layers
    assert problem.score(design[None, :]).feasible[0]
    assert problem.score(design[None, :]).objective[0] == pytest.approx(optimum)
    rng = np.random.default_rng(0)
    designs = np.concatenate([rng.integers(0, 12, (20000, L)), rng.integers(0, 12, (20000, L))], axis=1)
    ev = problem.score(designs)
    assert ev.feasible.any() and ev.objective[ev.feasible].min() >= optimum


def test_bad_config_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="'dqn'"):
        run_experiment(ConfuciuxConfig(**{**CONFIG, "methods": ("dqn",)}), tmp_path)
    with pytest.raises(ValueError, match="--budget 0"):
        run_experiment(ConfuciuxConfig(**{**CONFIG, "budget": 0}), tmp_path)


def test_resuming_with_other_settings_is_refused(tmp_path):
    run_experiment(ConfuciuxConfig(**{**CONFIG, "methods": ("random",), "seeds": 1}), tmp_path, progress=lambda _: None)
    with pytest.raises(ValueError, match="budget: recorded 96, now 500"):
        run_experiment(ConfuciuxConfig(**{**CONFIG, "methods": ("random",), "budget": 500}), tmp_path, progress=lambda _: None)
    # more seeds (or methods) extend the same run
    run_experiment(ConfuciuxConfig(**{**CONFIG, "methods": ("random",), "seeds": 2}), tmp_path, progress=lambda _: None)
    assert {r["seed"] for r in read_results(tmp_path) if r["method"] == "random"} == {0, 1}


def test_bad_model_writes_nothing(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="lenet9000"):
        run_experiment(ConfuciuxConfig(**{**CONFIG, "model": "lenet9000"}), out, progress=lambda _: None)
    assert not out.exists()
