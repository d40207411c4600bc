"""Exact optimum of a separable assignment problem under one summed budget.

Choosing one action per layer to minimise ``sum_l cost[l, a_l]`` subject to
``sum_l weight[l, a_l] <= budget`` is a multiple-choice knapsack problem. We solve it as a
mixed-integer linear program with scipy's HiGHS after removing, per layer, every action that
is dominated (another action is no worse in both cost and weight), which typically leaves a
small Pareto front per layer and makes the MILP quick. The result is a certified optimum (to
HiGHS's MIP gap, set to 0 here), which lets every table report each method's gap to it.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class ExactSolution:
    """The optimum: ``choice`` (L,) action index per layer, its ``objective`` and ``weight`` sums."""

    choice: np.ndarray
    objective: float
    weight: float
    candidates: int  # actions left after dominance pruning, over all layers


def pareto_front(cost: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated actions of one layer (cost and weight both minimised), shape (k,)."""
    order = np.lexsort((cost, weight))  # by weight, then cost
    best = np.inf
    keep = []
    for i in order:
        if cost[i] < best:
            keep.append(i)
            best = cost[i]
    return np.asarray(keep, dtype=np.int64)


def solve_multiple_choice_knapsack(cost: np.ndarray, weight: np.ndarray, budget: float) -> ExactSolution:
    """Minimise the summed cost with one action per layer under the summed weight budget.

    Args:
        cost, weight: arrays of shape ``(L, A)`` (per layer, per action).
        budget: the largest allowed summed weight.
    Raises:
        ValueError: on mismatched shapes, or when no assignment fits the budget.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    cost = np.asarray(cost, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    if cost.ndim != 2 or cost.shape != weight.shape:
        raise ValueError(f"cost {cost.shape} and weight {weight.shape} must both have shape (layers, actions)")
    if weight.min(axis=1).sum() > budget:
        raise ValueError(f"no assignment fits: the lightest design weighs {weight.min(axis=1).sum():.6g} > budget {budget:.6g}")
    fronts = [pareto_front(c, w) for c, w in zip(cost, weight)]
    sizes = np.array([f.size for f in fronts])
    n = int(sizes.sum())
    layer_of = np.repeat(np.arange(len(fronts)), sizes)
    action_of = np.concatenate(fronts)
    c = cost[layer_of, action_of]
    w = weight[layer_of, action_of]
    # Scale the objective to O(1) so HiGHS's tolerances are relative, not absolute.
    scale = max(float(np.abs(c).max()), 1e-300)
    one_per_layer = np.zeros((len(fronts), n))
    one_per_layer[layer_of, np.arange(n)] = 1.0
    constraints = [LinearConstraint(one_per_layer, 1.0, 1.0), LinearConstraint(w[None, :], -np.inf, budget)]
    res = milp(
        c / scale,
        constraints=constraints,
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0.0, "presolve": True},
    )
    if res.x is None:
        raise ValueError(f"the MILP solver found no solution: {res.message}")
    picked = res.x > 0.5
    choice = np.empty(len(fronts), dtype=np.int64)
    choice[layer_of[picked]] = action_of[picked]
    layers = np.arange(len(fronts))
    return ExactSolution(
        choice=choice,
        objective=float(cost[layers, choice].sum()),
        weight=float(weight[layers, choice].sum()),
        candidates=n,
    )
