"""Pareto fronts and hypervolume of (energy per inference, top-1 error) designs: both minimised.

Hypervolume is measured in the unit box of normalised objectives ``x = energy / energy_ref``
(``energy_ref``: the largest offered static backbone's energy at the highest levels) and
``y = error / 100``, against the reference point (1, 1): a fraction of the box in [0, 1].
"""

from __future__ import annotations

import numpy as np


def pareto_mask(energy: np.ndarray, error: np.ndarray) -> np.ndarray:
    """(N,) bool: points no other point beats on both objectives (ties: the first one kept)."""
    e, r = np.asarray(energy, dtype=np.float64), np.asarray(error, dtype=np.float64)
    order = np.lexsort((r, e))
    keep = np.zeros(e.size, dtype=bool)
    best = np.inf
    for i in order:
        if r[i] < best:
            keep[i] = True
            best = r[i]
    return keep


def hypervolume(energy: np.ndarray, error: np.ndarray, energy_ref: float) -> float:
    """Dominated fraction of the unit box (module docstring); 0 for no point inside it."""
    x = np.asarray(energy, dtype=np.float64) / energy_ref
    y = np.asarray(error, dtype=np.float64) / 100.0
    inside = (x < 1.0) & (y < 1.0)
    x, y = x[inside], y[inside]
    if x.size == 0:
        return 0.0
    front = pareto_mask(x, y)
    x, y = x[front], y[front]
    order = np.argsort(x)
    x, y = x[order], y[order]
    widths = np.diff(np.append(x, 1.0))
    return float(np.sum(widths * (1.0 - y)))
