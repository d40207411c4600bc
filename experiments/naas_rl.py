"""RL methods (REINFORCE, PPO on RLlib) on ``codesign/NASAccelerator-v0`` for the NAAS experiment:
train for a budget of one-step episodes, keeping every evaluated design (the archive) and the
best feasible one per env runner."""

from __future__ import annotations

import numpy as np
from ray.rllib.callbacks.callbacks import RLlibCallback

from codesign_gym.agents.rllib.training import append_to_archive, train_one_step_archive

ENV_ID = "codesign_gym.envs:codesign/NASAccelerator-v0"


class NaasArchiveCallback(RLlibCallback):
    """Per env runner: archives each finished episode's design and metrics
    (:func:`~codesign_gym.agents.rllib.training.append_to_archive`; rows as :data:`codesign_gym.experiments.naas.ARCHIVE_COLUMNS`) and keeps the least
    EDP / reference EDP among feasible designs in ``_codesign_best`` (the slot
    :func:`~codesign_gym.agents.rllib.training.train_for_episodes` collects)."""

    def on_episode_end(self, *, episode, env_runner=None, metrics_logger=None, **kwargs) -> None:
        info = episode.get_infos(-1)
        if not info or "design" not in info or env_runner is None:
            return
        design = np.asarray(info["design"]).astype(np.int64)
        append_to_archive(env_runner, (design.tolist(), int(info["arch_index"]), float(info["accuracy"]), float(info["edp"]),
                                       float(info["energy_pj"]), int(info["latency_cycles"]), bool(info["valid"]), bool(info["feasible"])))
        if info["feasible"] and float(info["edp_reduction"]) > 0:
            relative = 1.0 / float(info["edp_reduction"])
            best = getattr(env_runner, "_codesign_best", None)
            if best is None or relative < best[0]:
                env_runner._codesign_best = (relative, design.copy(), None)
            if metrics_logger is not None:
                metrics_logger.log_value("feasible_objective_min", relative, reduce="min")


def train_rl_archive(method: str, env_config: dict, seed: int, budget: int, on_iteration=None):
    """Train ``method`` for at least ``budget`` episodes; returns (archive rows, final RLProgress)."""
    return train_one_step_archive(method, ENV_ID, env_config, seed, budget, NaasArchiveCallback, on_iteration)
