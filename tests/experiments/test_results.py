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


def test_run_config_must_be_a_json_object_and_finished_rows_need_it(tmp_path):
    import json

    import pytest

    from codesign_gym.experiments.runner.results import RESULT_COLUMNS, ResultsFileError, check_run_config, read_run_config

    assert read_run_config(tmp_path) is None
    (tmp_path / "run_config.json").write_text("[1, 2]")
    with pytest.raises(ResultsFileError, match="holds a JSON list; expected the JSON object"):
        read_run_config(tmp_path)
    (tmp_path / "run_config.json").write_bytes(b"\xff\xfe")
    with pytest.raises(ResultsFileError, match="not UTF-8"):
        check_run_config(tmp_path, {"budget": 5})
    (tmp_path / "run_config.json").unlink()
    with pytest.raises(ResultsFileError, match="3 finished runs but .*run_config.json is missing"):
        check_run_config(tmp_path, {"budget": 5}, finished_runs=3)
    assert not (tmp_path / "run_config.json").exists()
    check_run_config(tmp_path, {"budget": 5})  # nothing finished: a new run records its settings
    assert json.loads((tmp_path / "run_config.json").read_text()) == {"budget": 5} and len(RESULT_COLUMNS) == 18
