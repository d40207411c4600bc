"""RLlib agents (new API stack): REINFORCE as a custom algorithm, PPO configured for our envs,
the policy modules (MLP, ConfuciuX's LSTM), the one callback and the Methods over them.

- :mod:`~codesign_gym.agents.rllib.method`: :class:`RLlibMethod` (``reinforce``/``ppo``) and
  :class:`RLThenGA` (``rl_ga``), the Methods the registry names;
- :mod:`~codesign_gym.agents.rllib.training`: ``build_algorithm_config`` and ``train_iterations``;
- :mod:`~codesign_gym.agents.rllib.callback`: ``DesignCallback``, which reports ``info["design"]``;
- :mod:`~codesign_gym.agents.rllib.run_options`: ``RLlibOptions`` and the checkpoint helpers.

The names below are imported on first use: importing this package loads neither Ray nor torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RLlibMethod": "method", "RLThenGA": "method", "DesignCallback": "callback", "RLlibOptions": "run_options",
    "build_algorithm_config": "training", "train_iterations": "training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
