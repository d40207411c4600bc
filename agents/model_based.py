"""Model-based RL for the resource-assignment environment: learn the per-step reward model from
interaction, then plan on it.

The environment's objective (latency or energy) and its budget (area or power) are sums of
per-layer terms, and each step reports its layer's raw cost in ``info``
(``layer_latency_cycles`` / ``layer_energy_pj`` and ``layer_<area|power>``). The agent

1. **explores**: runs episodes on the native vector env, choosing at each step a (PE, buffer)
   action of the current layer it has not observed yet among those the env's ``action_mask``
   allows (so no episode breaks the budget), else the observed allowed action of least
   constraint cost, to leave room for later layers;
2. **plans**: solves the multiple-choice knapsack on the learned (layer, action) tables with
   :func:`~codesign_gym.agents.exact.solve_multiple_choice_knapsack`, unobserved actions
   excluded;
3. **acts**: plays the planned design in one more episode; that episode's outcome (from the
   env, not the model) is the result.

Every episode counts as one design evaluation. The agent sees only what the environment
returns; it reaches the exact optimum once it has observed every action the optimum uses,
which on ConfuciuX's problems takes a few hundred episodes. It relies on separability, so it
refuses ``objective="edp"`` (not a sum over layers).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from codesign_gym.agents.exact import solve_multiple_choice_knapsack
from codesign_gym.envs.resource_assignment import ResourceAssignmentVectorEnv


@dataclasses.dataclass
class ModelBasedTrace:
    """Best feasible objective seen after each batch of episodes (``nan`` until one is feasible)."""

    evals: list[int] = dataclasses.field(default_factory=list)
    wall_s: list[float] = dataclasses.field(default_factory=list)
    best_objective: list[float] = dataclasses.field(default_factory=list)
    best_design: np.ndarray | None = None  # (2L,) level indices: PE levels then buffer levels
    observed_fraction: float = 0.0
    planned_objective: float = float("nan")  # the plan's objective under the learned model


def run_model_based(env: ResourceAssignmentVectorEnv, budget: int, seed: int = 0,
                    on_batch: Callable[[ModelBasedTrace], None] | None = None) -> ModelBasedTrace:
    """Explore for up to ``budget - 1`` episodes, plan, and play the plan (see the module docstring)."""
    problem = env.problem
    if problem.objective == "edp":
        raise ValueError("the model-based agent needs a separable objective; got objective='edp' (expected latency or energy)")
    if budget < 2:
        raise ValueError(f"budget={budget}: the model-based agent needs at least 2 episodes (explore, then act)")
    L, P, B = problem.num_layers, problem.num_pe_levels, problem.num_buffer_levels
    A = P * B
    objective_key = "layer_latency_cycles" if problem.objective == "latency" else "layer_energy_pj"
    constraint_key = f"layer_{problem.budget.kind}"
    cost = np.full((L, A), np.nan)
    weight = np.full((L, A), np.nan)
    rng = np.random.default_rng(seed)
    trace = ModelBasedTrace()
    start = time.perf_counter()
    n = env.num_envs
    obs, info = env.reset(seed=seed)
    mask = info["action_mask"]
    t = np.zeros(n, dtype=np.int64)  # step within the episode (layer order is fixed: layer t)
    resetting = np.zeros(n, dtype=bool)
    episodes = 0
    best = np.inf
    explore_budget = budget - 1
    while np.isnan(cost).any():
        # Every episode begun counts, finished or not: stop before this step would begin more
        # than the exploration budget allows.
        starting = (t == 0) & ~resetting
        if episodes + int(np.sum(t > 0)) + int(np.sum(starting)) > explore_budget:
            break
        layer = np.minimum(t, L - 1)
        unobserved = np.isnan(cost[layer]) & mask  # (n, A)
        keys = np.where(unobserved, rng.random((n, A)), -1.0)
        pick = np.argmax(keys, axis=1)
        # Fallback: the allowed observed action of least constraint cost (any allowed one if none).
        known = np.where(mask, np.nan_to_num(weight[layer], nan=np.inf), np.inf)
        fallback = np.where(np.isfinite(known.min(axis=1)), np.argmin(known, axis=1), np.argmax(mask, axis=1))
        action_flat = np.where(unobserved.any(axis=1), pick, fallback)
        actions = np.stack([action_flat // B, action_flat % B], axis=1)
        obs, reward, terminated, truncated, info = env.step(actions)
        stepped = ~resetting
        rows = np.flatnonzero(stepped)
        lay = info["layer"][rows]
        cost[lay, action_flat[rows]] = info[objective_key][rows]
        weight[lay, action_flat[rows]] = info[constraint_key][rows]
        done = terminated & stepped
        for r in np.flatnonzero(done):
            episodes += 1
            if info["feasible"][r] and info["layers_done"][r] == L:
                best = min(best, float(info["objective"][r]))
        t = np.where(stepped, t + 1, 0)
        t = np.where(done, 0, t)
        resetting = done
        mask = info["action_mask"]
        if done.any():
            trace.evals.append(episodes)
            trace.wall_s.append(time.perf_counter() - start)
            trace.best_objective.append(best if np.isfinite(best) else float("nan"))
            if on_batch is not None:
                on_batch(trace)
    # Episodes cut short when exploration ends were still (partial) designs tried: count them.
    episodes += int(np.sum((t > 0) & ~resetting))
    trace.observed_fraction = float(np.mean(~np.isnan(cost)))
    # Plan on the learned tables; unobserved actions get a weight beyond the budget.
    over = problem.budget.value * 2 + 1.0
    plan = solve_multiple_choice_knapsack(np.nan_to_num(cost, nan=np.nanmax(cost) * 10), np.nan_to_num(weight, nan=over),
                                          problem.budget.value)
    trace.planned_objective = float(plan.objective)
    design = np.concatenate([plan.choice // B, plan.choice % B]).astype(np.int64)
    evaluation = problem.score(design[None, :])  # playing the plan: one more whole-design evaluation
    episodes += 1
    if bool(evaluation.feasible[0]):
        best = min(best, float(evaluation.objective[0]))
        trace.best_design = design
    trace.evals.append(episodes)
    trace.wall_s.append(time.perf_counter() - start)
    trace.best_objective.append(best if np.isfinite(best) else float("nan"))
    if on_batch is not None:
        on_batch(trace)
    return trace
