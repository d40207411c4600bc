"""Results bookkeeping shared by the experiments."""

from __future__ import annotations

from codesign_gym.experiments.results import pending_seeds


def test_pending_seeds_skips_finished_runs_and_says_so():
    messages = []
    done = {("p", "evolution", 0), ("p", "evolution", 2), ("q", "evolution", 1), ("p", "random", 1)}
    assert pending_seeds("p", "evolution", 4, done, messages.append, label="joint/evolution") == [1, 3]
    assert messages == ["  joint/evolution seed 0: done already, skipped", "  joint/evolution seed 2: done already, skipped"]
    assert pending_seeds("p", "random", 2, done, messages.append) == [0] and messages[-1] == "  random seed 1: done already, skipped"
    assert pending_seeds("r", "random", 0, done, messages.append) == []
