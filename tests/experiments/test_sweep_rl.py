"""An RL sweep trial (REINFORCE on MCUNetV2's one-step episodes) killed after a checkpoint
resumes from it, keeping the rows written before it."""

from __future__ import annotations

import csv

import pytest

ray = pytest.importorskip("ray")

from codesign_gym.agents.rllib import method as rllib_method  # noqa: E402
from codesign_gym.experiments.sweep.spec import parse_sweep  # noqa: E402
from codesign_gym.experiments.sweep.trials import read_attempts, read_done, run_trial, trial_dir  # noqa: E402


class Killed(Exception):
    """Stands for the trial's process dying right after a checkpoint was written."""


@pytest.fixture(scope="module")
def embedded_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_rl_trial_resumes_from_its_last_checkpoint(embedded_ray, tmp_path, monkeypatch):
    spec = parse_sweep({"problems": [{"experiment": "mcunet", "sram_kib": 256}], "methods": ["reinforce"], "budget": 64,
                        "checkpoint_every": 1, "resources": {"episodes_per_batch": 16, "envs_per_runner": 4}})
    trial = spec.trials[0]
    saved = []
    real_save = rllib_method.save_checkpoint

    def save_then_die(algo, directory, progress):
        path = real_save(algo, directory, progress)
        saved.append(progress["evals"])
        if len(saved) == 2:
            raise Killed()
        return path

    monkeypatch.setattr(rllib_method, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        run_trial(trial, tmp_path, spec.execution)
    assert read_done(tmp_path, trial.key) is None
    monkeypatch.setattr(rllib_method, "save_checkpoint", real_save)

    record = run_trial(trial, tmp_path, spec.execution)
    assert record["attempts"] == 2 and len(read_attempts(tmp_path, trial.key)) == 2
    assert record["resumed_from_evals"] == saved[1] > 0  # training went on from the checkpoint, not from episode 0
    assert record["evals"] >= 64 and record["best_objective"] is not None
    with (trial_dir(tmp_path, trial.key) / "results.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    progress = [int(r["evals"]) for r in rows if r["final"] == "0"]
    assert progress == sorted(set(progress)) and progress[0] < saved[1]  # each point once, the first attempt's rows kept
    assert [r["final"] for r in rows].count("1") == 1 and {r["method"] for r in rows} == {"reinforce"}
    checkpoints = list((trial_dir(tmp_path, trial.key) / "rllib_checkpoint").glob("*/rllib_checkpoint.json"))
    assert [p.parent.name for p in checkpoints] == ["reinforce-seed0"]
