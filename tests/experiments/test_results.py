"""Results bookkeeping shared by the experiments (experiments/runner/results.py)."""

from __future__ import annotations

from codesign_gym.experiments.runner.results import pending_seeds


def test_pending_seeds_skips_finished_runs_and_says_so():
    messages = []
    done = {("p", "evolution", 0), ("p", "evolution", 2), ("q", "evolution", 1), ("p", "random", 1)}
    assert pending_seeds("p", "evolution", range(4), done, messages.append, label="joint/evolution") == [1, 3]
    assert messages == ["  joint/evolution seed 0: done already, skipped", "  joint/evolution seed 2: done already, skipped"]
    assert pending_seeds("p", "random", (0, 1), done, messages.append) == [0] and messages[-1] == "  random seed 1: done already, skipped"
    assert pending_seeds("r", "random", (), done, messages.append) == []
    assert pending_seeds("p", "random", (3, 1), done, messages.append) == [3]  # the seeds given, in order
