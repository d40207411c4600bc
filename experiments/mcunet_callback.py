"""RLlib callback of the MCUNetV2 experiment: the best feasible one-step episode per env runner.

It keeps ``(objective, design, None)`` in ``env_runner._codesign_best``, the slot
:func:`codesign_gym.agents.rllib.training.train_for_episodes` collects (its ``best_pe`` is then
the design index vector of ``codesign/PatchInference-v0``).
"""

from __future__ import annotations

import numpy as np
from ray.rllib.callbacks.callbacks import RLlibCallback


class BestScheduleCallback(RLlibCallback):
    """Remembers the fewest-objective feasible design seen (final ``info``: ``feasible``,
    ``objective``, ``design``)."""

    def on_episode_end(self, *, episode, env_runner=None, metrics_logger=None, **kwargs) -> None:
        info = episode.get_infos(-1)
        if not info or not info.get("feasible") or "design" not in info:
            return
        objective = float(info["objective"])
        best = getattr(env_runner, "_codesign_best", None)
        if best is None or objective < best[0]:
            env_runner._codesign_best = (objective, np.asarray(info["design"]).copy(), None)
        if metrics_logger is not None:
            metrics_logger.log_value("feasible_objective_min", objective, reduce="min")
