"""Policy modules (RLlib new API stack, torch) for our Box-observation, (Multi)Discrete-action envs.

* :class:`MLPPolicyModule`: the default, an MLP with a policy head and a value head.
* :class:`ConfuciuxLSTMModule`: ConfuciuX's recurrent actor (MICRO 2020, ``src/ConfX/rl_confx.py``):
  separate linear embeddings of the layer's dims, the step, the previous action and the
  budget used; three ReLU layers; an LSTM carried across the layers of an episode; one softmax
  head per action dimension. We add a value head so PPO can use it too.

Both emit ``action_dist_inputs`` of width ``sum(nvec)`` and use RLlib's multi-categorical
distribution for ``MultiDiscrete`` action spaces (categorical for ``Discrete``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from ray.rllib.core.columns import Columns
from ray.rllib.core.distribution.torch.torch_distribution import TorchCategorical, TorchMultiCategorical
from ray.rllib.core.rl_module.apis.value_function_api import ValueFunctionAPI
from ray.rllib.core.rl_module.torch import TorchRLModule


def _action_sizes(space: gym.Space) -> list[int]:
    if isinstance(space, gym.spaces.Discrete):
        return [int(space.n)]
    if isinstance(space, gym.spaces.MultiDiscrete):
        return [int(n) for n in np.asarray(space.nvec).ravel()]
    raise ValueError(f"action space {space} is not supported; expected Discrete or MultiDiscrete")


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


class _CategoricalHeads:
    """Action-distribution classes for (Multi)Discrete spaces; mixed into the modules below."""

    def _dist_cls(self):
        sizes = _action_sizes(self.action_space)
        if isinstance(self.action_space, gym.spaces.Discrete):
            return TorchCategorical
        return TorchMultiCategorical.get_partial_dist_cls(input_lens=sizes)

    def get_train_action_dist_cls(self):
        return self._dist_cls()

    def get_exploration_action_dist_cls(self):
        return self._dist_cls()

    def get_inference_action_dist_cls(self):
        return self._dist_cls()


class MLPPolicyModule(_CategoricalHeads, TorchRLModule, ValueFunctionAPI):
    """MLP policy with a value head. ``model_config``: ``hidden`` (list of widths, default [128, 128])."""

    def setup(self):
        obs_dim = int(np.prod(self.observation_space.shape))
        hidden = list(self.model_config.get("hidden", [128, 128]))
        self._trunk = _mlp([obs_dim] + hidden)
        self._pi = nn.Linear(hidden[-1], sum(_action_sizes(self.action_space)))
        self._vf = nn.Sequential(_mlp([obs_dim] + hidden), nn.Linear(hidden[-1], 1))

    def _forward(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        return {Columns.ACTION_DIST_INPUTS: self._pi(self._trunk(batch[Columns.OBS].float()))}

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None):
        return self._vf(batch[Columns.OBS].float()).squeeze(-1)


class ConfuciuxLSTMModule(_CategoricalHeads, TorchRLModule, ValueFunctionAPI):
    """ConfuciuX's recurrent policy. ``model_config``:

    * ``obs_split``: widths of the observation's parts in order (default: the ResourceAssignment
      layout ``[obs_dim - 4, 1, 2, 1]`` = layer features, step, previous action, budget used);
      each part gets its own linear embedding of width ``embed`` (default 10, as ConfuciuX).
    * ``hidden`` (default 128, ConfuciuX's LSTM size) and ``max_seq_len`` (set it to the episode
      length so one sequence spans a whole model).
    """

    def setup(self):
        obs_dim = int(np.prod(self.observation_space.shape))
        split = list(self.model_config.get("obs_split") or [obs_dim - 4, 1, 2, 1])
        if sum(split) != obs_dim or min(split) < 1:
            raise ValueError(f"obs_split {split} must be positive widths summing to the observation size {obs_dim}")
        self._split = split
        embed = int(self.model_config.get("embed", 10))
        self._hidden = int(self.model_config.get("hidden", 128))
        self._encoders = nn.ModuleList(nn.Linear(w, embed) for w in split)
        self._fc = _mlp([embed * len(split), self._hidden, self._hidden, self._hidden])
        self._lstm = nn.LSTM(self._hidden, self._hidden, batch_first=True)
        sizes = _action_sizes(self.action_space)
        self._heads = nn.ModuleList(nn.Sequential(nn.Linear(self._hidden, n), nn.ReLU(), nn.Linear(n, n)) for n in sizes)
        self._vf = nn.Linear(self._hidden, 1)

    def get_initial_state(self) -> dict[str, np.ndarray]:
        return {"h": np.zeros(self._hidden, np.float32), "c": np.zeros(self._hidden, np.float32)}

    def _features(self, batch: dict[str, Any]):
        obs = batch[Columns.OBS].float()  # (B, T, obs_dim)
        parts = torch.split(obs, self._split, dim=-1)
        x = torch.cat([enc(p) for enc, p in zip(self._encoders, parts)], dim=-1)
        x = self._fc(x)
        state = batch[Columns.STATE_IN]
        out, (h, c) = self._lstm(x, (state["h"].unsqueeze(0), state["c"].unsqueeze(0)))
        return out, {"h": h.squeeze(0), "c": c.squeeze(0)}

    def _forward(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        out, state = self._features(batch)
        logits = torch.cat([head(out) for head in self._heads], dim=-1)
        return {Columns.ACTION_DIST_INPUTS: logits, Columns.STATE_OUT: state, Columns.EMBEDDINGS: out}

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None):
        if embeddings is None:
            embeddings, _ = self._features(batch)
        return self._vf(embeddings).squeeze(-1)
