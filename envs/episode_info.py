"""The ``info`` an episode ends with, the same keys in every environment.

The final ``info`` of an episode carries ``design`` (indices, (D,)), ``config`` (the real values,
:meth:`~codesign_gym.envs.problem.Problem.to_config`), ``objective``, ``fitness``, ``feasible``,
``overshoot`` and every metric of the problem's :class:`~codesign_gym.envs.problem.Evaluation`.
Vector envs give the same keys as (num_envs, ...) arrays (``config``: an object array of dicts).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codesign_gym.envs.problem import Evaluation, Problem, plain

#: Keys every final ``info`` holds besides the problem's metrics.
FINAL_INFO_KEYS: tuple[str, ...] = ("design", "config", "objective", "fitness", "feasible", "overshoot")


def final_info(problem: Problem, designs: np.ndarray, evaluation: Evaluation, i: int) -> dict[str, Any]:
    """The final ``info`` of the episode that ended with design ``i`` of ``designs`` (N, D)."""
    design = np.asarray(designs[i], dtype=np.int64).copy()
    info: dict[str, Any] = {"design": design, "config": problem.to_config(design)}
    for key, value in evaluation.row(i).items():
        info[key] = value
    for key, value in evaluation.metrics.items():  # keep array-valued metrics as arrays
        if np.ndim(value) > 1:
            info[key] = np.asarray(value[i]).copy()
    return info


def final_info_batch(problem: Problem, designs: np.ndarray, evaluation: Evaluation, rows: np.ndarray) -> dict[str, Any]:
    """The final ``info`` values of a batch, arrays of shape (N, ...) for the N designs
    (``config`` is an object array; rows not in the bool mask ``rows`` hold ``None`` there)."""
    designs = np.asarray(designs, dtype=np.int64)
    configs = np.empty(designs.shape[0], dtype=object)
    for i in np.flatnonzero(rows):
        configs[i] = problem.to_config(designs[i])
    info: dict[str, Any] = {"design": designs.copy(), "config": configs, "objective": np.asarray(evaluation.objective, dtype=np.float64),
                            "fitness": np.asarray(evaluation.fitness, dtype=np.float64), "feasible": np.asarray(evaluation.feasible, dtype=bool),
                            "overshoot": np.asarray(evaluation.overshoot, dtype=np.float64)}
    info.update({k: np.asarray(v) for k, v in evaluation.metrics.items()})
    return info


__all__ = ["FINAL_INFO_KEYS", "final_info", "final_info_batch", "plain"]
