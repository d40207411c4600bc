"""Resource, fault-tolerance and checkpoint options of RLlib training, passed explicitly.

An :class:`RLlibOptions` travels from the command line or a sweep trial in the experiment
spec to every RLlib method (its ``rllib`` argument); nothing is global:

- resources: env runners (each a Ray actor, 1 CPU by default), sub-envs per runner, learners
  (0: the learner runs in the training process; N: N remote learner actors, each with
  ``num_gpus_per_learner`` GPUs), CPUs per env runner;
- hyperparameters a sweep may vary: ``lr``, ``episodes_per_batch``;
- fault tolerance: failed env runners are restarted (RLlib's ``restart_failed_env_runners``);
- checkpoints: with ``checkpoint_dir`` set, each run (method x seed) resumes from the last
  checkpoint in ``<checkpoint_dir>/<method>-seed<seed>/`` and saves one there every
  ``checkpoint_every`` training iterations and when its episodes are done;
- TensorBoard: with ``tensorboard_dir`` set, each run writes every training iteration's numeric
  RLlib metrics and its best feasible objective to ``<tensorboard_dir>/<method>-seed<seed>/``.

Options left ``None`` keep what the experiment asked for.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

#: File beside RLlib's own checkpoint files holding our progress (episodes, best design).
PROGRESS_FILE = "codesign_progress.json"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class RLlibOptions:
    """How RLlib training uses Ray; ``None`` keeps the experiment's own choice.

    Attributes:
        num_env_runners: remote env-runner actors (0: sample in the training process).
        envs_per_runner: sub-environments per env runner (one native vector env).
        num_learners: remote learner actors (0: learn in the training process).
        num_gpus_per_learner: GPUs per learner (fractions allowed); with ``num_learners=0``
            the local learner uses this many GPUs.
        num_cpus_per_env_runner: CPUs reserved per env-runner actor.
        lr: learning rate.
        episodes_per_batch: episodes per training batch (REINFORCE) / batch size in episodes (PPO).
        restart_failed_env_runners: restart an env runner whose actor or node died.
        max_num_env_runner_restarts: restarts allowed per env runner.
        checkpoint_dir: where RLlib checkpoints go and where training resumes from.
        checkpoint_every: training iterations between checkpoints (>= 1).
        tensorboard_dir: where TensorBoard event files go (None: none are written).
    """

    num_env_runners: int | None = None
    envs_per_runner: int | None = None
    num_learners: int | None = None
    num_gpus_per_learner: float | None = None
    num_cpus_per_env_runner: float | None = None
    lr: float | None = None
    episodes_per_batch: int | None = None
    restart_failed_env_runners: bool = True
    max_num_env_runner_restarts: int = 1000
    checkpoint_dir: str | None = None
    checkpoint_every: int = 10
    tensorboard_dir: str | None = None

    def __post_init__(self) -> None:
        for name in ("num_env_runners", "num_learners"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 0):
                raise ValueError(f"{name}={value!r}: expected a whole number >= 0")
        for name in ("envs_per_runner", "episodes_per_batch", "checkpoint_every"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 1):
                raise ValueError(f"{name}={value!r}: expected a whole number >= 1")
        for name in ("num_gpus_per_learner", "num_cpus_per_env_runner"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"{name}={value!r}: expected a number >= 0")
        if self.lr is not None and (not isinstance(self.lr, (int, float)) or not self.lr > 0):
            raise ValueError(f"lr={self.lr!r}: expected a positive learning rate")

    def pick(self, name: str, default: Any) -> Any:
        """The option ``name`` if set, else ``default`` (the experiment's own value)."""
        value = getattr(self, name)
        return default if value is None else value

    def apply(self, config):
        """Learners, env-runner CPUs and fault tolerance on an RLlib ``AlgorithmConfig``."""
        learners = {}
        if self.num_learners is not None:
            learners["num_learners"] = self.num_learners
        if self.num_gpus_per_learner is not None:
            learners["num_gpus_per_learner"] = self.num_gpus_per_learner
        if learners:
            config = config.learners(**learners)
        if self.num_cpus_per_env_runner is not None:
            config = config.env_runners(num_cpus_per_env_runner=self.num_cpus_per_env_runner)
        return config.fault_tolerance(
            restart_failed_env_runners=self.restart_failed_env_runners,
            max_num_env_runner_restarts=self.max_num_env_runner_restarts,
        )


#: Names a sweep may vary or a command line may set (all fields but the checkpoint and TensorBoard plumbing).
OPTION_NAMES: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(RLlibOptions) if f.name not in ("checkpoint_dir", "checkpoint_every", "tensorboard_dir")
)
#: The RLlib algorithms and policy modules the package trains (kept here so checking a name imports no Ray).
ALGORITHMS = ("reinforce", "ppo")
MODULES = ("mlp", "lstm")
#: RLlib settings of a one-step-episode problem (one whole design per episode): an MLP policy,
#: 8 sub-envs per env runner, 16 episodes per training batch.
ONE_STEP_EPISODES: dict[str, Any] = {"module": "mlp", "episode_length": 1, "envs_per_runner": 8, "episodes_per_batch": 16}
#: The resource options every training command line takes.
RESOURCE_OPTION_NAMES: tuple[str, ...] = ("num_env_runners", "envs_per_runner", "num_learners", "num_gpus_per_learner", "num_cpus_per_env_runner")


# --- checkpoints ---------------------------------------------------------------------------


def save_checkpoint(algo, directory: str | Path, progress: dict[str, Any]) -> Path:
    """Save ``algo`` (RLlib's ``save_to_path``) and ``progress`` (JSON-able: episodes, wall
    time in s, best design so far) into ``directory``, replacing the previous checkpoint only
    once the new one is complete (a kill mid-save leaves the previous one usable)."""
    directory = Path(directory)
    tmp, old = directory.with_name(directory.name + ".tmp"), directory.with_name(directory.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    algo.save_to_path(str(tmp.resolve()))
    (tmp / PROGRESS_FILE).write_text(json.dumps(progress))
    if directory.exists():
        shutil.rmtree(old, ignore_errors=True)
        directory.rename(old)
    tmp.rename(directory)
    shutil.rmtree(old, ignore_errors=True)
    return directory


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The complete checkpoint in ``directory`` (or the previous one a killed save left), or None."""
    directory = Path(directory)
    for path in (directory, directory.with_name(directory.name + ".old")):
        if (path / PROGRESS_FILE).exists():
            return path
    return None


def checkpoint_progress(directory: str | Path) -> dict[str, Any] | None:
    """The progress record saved with the latest checkpoint in ``directory``, or None."""
    path = latest_checkpoint(directory)
    return None if path is None else json.loads((path / PROGRESS_FILE).read_text())


def restore_checkpoint(algo, directory: str | Path) -> dict[str, Any] | None:
    """Restore ``algo`` in place from the latest checkpoint in ``directory``; returns its
    progress record, or None (nothing restored) if there is no checkpoint yet."""
    path = latest_checkpoint(directory)
    if path is None:
        return None
    algo.restore_from_path(str(path.resolve()))
    return json.loads((path / PROGRESS_FILE).read_text())
