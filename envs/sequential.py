"""Designs chosen one entry per step: the ``sequential`` episode mode's batched state.

A design of D entries, entry d with ``nvec[d]`` choices, is chosen over D steps from one
``Discrete(K)`` action space, K = max(nvec). Action ``a`` at entry d picks choice
``a * nvec[d] // K``, so every action is valid at every entry (the K actions split evenly over
the entry's choices) and an agent that knows nothing of masks can use the space as is.
"""

from __future__ import annotations

import numpy as np


class SequentialChoices:
    """``n`` designs being chosen: ``pos`` (n,) the next entry, ``chosen`` (n, D) the choices so far.

    Args:
        nvec: (D,) choices per entry.
        n: designs (episodes) at once.
    """

    def __init__(self, nvec: np.ndarray, n: int):
        self.nvec = np.asarray(nvec, dtype=np.int64)
        self.n = n
        self.K = int(self.nvec.max())
        self.pos = np.zeros(n, dtype=np.int64)
        self.chosen = np.zeros((n, self.nvec.size), dtype=np.int64)

    @property
    def obs_dim(self) -> int:
        """Width of :meth:`observe`: 2D."""
        return 2 * self.nvec.size

    def reset(self, rows: np.ndarray) -> None:
        """Start new designs in the rows of the bool mask ``rows`` (n,)."""
        self.pos[rows] = 0
        self.chosen[rows] = 0

    def record(self, actions: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Take ``actions`` (n,) in 0..K-1 as the next entry of the ``active`` (n,) rows; returns
        (n,) bool, the rows whose design is now complete (``chosen`` holds it)."""
        a = np.asarray(actions).reshape(self.n)
        rows = np.flatnonzero(active)
        self.chosen[rows, self.pos[rows]] = (a[rows] * self.nvec[self.pos[rows]]) // self.K
        self.pos[rows] += 1
        return active & (self.pos >= self.nvec.size)

    def observe(self) -> np.ndarray:
        """(n, 2D) float32 in [0, 1]: the next entry one-hot (all zero once complete), then each
        decided entry's choice over ``nvec - 1`` (0 for entries not decided yet)."""
        D = self.nvec.size
        obs = np.zeros((self.n, 2 * D), dtype=np.float32)
        live = np.flatnonzero(self.pos < D)
        obs[live, self.pos[live]] = 1.0
        decided = np.arange(D)[None, :] < self.pos[:, None]
        obs[:, D:] = np.where(decided, self.chosen / np.maximum(self.nvec - 1, 1), 0.0)
        return obs
