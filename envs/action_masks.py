"""Action masks in sb3-contrib's convention, the same for every environment.

A mask says which actions are allowed in the state the last observation describes:

- ``Discrete(n)``: a bool (n,) mask, exact;
- ``MultiDiscrete(nvec)``: the per-dimension masks concatenated, bool (sum(nvec),) — a
  *relaxation*: a value is allowed when some choice of the other dimensions completes it, but two
  allowed values need not be allowed together. Where an environment knows the exact joint mask
  over the ``prod(nvec)`` row-major flat actions it offers ``joint_action_masks()`` too, which
  :class:`codesign_gym.wrappers.FlattenMultiDiscrete` carries to its ``Discrete`` actions;
- ``Box``: no mask; :func:`mask_size` raises.

Single envs give one mask (``action_masks()``, ``info["action_mask"]``); native vector envs a
(num_envs, M) batch. Environments compute their masks as batches of rows (:class:`MaskRows`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces


def mask_size(space: spaces.Space) -> int:
    """Entries of one action mask of ``space``: n for ``Discrete(n)``, sum(nvec) for ``MultiDiscrete``.

    Raises:
        TypeError: for any other space (a ``Box`` has no mask).
    """
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.MultiDiscrete) and space.nvec.ndim == 1:
        return int(space.nvec.sum())
    raise TypeError(f"action masks are defined for Discrete and (one-dimensional) MultiDiscrete action spaces; this "
                    f"environment's action space is {space}. Use a discrete form (e.g. the -Discrete-v0 variant).")


def has_masks(space: spaces.Space) -> bool:
    """Whether actions of ``space`` have masks (see :func:`mask_size`)."""
    try:
        mask_size(space)
    except TypeError:
        return False
    return True


def all_allowed(space: spaces.Space, n: int) -> np.ndarray:
    """(n, M) bool, every action allowed."""
    return np.ones((n, mask_size(space)), dtype=bool)


def dimension_masks(joint: np.ndarray, nvec: np.ndarray) -> np.ndarray:
    """Per-dimension masks (n, sum(nvec)) from joint masks (n, prod(nvec)) over row-major flat
    actions: value v of dimension d is allowed when some allowed joint action has it."""
    nvec = np.asarray(nvec, dtype=np.int64)
    n = joint.shape[0]
    grid = np.asarray(joint, dtype=bool).reshape((n,) + tuple(nvec.tolist()))
    dims = range(1, nvec.size + 1)
    return np.concatenate([grid.any(axis=tuple(a for a in dims if a != d)) for d in dims], axis=1)


def joint_from_dimensions(masks: np.ndarray, nvec: np.ndarray) -> np.ndarray:
    """Joint masks (n, prod(nvec)) over row-major flat actions from per-dimension masks
    (n, sum(nvec)): a flat action is allowed when each of its values is (the product relaxation)."""
    nvec = np.asarray(nvec, dtype=np.int64)
    masks = np.asarray(masks, dtype=bool)
    n = masks.shape[0]
    joint = np.ones((n, 1), dtype=bool)
    for part in np.split(masks, np.cumsum(nvec)[:-1], axis=1):
        joint = (joint[:, :, None] & part[:, None, :]).reshape(n, -1)
    return joint


def ensure_some_allowed(masks: np.ndarray) -> np.ndarray:
    """``masks`` (n, M) with rows that allow nothing set to all allowed (a policy must act)."""
    masks = np.asarray(masks, dtype=bool).copy()
    masks[~masks.any(axis=1)] = True
    return masks


class MaskRows:
    """``action_masks()`` for an environment that computes its masks as rows.

    A subclass implements :meth:`_action_mask_rows` (n, M) bool for its n episodes (n = 1 for a
    single env, ``num_envs`` for a vector env) and, where it knows an exact joint mask over a
    ``MultiDiscrete`` space, :meth:`_joint_mask_rows` (n, prod(nvec)).
    """

    _vector = False

    def _action_space_of_one(self) -> spaces.Space:
        return self.single_action_space if self._vector else self.action_space

    def _action_mask_rows(self) -> np.ndarray:
        """(n, M) bool masks of the current state; default every action allowed."""
        return all_allowed(self._action_space_of_one(), getattr(self, "num_envs", 1) if self._vector else 1)

    def _joint_mask_rows(self) -> np.ndarray | None:
        """(n, prod(nvec)) bool exact joint masks, or None where the env has none."""
        return None

    def action_masks(self) -> np.ndarray:
        """The allowed actions (sb3-contrib's convention): bool (M,) for a single env, (num_envs, M)
        for a vector env (see the module docstring for M).

        Raises:
            TypeError: the action space has no masks (``Box``).
        """
        mask_size(self._action_space_of_one())
        rows = self._action_mask_rows()
        return rows if self._vector else rows[0]

    def joint_action_masks(self) -> np.ndarray | None:
        """The exact joint mask over the row-major flat actions of a ``MultiDiscrete`` space:
        bool (prod(nvec),) (single env) or (num_envs, prod(nvec)); None where the env has none."""
        rows = self._joint_mask_rows()
        return rows if rows is None or self._vector else rows[0]

    def _with_action_mask(self, info: dict[str, Any]) -> dict[str, Any]:
        """``info`` with ``"action_mask"`` (and, in a vector env, ``"_action_mask"``) set where the
        action space has masks."""
        if has_masks(self._action_space_of_one()):
            info["action_mask"] = self.action_masks()
            if self._vector:
                info["_action_mask"] = np.ones(info["action_mask"].shape[0], dtype=bool)
        return info
