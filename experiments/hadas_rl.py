"""RL methods (REINFORCE, PPO on RLlib) on ``codesign/EarlyExitDVFS-v0`` for the HADAS experiment:
train for a budget of one-step episodes and keep every evaluated design (the archive) per env runner."""

from __future__ import annotations

import numpy as np
from ray.rllib.callbacks.callbacks import RLlibCallback

from codesign_gym.agents.rllib.training import append_to_archive, train_one_step_archive

ENV_ID = "codesign_gym.envs:codesign/EarlyExitDVFS-v0"


class ArchiveCallback(RLlibCallback):
    """Archives ``(design, accuracy, energy_mj, latency_ms)`` of every finished episode
    (:func:`~codesign_gym.agents.rllib.training.append_to_archive`)."""

    def on_episode_end(self, *, episode, env_runner=None, metrics_logger=None, **kwargs) -> None:
        info = episode.get_infos(-1)
        if not info or "design" not in info or env_runner is None:
            return
        append_to_archive(env_runner, (np.asarray(info["design"]).tolist(), float(info["accuracy"]), float(info["energy_mj"]),
                                       float(info["latency_ms"])))


def train_rl_archive(method: str, env_config: dict, seed: int, budget: int, on_iteration=None):
    """Train ``method`` for at least ``budget`` episodes; returns (archive rows, episodes, wall_s)."""
    rows, progress = train_one_step_archive(method, ENV_ID, env_config, seed, budget, ArchiveCallback, on_iteration)
    return rows, progress.episodes, progress.wall_s
