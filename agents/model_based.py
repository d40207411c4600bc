"""``model_based``: model-based RL for the resource-assignment environment: learn the per-step
reward model from interaction, then plan on it.

The environment's objective (latency or energy) and its budget (area or power) are sums of
per-layer terms, and each step reports its layer's raw cost in ``info``
(``layer_latency_cycles`` / ``layer_energy_pj`` and ``layer_<area|power>``). The agent

1. **explores**: runs episodes on the native vector env, choosing at each step a (PE, buffer)
   action of the current layer it has not observed yet among those the env's exact joint mask
   (``joint_action_masks()``) allows (so no episode breaks the budget), else the observed allowed action of least
   constraint cost, to leave room for later layers;
2. **plans**: solves the multiple-choice knapsack on the learned (layer, action) tables with
   :func:`~codesign_gym.envs.knapsack.solve_multiple_choice_knapsack`, unobserved actions
   excluded;
3. **acts**: plays the planned design once more; its outcome (from the problem, not the model)
   is the result.

Every episode begun counts as one design evaluation: an ended episode's design is evaluated by
the env through the problem (its final ``info``), an episode cut short when exploration ends is
evaluated as its partial design (unset layers at level 0), and the plan is one more evaluation.
The agent sees only what the environment returns; it reaches the exact optimum once it has
observed every action the optimum uses, which on ConfuciuX's problems takes a few hundred
episodes. It relies on separability, so it refuses ``objective="edp"`` (not a sum over layers).
"""

from __future__ import annotations

import numpy as np

from codesign_gym.agents.method import BestSoFar, Method, ProgressCallback, Trace, check_budget
from codesign_gym.envs.knapsack import solve_multiple_choice_knapsack
from codesign_gym.envs.problem import Evaluation, Problem


def _final_evaluation(info: dict, rows: np.ndarray) -> Evaluation:
    """The evaluation the env's final ``info`` reports for the sub-envs ``rows``."""
    return Evaluation(info["fitness"][rows], info["objective"][rows], info["feasible"][rows], info["overshoot"][rows])


class _Explorer:
    """Exploration state: the learned tables ``cost``/``weight`` (L, P*B), NaN where unobserved,
    and the episode bookkeeping of the vector env's ``n`` sub-envs."""

    def __init__(self, env, rng: np.random.Generator):
        p = env.problem
        L, A = p.num_layers, p.num_pe_levels * p.num_buffer_levels
        self.env, self.p, self.rng, self.L, self.A = env, p, rng, L, A
        self.cost_key = "layer_latency_cycles" if p.objective.name == "latency" else "layer_energy_pj"
        self.weight_key = f"layer_{p.budget.kind}"
        self.cost, self.weight = np.full((L, A), np.nan), np.full((L, A), np.nan)
        self.t = np.zeros(env.num_envs, dtype=np.int64)  # step within the episode (layer order is fixed: layer t)
        self.resetting = np.zeros(env.num_envs, dtype=bool)

    def actions(self, mask: np.ndarray) -> np.ndarray:
        """Flat actions (n,): an unobserved allowed action of the current layer, else the allowed
        observed action of least constraint cost (any allowed one if none)."""
        n, layer = self.env.num_envs, np.minimum(self.t, self.L - 1)
        unobserved = np.isnan(self.cost[layer]) & mask  # (n, A)
        keys = np.where(unobserved, self.rng.random((n, self.A)), -1.0)
        pick = np.argmax(keys, axis=1)
        known = np.where(mask, np.nan_to_num(self.weight[layer], nan=np.inf), np.inf)
        fallback = np.where(np.isfinite(known.min(axis=1)), np.argmin(known, axis=1), np.argmax(mask, axis=1))
        return np.where(unobserved.any(axis=1), pick, fallback)

    def step(self, flat: np.ndarray) -> tuple[dict, np.ndarray]:
        """Step the env with flat actions; learn from the stepped rows; returns (info, ended rows)."""
        pe, buffer = self.p.split_action(flat)
        _, _, terminated, _, info = self.env.step(np.stack([pe, buffer], axis=1))
        stepped = ~self.resetting
        rows = np.flatnonzero(stepped)
        lay = info["layer"][rows]
        self.cost[lay, flat[rows]] = info[self.cost_key][rows]
        self.weight[lay, flat[rows]] = info[self.weight_key][rows]
        done = terminated & stepped
        self.t = np.where(done, 0, np.where(stepped, self.t + 1, 0))
        self.resetting = done
        return info, done

    def cut_short(self) -> np.ndarray:
        """Designs (k, 2L) of the episodes under way (begun, not ended), unset layers at level 0."""
        return self.env._ep.final_designs()[(self.t > 0) & ~self.resetting]


class ModelBased(Method):
    """Model-based RL (see the module docstring) on a :class:`ResourceAssignmentVectorEnv` of
    ``min(num_envs, budget - 1)`` sub-envs over the problem; needs a budget of at least 2
    evaluations (explore, act)."""

    name = "model_based"

    def __init__(self, num_envs: int = 64):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs={num_envs!r}: expected a positive number of sub-envs")
        self.num_envs = int(num_envs)

    def supports(self, problem: Problem) -> str | None:
        from codesign_gym.envs.resource_assignment import ResourceAssignmentProblem

        if not isinstance(getattr(problem, "problem", problem), ResourceAssignmentProblem):
            return f"{problem.label} is not a resource-assignment problem; model_based needs per-layer costs"
        if not problem.separable:
            return f"model_based needs a separable objective; got objective={problem.objective.name!r} (expected latency or energy)"
        return None

    def run(self, problem: Problem, budget: int, seed: int, on_progress: ProgressCallback | None = None) -> Trace:
        """Explore for up to ``budget - 1`` episodes, plan, and play the plan (see the module docstring).
        The env is built over ``problem`` as given, so every evaluation goes through it."""
        from codesign_gym.envs.resource_assignment import ResourceAssignmentVectorEnv

        why = self.supports(problem)
        if why:
            raise ValueError(why)
        if check_budget(budget) < 2:
            raise ValueError(f"budget={budget}: the model-based agent needs at least 2 episodes (explore, then act)")
        # at most budget - 1 sub-envs, so the first episodes fit the exploration budget
        env = ResourceAssignmentVectorEnv(num_envs=min(self.num_envs, budget - 1), problem=problem)
        best = BestSoFar(self.name, on_progress)
        explorer = _Explorer(env, np.random.default_rng(seed))
        env.reset(seed=seed)
        self._explore(explorer, budget - 1, best)
        cut = explorer.cut_short()  # episodes cut short when exploration ends were still (partial) designs tried
        if len(cut):
            best.observe(cut, problem.evaluate(cut))
        observed = float(np.mean(~np.isnan(explorer.cost)))
        # Plan on the learned tables; unobserved actions get a weight beyond the budget.
        limit = problem.budget.value
        plan = solve_multiple_choice_knapsack(np.nan_to_num(explorer.cost, nan=np.nanmax(explorer.cost) * 10),
                                              np.nan_to_num(explorer.weight, nan=limit * 2 + 1.0), limit)
        design = problem.design_of(plan.choice)[None, :]
        best.observe(design, problem.evaluate(design))  # playing the plan: one more whole-design evaluation
        best.trace.extras = {"observed_fraction": observed, "planned_objective": float(plan.objective)}
        return best.trace

    @staticmethod
    def _explore(explorer: _Explorer, explore_budget: int, best: BestSoFar) -> None:
        """Run episodes until every action is observed or the next step would begin more than
        ``explore_budget`` episodes in all (every episode begun counts, finished or not)."""
        ended = 0
        while np.isnan(explorer.cost).any():
            starting = (explorer.t == 0) & ~explorer.resetting
            if ended + int(np.sum(explorer.t > 0)) + int(np.sum(starting)) > explore_budget:
                break
            info, done = explorer.step(explorer.actions(explorer.env.joint_action_masks()))
            if done.any():
                rows = np.flatnonzero(done)
                ended += rows.size
                best.observe(info["design"][rows], _final_evaluation(info, rows))


__all__ = ["ModelBased"]
