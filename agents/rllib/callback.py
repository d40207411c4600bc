"""The one RLlib callback of the package: it hands every finished episode's design to the driver.

Every environment's final ``info`` carries ``design``, the episode's design as indices (D,)
(:data:`~codesign_gym.envs.episode_info.FINAL_INFO_KEYS`). :class:`DesignCallback` logs it in
the env runner's ``MetricsLogger`` under :data:`DESIGN_KEY` with ``reduce="item_series"``: an
item series is never reduced to one number; each env runner's series is emptied when the
algorithm collects the runner's metrics, the algorithm appends all runners' series under
``result["env_runners"][DESIGN_KEY]`` and empties its own when ``train()`` returns its result.
So one ``algo.train()`` result holds exactly the designs of the episodes that ended in that
iteration, each once; :func:`finished_designs` reads them. Nothing is stored on RLlib objects.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS

#: Key of the finished episodes' designs in the env runners' metrics.
DESIGN_KEY = "codesign_designs"


class DesignCallback(RLlibCallback):
    """Logs ``info["design"]`` (D,) int64 of each finished episode's last step (see the module docstring)."""

    def on_episode_end(self, *, episode, metrics_logger=None, **kwargs) -> None:
        info = episode.get_infos(-1)
        if not isinstance(info, dict) or "design" not in info:
            keys = sorted(info) if isinstance(info, dict) else type(info).__name__
            raise KeyError(f"the final info of an episode has no 'design' (keys: {keys}); expected every env to report "
                           f"codesign_gym.envs.episode_info.FINAL_INFO_KEYS")
        if metrics_logger is not None:
            metrics_logger.log_value(DESIGN_KEY, np.asarray(info["design"], dtype=np.int64).copy(), reduce="item_series")


def finished_designs(result: dict[str, Any], size: int) -> np.ndarray:
    """The designs (M, ``size``) int64 of the M episodes that ended in the iteration of the
    ``algo.train()`` result ``result`` (M = 0 if none ended)."""
    items = result.get(ENV_RUNNER_RESULTS, {}).get(DESIGN_KEY, [])
    if not isinstance(items, (list, tuple)) or not items:  # RLlib reports an empty series as NaN
        return np.zeros((0, size), dtype=np.int64)
    designs = np.stack([np.asarray(d, dtype=np.int64).reshape(-1) for d in items])
    if designs.shape[1] != size:
        raise ValueError(f"episodes reported designs of length {designs.shape[1]}; expected {size} (the problem's design size)")
    return designs
