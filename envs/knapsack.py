"""Exact optimum of a separable assignment problem under one summed budget.

Choosing one action per layer to minimise ``sum_l cost[l, a_l]`` subject to
``sum_l weight[l, a_l] <= budget`` is a multiple-choice knapsack problem. We solve it exactly
with a dynamic program over Pareto-optimal partial assignments (Nemhauser-Ullmann style): per
layer only non-dominated (weight, cost) pairs survive. On ConfuciuX's problems the fronts stay
small (thousands of pairs), so a whole model solves in well under a second, which lets every
table report each method's gap to the true optimum. (A MILP with HiGHS was tried first: it
proves optimality quickly on MobileNetV2 but stalls for minutes on ResNet-50, whose many
near-identical layers make branch-and-bound explore symmetric solutions.)

The solver reads per-layer cost tables; it prices no whole design. A problem's exact optimum
is part of the problem: :meth:`ResourceAssignmentProblem.optimum
<codesign_gym.envs.resource_assignment.ResourceAssignmentProblem.optimum>` calls it, and the
model-based agent plans with it on learned tables.
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
    candidates: int  # actions left after per-layer dominance pruning, over all layers
    states: int  # largest number of Pareto-optimal partial assignments kept by the DP


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


def _hull_increments(cost: np.ndarray, weight: np.ndarray, front: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Steps (dw > 0, dc < 0) along the lower convex hull of one layer's Pareto front, from its
    lightest action on, with slopes dc/dw increasing (steepest cost drop first)."""
    w, c = weight[front], cost[front]
    order = np.argsort(w, kind="stable")
    w, c = w[order], c[order]
    hull = [0]
    for i in range(1, w.size):
        hull.append(i)
        while len(hull) >= 3:
            a, b, d = hull[-3], hull[-2], hull[-1]
            # drop b if it lies on or above the segment a-d
            if (c[b] - c[a]) * (w[d] - w[a]) >= (c[d] - c[a]) * (w[b] - w[a]):
                hull.pop(-2)
            else:
                break
    return np.diff(w[hull]), np.diff(c[hull])


def _lp_bound_curves(increments: list[tuple[np.ndarray, np.ndarray]], base_w: np.ndarray, base_c: np.ndarray):
    """For every suffix of layers l.., the LP-relaxation lower bound on its cost as a function of
    the weight it may use: breakpoints (weights, costs) of a convex piecewise-linear curve."""
    curves = []
    for layer in range(len(increments)):
        dw = np.concatenate([inc[0] for inc in increments[layer:]])
        dc = np.concatenate([inc[1] for inc in increments[layer:]])
        order = np.argsort(dc / dw, kind="stable")
        curves.append((base_w[layer] + np.concatenate([[0.0], np.cumsum(dw[order])]), base_c[layer] + np.concatenate([[0.0], np.cumsum(dc[order])])))
    curves.append((np.zeros(1), np.zeros(1)))
    return curves


def _greedy_upper_bound(increments, start_cost: float, start_weight: float, budget: float) -> float:
    """Cost of a feasible design: apply hull steps in order of slope while they fit (a layer's
    later steps are skipped once one of its steps does not fit)."""
    steps = [(dc / dw, layer, dw, dc) for layer, (dws, dcs) in enumerate(increments) for dw, dc in zip(dws, dcs)]
    steps.sort(key=lambda s: s[0])
    cost, weight, blocked = start_cost, start_weight, set()
    for _, layer, dw, dc in steps:
        if layer in blocked:
            continue
        if weight + dw <= budget:
            cost, weight = cost + dc, weight + dw
        else:
            blocked.add(layer)
    return cost


def solve_multiple_choice_knapsack(cost: np.ndarray, weight: np.ndarray, budget: float) -> ExactSolution:
    """Minimise the summed cost with one action per layer under the summed weight budget.

    A dynamic program over Pareto-optimal partial assignments: after each layer only the
    (weight, cost) pairs not dominated by another pair are kept; pairs that cannot lead to a
    feasible design, or whose cost plus the LP-relaxation bound of the remaining layers exceeds
    a greedy feasible design's cost, are dropped (branch and bound). Exact: pruning uses only
    valid bounds.

    Args:
        cost, weight: arrays of shape ``(L, A)`` (per layer, per action).
        budget: the largest allowed summed weight.
    Raises:
        ValueError: on mismatched shapes, or when no assignment fits the budget.
    """
    cost = np.asarray(cost, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    if cost.ndim != 2 or cost.shape != weight.shape or cost.shape[0] == 0:
        raise ValueError(f"cost {cost.shape} and weight {weight.shape} must both have shape (layers, actions) with layers >= 1")
    lightest = weight.min(axis=1)
    if lightest.sum() > budget:
        raise ValueError(f"no assignment fits: the lightest design weighs {lightest.sum():.6g} > budget {budget:.6g}")
    fronts = [pareto_front(c, w) for c, w in zip(cost, weight)]
    # remaining[l]: the least weight layers l.. can add
    remaining = np.concatenate([np.cumsum(lightest[::-1])[::-1], [0.0]])
    increments = [_hull_increments(c, w, f) for c, w, f in zip(cost, weight, fronts)]
    start_c = np.array([c[f][np.argmin(w[f])] for c, w, f in zip(cost, weight, fronts)])  # cost at the lightest action
    suffix_c = np.concatenate([np.cumsum(start_c[::-1])[::-1], [0.0]])
    curves = _lp_bound_curves(increments, remaining, suffix_c)
    upper = _greedy_upper_bound(increments, float(start_c.sum()), float(lightest.sum()), budget)
    slack = 1e-9 * max(abs(upper), 1.0)  # floating-point guard: never prune the optimum
    state_w, state_c = np.zeros(1), np.zeros(1)
    parents, options = [], []
    for layer, front in enumerate(fronts):
        w = (state_w[:, None] + weight[layer, front][None, :]).ravel()
        c = (state_c[:, None] + cost[layer, front][None, :]).ravel()
        keep = w + remaining[layer + 1] <= budget
        bw, bc = curves[layer + 1]
        # LP bound of the remaining layers given the weight they may still use (flat beyond the curve's end)
        # clamp: a state that passed the feasibility test may sit a rounding error below bw[0]
        room = np.maximum(budget - w, bw[0])
        bound = np.interp(room, bw, bc, right=bc[-1]) if bw.size > 1 else np.zeros_like(w)
        keep &= c + bound <= upper + slack
        idx = np.flatnonzero(keep)
        order = idx[np.lexsort((c[idx], w[idx]))]  # by weight, then cost
        c_sorted = c[order]
        # a pair survives if its cost is below every lighter (or equally heavy, earlier) pair's
        prev_min = np.minimum.accumulate(np.concatenate([[np.inf], c_sorted[:-1]]))
        order = order[c_sorted < prev_min]
        state_w, state_c = w[order], c[order]
        parents.append(order // front.size)
        options.append(front[order % front.size])
    best = int(np.argmin(state_c))
    choice = np.empty(len(fronts), dtype=np.int64)
    for layer in range(len(fronts) - 1, -1, -1):
        choice[layer] = options[layer][best]
        best = int(parents[layer][best])
    layers = np.arange(len(fronts))
    return ExactSolution(
        choice=choice,
        objective=float(cost[layers, choice].sum()),
        weight=float(weight[layers, choice].sum()),
        candidates=int(sum(f.size for f in fronts)),
        states=int(max(p.size for p in parents)),
    )
