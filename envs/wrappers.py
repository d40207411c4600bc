"""Wrappers that give any environment the ``Discrete`` actions external RL code expects, with masks.

:class:`FlattenMultiDiscrete` (single env) and :class:`VectorFlattenMultiDiscrete` (vector env)
turn a ``MultiDiscrete(nvec)`` action space into ``Discrete(prod(nvec))``: flat action ``a`` is
the row-major index of the multi-discrete action (``np.unravel_index(a, nvec)``). They carry the
masks along: ``action_masks()`` and ``info["action_mask"]`` become the joint mask over the flat
actions, exact where the wrapped env offers ``joint_action_masks()`` (every env of this package
whose joint space is small), else the product of its per-dimension masks, else all True. They
work on any gymnasium env; they are public as :mod:`codesign_gym.wrappers`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorActionWrapper, VectorEnv
from gymnasium.vector.utils import batch_space

from codesign_gym.envs.action_masks import joint_from_dimensions
from codesign_gym.envs.vector_base import check_actions

#: The most flat actions a wrapper makes (a policy's output layer has one unit per action).
MAX_FLAT_ACTIONS = 1 << 16


def _flat_space(space: spaces.Space, max_actions: int) -> spaces.Discrete:
    """``Discrete(prod(nvec))`` for a one-dimensional ``MultiDiscrete`` ``space``.

    Raises:
        TypeError: ``space`` is not a one-dimensional ``MultiDiscrete``.
        ValueError: more than ``max_actions`` flat actions (the product named).
    """
    if not isinstance(space, spaces.MultiDiscrete) or space.nvec.ndim != 1:
        raise TypeError(f"action space {space} cannot be flattened; expected a one-dimensional MultiDiscrete")
    count = 1
    for k in space.nvec.tolist():
        count *= int(k)  # Python ints: the product cannot wrap
    if count > max_actions:
        raise ValueError(f"MultiDiscrete({space.nvec.tolist()}) has {count:,} joint actions, more than max_actions={max_actions:,}; "
                         f"expected a space small enough to flatten (use a sequential form instead)")
    return spaces.Discrete(count)


def _find_attr(env: Any, name: str) -> Any:
    """Attribute ``name`` of ``env`` or of the first env it wraps that has it (single and vector
    wrappers alike: gymnasium's vector wrappers have no ``get_wrapper_attr``); None if none has."""
    while env is not None:
        if hasattr(env, name):
            return getattr(env, name)
        env = getattr(env, "env", None)
    return None


def _joint_masks(env: Any, nvec: np.ndarray, rows: int) -> np.ndarray:
    """(rows, prod(nvec)) bool joint masks of ``env`` (a single env: rows = 1): its exact
    ``joint_action_masks()``, else the product of its per-dimension ``action_masks()``, else all True."""
    for name, joint in (("joint_action_masks", True), ("action_masks", False)):
        method = _find_attr(env, name)
        masks = None if method is None else method()
        if masks is None:
            continue
        masks = np.asarray(masks, dtype=bool).reshape(rows, -1)
        return masks if joint else joint_from_dimensions(masks, nvec)
    return np.ones((rows, int(np.prod(nvec))), dtype=bool)


def _masked_observation(obs: Any, mask: np.ndarray) -> Any:
    """A Dict observation with its ``action_mask`` replaced by ``mask`` (int8); others unchanged."""
    if isinstance(obs, dict) and "action_mask" in obs:
        return {**obs, "action_mask": mask.astype(np.int8)}
    return obs


def _flat_observation_space(space: spaces.Space, n: int) -> spaces.Space:
    """``space`` with a Dict's ``action_mask`` entry made ``MultiBinary(n)``; others unchanged."""
    if isinstance(space, spaces.Dict) and "action_mask" in space.spaces:
        return spaces.Dict({**space.spaces, "action_mask": spaces.MultiBinary(int(n))})
    return space


class _CarriesMasks:
    """``reset`` and ``step`` of the flattening wrappers: the flat action unflattened
    (``_unflatten``), the joint mask (``action_masks()``) put into ``info["action_mask"]`` and
    into a Dict observation's ``action_mask``."""

    env: Any

    def _carry_mask(self, obs: Any, info: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        mask = self.action_masks()
        if "action_mask" in info:
            info = {**info, "action_mask": mask}
        return _masked_observation(obs, mask), info

    def reset(self, *, seed: Any = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return self._carry_mask(obs, info)

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(self._unflatten(action))
        obs, info = self._carry_mask(obs, info)
        return obs, reward, terminated, truncated, info


class FlattenMultiDiscrete(_CarriesMasks, gym.ActionWrapper):
    """A single env's ``MultiDiscrete(nvec)`` actions as ``Discrete(prod(nvec))`` (row-major), masks carried.

    Args:
        env: any env with a one-dimensional ``MultiDiscrete`` action space.
        max_actions: refuse spaces with more joint actions (default :data:`MAX_FLAT_ACTIONS`).
    """

    def __init__(self, env: gym.Env, max_actions: int = MAX_FLAT_ACTIONS):
        super().__init__(env)
        self.nvec = np.asarray(env.action_space.nvec, dtype=np.int64) if isinstance(env.action_space, spaces.MultiDiscrete) else None
        self.action_space = _flat_space(env.action_space, max_actions)
        self.observation_space = _flat_observation_space(env.observation_space, self.action_space.n)

    def action(self, action: Any) -> np.ndarray:
        """The (D,) int64 multi-discrete action of flat ``action``; ValueError outside ``Discrete(prod(nvec))``."""
        flat = int(check_actions(self.action_space, action)[0])
        return np.array(np.unravel_index(flat, tuple(self.nvec.tolist())), dtype=np.int64)

    def action_masks(self) -> np.ndarray:
        """bool (prod(nvec),): the allowed flat actions (see the module docstring)."""
        return _joint_masks(self.env, self.nvec, 1)[0]

    def _unflatten(self, action: Any) -> np.ndarray:
        return self.action(action)


class VectorFlattenMultiDiscrete(_CarriesMasks, VectorActionWrapper):
    """A vector env's ``MultiDiscrete(nvec)`` actions as ``Discrete(prod(nvec))`` per sub-env, masks carried:
    actions (num_envs,) ints, ``action_masks()`` (num_envs, prod(nvec)).

    Args:
        env: a vector env whose ``single_action_space`` is a one-dimensional ``MultiDiscrete``.
        max_actions: refuse spaces with more joint actions (default :data:`MAX_FLAT_ACTIONS`).
    """

    def __init__(self, env: VectorEnv, max_actions: int = MAX_FLAT_ACTIONS):
        super().__init__(env)
        self.nvec = np.asarray(env.single_action_space.nvec, dtype=np.int64) if isinstance(env.single_action_space, spaces.MultiDiscrete) else None
        self.single_action_space = _flat_space(env.single_action_space, max_actions)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.single_observation_space = _flat_observation_space(env.single_observation_space, self.single_action_space.n)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)

    def actions(self, actions: Any) -> np.ndarray:
        """(num_envs, D) int64 multi-discrete actions of flat ``actions`` (num_envs,); ValueError
        naming the sub-env whose action is outside ``Discrete(prod(nvec))``."""
        flat = check_actions(self.single_action_space, actions, self.num_envs)
        return np.stack(np.unravel_index(flat, tuple(self.nvec.tolist())), axis=1).astype(np.int64)

    def action_masks(self) -> np.ndarray:
        """bool (num_envs, prod(nvec)): the allowed flat actions of every sub-env."""
        return _joint_masks(self.env, self.nvec, self.num_envs)

    def _unflatten(self, action: Any) -> np.ndarray:
        return self.actions(action)


__all__ = ["FlattenMultiDiscrete", "MAX_FLAT_ACTIONS", "VectorFlattenMultiDiscrete"]
