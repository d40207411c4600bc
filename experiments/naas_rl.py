"""RL methods (REINFORCE, PPO on RLlib) on ``codesign/NASAccelerator-v0`` for the NAAS experiment:
train for a budget of one-step episodes, keeping every evaluated design (the archive) and the
best feasible one per env runner."""

from __future__ import annotations

import numpy as np
from ray.rllib.callbacks.callbacks import RLlibCallback

ENV_ID = "codesign_gym.envs:codesign/NASAccelerator-v0"


class NaasArchiveCallback(RLlibCallback):
    """Per env runner: appends each finished episode's design and metrics to ``_naas_archive``
    (rows as :data:`codesign_gym.experiments.naas.ARCHIVE_COLUMNS`) and keeps the least
    EDP / reference EDP among feasible designs in ``_codesign_best`` (the slot
    :func:`~codesign_gym.agents.rllib.training.train_for_episodes` collects)."""

    def on_episode_end(self, *, episode, env_runner=None, metrics_logger=None, **kwargs) -> None:
        info = episode.get_infos(-1)
        if not info or "design" not in info or env_runner is None:
            return
        design = np.asarray(info["design"]).astype(np.int64)
        row = (design.tolist(), int(info["arch_index"]), float(info["accuracy"]), float(info["edp"]), float(info["energy_pj"]),
               int(info["latency_cycles"]), bool(info["valid"]), bool(info["feasible"]))
        if not hasattr(env_runner, "_naas_archive"):
            env_runner._naas_archive = []
        env_runner._naas_archive.append(row)
        if info["feasible"] and float(info["edp_reduction"]) > 0:
            relative = 1.0 / float(info["edp_reduction"])
            best = getattr(env_runner, "_codesign_best", None)
            if best is None or relative < best[0]:
                env_runner._codesign_best = (relative, design.copy(), None)
            if metrics_logger is not None:
                metrics_logger.log_value("feasible_objective_min", relative, reduce="min")


def train_rl_archive(method: str, env_config: dict, seed: int, budget: int, on_iteration=None):
    """Train ``method`` for at least ``budget`` episodes; returns (archive rows, final RLProgress)."""
    from codesign_gym.agents.rllib.training import build_algorithm_config, train_for_episodes

    config = build_algorithm_config(method, env_config, seed, module="mlp", episode_length=1, env_id=ENV_ID,
                                    envs_per_runner=8, episodes_per_batch=16)
    algo = config.callbacks(NaasArchiveCallback).build_algo()
    try:
        progress = train_for_episodes(algo, budget, on_iteration=on_iteration)
        rows = []
        for part in algo.env_runner_group.foreach_env_runner(lambda r: getattr(r, "_naas_archive", []), local_env_runner=True):
            rows.extend(part)
    finally:
        algo.stop()
    return rows, progress
