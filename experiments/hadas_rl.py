"""RL methods (REINFORCE, PPO on RLlib) on ``codesign/EarlyExitDVFS-v0`` for the HADAS experiment:
train for a budget of one-step episodes and keep every evaluated design (the archive) per env runner."""

from __future__ import annotations

import numpy as np
from ray.rllib.callbacks.callbacks import RLlibCallback

ENV_ID = "codesign_gym.envs:codesign/EarlyExitDVFS-v0"


class ArchiveCallback(RLlibCallback):
    """Appends ``(design, accuracy, energy_mj, latency_ms)`` of every finished episode to
    ``env_runner._hadas_archive``."""

    def on_episode_end(self, *, episode, env_runner=None, metrics_logger=None, **kwargs) -> None:
        info = episode.get_infos(-1)
        if not info or "design" not in info or env_runner is None:
            return
        if not hasattr(env_runner, "_hadas_archive"):
            env_runner._hadas_archive = []
        env_runner._hadas_archive.append((np.asarray(info["design"]).tolist(), float(info["accuracy"]), float(info["energy_mj"]),
                                          float(info["latency_ms"])))


def train_rl_archive(method: str, env_config: dict, seed: int, budget: int, on_iteration=None):
    """Train ``method`` for at least ``budget`` episodes; returns (archive rows, episodes, wall_s)."""
    from codesign_gym.agents.rllib.training import build_algorithm_config, train_for_episodes

    config = build_algorithm_config(method, env_config, seed, module="mlp", episode_length=1, env_id=ENV_ID,
                                    envs_per_runner=8, episodes_per_batch=16)
    algo = config.callbacks(ArchiveCallback).build_algo()
    try:
        progress = train_for_episodes(algo, budget, on_iteration=on_iteration)
        rows = []
        for part in algo.env_runner_group.foreach_env_runner(lambda r: getattr(r, "_hadas_archive", []), local_env_runner=True):
            rows.extend(part)
    finally:
        algo.stop()
    return rows, progress.episodes, progress.wall_s
