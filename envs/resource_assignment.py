"""``codesign/ResourceAssignment-v0``: give each DNN layer PEs and a buffer level (ConfuciuX).

One episode configures a whole model, one layer per step. The action is a pair of level
indices ``(pe_level, buffer_level)`` into the PE and buffer tables (ConfuciuX's by default).
The per-layer cost comes from the dataflow cost model, priced for every action once at
construction (:mod:`codesign_gym.costmodels.resource_assignment`), so a step is an index.

:class:`ResourceAssignmentProblem` is the problem (design space, batched :meth:`evaluate`, exact
optimum); the single env and the natively batched vector env are episode layers over it that
share :class:`_Episodes` (the batched episode logic). A design is the (2L,) vector of PE level
indices then buffer level indices; :meth:`ResourceAssignmentProblem.action_index` /
:meth:`~ResourceAssignmentProblem.split_action` are the one mapping between a per-layer (PE,
buffer) pair and its flat index into the (L, P*B) cost tables. See
``docs/envs/resource_assignment.md`` for spaces, reward and ``info`` keys.
"""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from codesign_gym.costmodels.dataflow import ALIASES as DATAFLOW_ALIASES
from codesign_gym.costmodels.resource_assignment import (
    CFX_BUFFER_LEVELS,
    CFX_PE_LEVELS,
    OBJECTIVES,
    Budget,
    LayerCostTable,
    corner_budget,
    layer_cost_table,
)
from codesign_gym.costmodels.workloads import LayerTable, LayerType, get_workload
from codesign_gym.envs.action_masks import MaskRows, dimension_masks
from codesign_gym.envs.episode_info import final_info, final_info_batch
from codesign_gym.envs.options import make_problem
from codesign_gym.envs.problem import DesignSpace, Evaluation, KnownPoint, Objective, Problem
from codesign_gym.envs.vector_base import AutoresetVectorEnv, check_actions, check_started

_DIMS = ("K", "C", "Y", "X", "R", "S", "stride")
_NUM_TYPES = len(LayerType)
#: Unit of each objective.
OBJECTIVE_UNITS = {"latency": "cycles", "energy": "pJ", "edp": "cycles*pJ"}
#: MAESTRO's area and power units (its closed forms, :mod:`codesign_gym.costmodels.dataflow.hardware`).
CONSTRAINT_UNITS = {"area": "um^2 (MAESTRO)", "power": "mW (MAESTRO)"}
#: (metric, unit, table field) of the summed per-layer metrics :meth:`ResourceAssignmentProblem.evaluate` reports.
_SUMMED = (("latency_cycles", "cycles", "runtime_cycles"), ("energy_pj", "pJ", "energy_pj"),
           ("area", CONSTRAINT_UNITS["area"], "area"), ("power", CONSTRAINT_UNITS["power"], "power"))


class ResourceAssignmentProblem(Problem):
    """The priced problem: cost tables, budget, reward normalisation and batched design evaluation.

    A design is the (2L,) vector ``[pe_0 .. pe_{L-1}, buffer_0 .. buffer_{L-1}]`` of level
    indices, in the workload's layer order.

    Args:
        workload: zoo name, ``cfx/<name>``, path of a layer-table CSV, or a :class:`LayerTable`.
        dataflow: a built-in dataflow name (``cfx_dla``/``dla``, ``cfx_shi``/``shi``, ``cfx_eye``/``eye``, ``kcp``, ...).
        objective: ``latency`` (cycles), ``energy`` (pJ, MAESTRO's total) or ``edp`` (whole-model
            latency x energy, cycles*pJ, not separable).
        constraint: ``area`` or ``power``; may carry the ratio as ``"area:0.5"``.
        constraint_ratio: budget = low + ratio * (high - low) over ConfuciuX's four corner designs; 0 < ratio <= 1.
        pe_levels, buffer_levels: the level tables (ConfuciuX's by default).
    """

    env_id = "codesign/ResourceAssignment-v0"

    def __init__(
        self,
        workload: str | LayerTable = "cfx/mobilenet_v2",
        dataflow: str = "cfx_dla",
        objective: str = "latency",
        constraint: str = "area",
        constraint_ratio: float | None = None,
        pe_levels: Sequence[int] = CFX_PE_LEVELS,
        buffer_levels: Sequence[int] = CFX_BUFFER_LEVELS,
    ):
        if objective not in OBJECTIVES:
            raise ValueError(f"objective {objective!r} is not known; expected one of {OBJECTIVES}")
        kind, ratio = _parse_constraint(constraint, constraint_ratio)
        self.layers = workload if isinstance(workload, LayerTable) else get_workload(workload)
        if len(self.layers) == 0:
            raise ValueError("the layer table is empty; expected at least one layer")
        self.dataflow = DATAFLOW_ALIASES.get(dataflow, dataflow)
        self.objective = Objective(objective, OBJECTIVE_UNITS[objective], "min")
        self.table: LayerCostTable = layer_cost_table(self.layers, self.dataflow, pe_levels, buffer_levels)
        self.budget: Budget = corner_budget(self.table, kind, ratio)
        self.num_layers = len(self.layers)
        self.num_pe_levels = int(self.table.pe_levels.size)
        self.num_buffer_levels = int(self.table.buffer_levels.size)
        L = self.num_layers
        self.space = DesignSpace([f"pe_{i}" for i in range(L)] + [f"buffer_{i}" for i in range(L)],
                                 [self.num_pe_levels] * L + [self.num_buffer_levels] * L)
        self._options = _options(workload, dataflow, objective, constraint, constraint_ratio, pe_levels, buffer_levels)
        constraint_name = str(constraint) if constraint_ratio is None else f"{kind}:{ratio}"
        self._label = f"{self._options['workload']}|{dataflow}|{objective}|{constraint_name}"

        flat = lambda a: a.reshape(L, -1)  # noqa: E731  (L, P*B), column = action_index(pe, buffer)
        self.latency = flat(self.table.runtime_cycles)
        self.energy = flat(self.table.energy_pj)
        self.constraint_cost = flat(self.table.metric(kind))
        self._summed = {name: flat(getattr(self.table, field)) for name, _, field in _SUMMED}
        # Normalisation: the unconstrained lower bound, sum over layers of the cheapest action.
        self.latency_norm = float(self.latency.min(axis=1).sum())
        self.energy_norm = float(self.energy.min(axis=1).sum())
        self.layer_dims_norm = self._normalised_dims()

    @property
    def label(self) -> str:
        """``"{workload}|{dataflow}|{objective}|{constraint}"`` as given (the ``problem`` column of results)."""
        return self._label

    # ------------------------------------------------------------------ the grid: one indexing
    def action_index(self, pe: np.ndarray, buffer: np.ndarray) -> np.ndarray:
        """Flat action index ``pe * B + buffer`` (any shape) into the (L, P*B) cost tables."""
        return np.asarray(pe) * self.num_buffer_levels + np.asarray(buffer)

    def split_action(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(PE level index, buffer level index) of flat action indices (any shape)."""
        return np.divmod(np.asarray(action), self.num_buffer_levels)

    def layer_actions(self, designs: np.ndarray) -> np.ndarray:
        """Flat action index of every layer, (N, L), of designs (N, 2L)."""
        L = self.num_layers
        return self.action_index(designs[:, :L], designs[:, L:])

    def design_of(self, actions: np.ndarray) -> np.ndarray:
        """Designs (..., 2L) int64 from per-layer flat action indices (..., L)."""
        pe, buffer = self.split_action(actions)
        return np.concatenate([pe, buffer], axis=-1).astype(np.int64)

    # ------------------------------------------------------------------ evaluation
    def objective_of(self, latency: np.ndarray, energy: np.ndarray) -> np.ndarray:
        """Whole-model objective from summed latency (cycles) and energy (pJ)."""
        if self.objective.name == "latency":
            return latency
        if self.objective.name == "energy":
            return energy
        return latency * energy

    @property
    def separable(self) -> bool:
        """Whether the objective is a sum of per-layer costs (latency, energy; not edp)."""
        return self.objective.name != "edp"

    @property
    def objective_norm(self) -> float:
        """The objective's unconstrained lower bound (per-layer cheapest actions); rewards divide by it."""
        return float(self.objective_of(np.float64(self.latency_norm), np.float64(self.energy_norm)))

    @property
    def worst_objective(self) -> float:
        """The objective of the costliest design (every layer at its costliest action): an upper
        bound on any design's objective, used to rank infeasible designs below feasible ones."""
        return float(self.objective_of(self.latency.max(axis=1).sum(), self.energy.max(axis=1).sum()))

    def infeasible_fitness(self, overshoot: np.ndarray) -> np.ndarray:
        """The penalty of a design ``overshoot`` (fraction of the budget, >= 0) over budget:
        ``worst_objective / objective_norm * (1 + overshoot)``, above every feasible fitness.
        Fitness of infeasible designs and (negated) the return of over-budget episodes."""
        return self.worst_objective / self.objective_norm * (1.0 + np.asarray(overshoot))

    def evaluate(self, designs: np.ndarray) -> Evaluation:
        """Evaluate designs (N, 2L) int.

        ``fitness`` is the objective over :attr:`objective_norm` when feasible, else
        :meth:`infeasible_fitness`; ``objective`` is the raw objective (also of an infeasible
        design). Metrics (N,): ``latency_cycles``, ``energy_pj``, ``edp`` (cycles*pJ), summed
        ``area`` and ``power``, ``budget_used`` (the summed constraint kind) and ``budget`` (its limit).
        """
        designs = self.space.check(designs)
        actions = self.layer_actions(designs)
        layer = np.arange(self.num_layers)
        metrics = {name: self._summed[name][layer, actions].sum(axis=-1) for name, _, _ in _SUMMED}
        metrics["edp"] = metrics["latency_cycles"] * metrics["energy_pj"]
        metrics["budget_used"] = metrics[self.budget.kind]
        metrics["budget"] = np.full(len(designs), self.budget.value)
        objective = self.objective_of(metrics["latency_cycles"], metrics["energy_pj"])
        feasible = metrics["budget_used"] <= self.budget.value
        overshoot = np.maximum(metrics["budget_used"] - self.budget.value, 0.0) / self.budget.value
        fitness = np.where(feasible, objective / self.objective_norm, self.infeasible_fitness(overshoot))
        units = {name: unit for name, unit, _ in _SUMMED}
        units.update(edp="cycles*pJ", budget_used=CONSTRAINT_UNITS[self.budget.kind], budget=CONSTRAINT_UNITS[self.budget.kind])
        return Evaluation(fitness, objective, feasible, overshoot, metrics, units)

    def to_config(self, design: np.ndarray) -> dict[str, Any]:
        """A design (2L,) as per-layer ``pe`` (PE counts) and ``buffer`` (buffer levels, the dataflow's KTileSz)."""
        design = self.space.check(np.asarray(design)[None, :])[0]
        L = self.num_layers
        return {"pe": self.table.pe_levels[design[:L]].tolist(), "buffer": self.table.buffer_levels[design[L:]].tolist()}

    def optimum(self) -> KnownPoint | None:
        """The exact optimum for separable objectives (latency, energy), None for ``edp``: the
        multiple-choice knapsack over the layer-cost tables (:mod:`codesign_gym.envs.knapsack`;
        it reads the tables and prices no whole design: 0 evaluations). Solved once, then cached."""
        return self._once("optimum", self._solve_optimum)

    def _solve_optimum(self) -> KnownPoint | None:
        from codesign_gym.envs.knapsack import solve_multiple_choice_knapsack

        if not self.separable:
            return None
        cost = self.latency if self.objective.name == "latency" else self.energy
        sol = solve_multiple_choice_knapsack(cost, self.constraint_cost, self.budget.value)
        return KnownPoint(sol.objective, self.design_of(sol.choice), "multiple-choice knapsack")

    def _normalised_dims(self) -> np.ndarray:
        """Per-layer features in [0, 1]: dims / model max (as ConfuciuX) and a one-hot layer type; shape (L, 7 + 4)."""
        dims = np.stack([getattr(self.layers, d) for d in _DIMS], axis=1).astype(np.float64)
        dims = dims / np.maximum(dims.max(axis=0, keepdims=True), 1)
        onehot = np.eye(_NUM_TYPES)[self.layers.type - 1]
        return np.concatenate([dims, onehot], axis=1)


def _options(workload, dataflow, objective, constraint, constraint_ratio, pe_levels, buffer_levels) -> dict[str, Any]:
    """The JSON-able keyword options that rebuild the problem (a LayerTable workload by its name)."""
    options: dict[str, Any] = {"workload": workload.name if isinstance(workload, LayerTable) else str(workload),
                               "dataflow": dataflow, "objective": objective, "constraint": constraint}
    if constraint_ratio is not None:
        options["constraint_ratio"] = float(constraint_ratio)
    if tuple(np.asarray(pe_levels).tolist()) != CFX_PE_LEVELS:
        options["pe_levels"] = np.asarray(pe_levels).tolist()
    if tuple(np.asarray(buffer_levels).tolist()) != CFX_BUFFER_LEVELS:
        options["buffer_levels"] = np.asarray(buffer_levels).tolist()
    return options


def _parse_constraint(constraint: str, ratio: float | None) -> tuple[str, float]:
    kind, _, text = str(constraint).partition(":")
    if text:
        try:
            parsed = float(text)
        except ValueError:
            raise ValueError(f"constraint {constraint!r}: ratio {text!r} is not a number; expected e.g. 'area:0.5'") from None
        if ratio is not None and float(ratio) != parsed:
            raise ValueError(f"constraint {constraint!r} and constraint_ratio={ratio!r} disagree; give the ratio once")
        ratio = parsed
    return kind, 0.5 if ratio is None else ratio


class _Episodes:
    """Batched episode state and transitions for ``n`` independent episodes of one problem.

    Arrays: ``order`` (n, L) layer permutation, ``t`` (n,) steps taken, ``used`` (n,) summed
    constraint, ``lat``/``eng`` (n,) summed latency (cycles) / energy (pJ), ``ret`` (n,) return
    so far, ``design`` (n, 2L) chosen level indices in the problem's design layout (-1 unset).
    """

    def __init__(self, problem: ResourceAssignmentProblem, n: int, shuffle: bool):
        self.p = problem
        self.n = n
        self.shuffle = shuffle
        L = problem.num_layers
        self.order = np.tile(np.arange(L), (n, 1))
        self.t = np.zeros(n, dtype=np.int64)
        self.used = np.zeros(n)
        self.lat = np.zeros(n)
        self.eng = np.zeros(n)
        self.ret = np.zeros(n)
        self.prev = np.zeros((n, 2), dtype=np.int64)
        self.design = np.full((n, 2 * L), -1, dtype=np.int64)
        # Per-layer bounds used for masks and penalties.
        self._min_constraint = problem.constraint_cost.min(axis=1)
        self._suffix_min_constraint = np.zeros((n, L + 1))

    def reset(self, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Start new episodes in the rows selected by the boolean mask ``rows`` (n,)."""
        k = int(rows.sum())
        if k == 0:
            return
        L = self.p.num_layers
        order = rng.permuted(np.tile(np.arange(L), (k, 1)), axis=1) if self.shuffle else np.tile(np.arange(L), (k, 1))
        self.order[rows] = order
        # constraint the later layers need at least, from each step on (episode order)
        vals = self._min_constraint[order]
        self._suffix_min_constraint[rows, :L] = np.cumsum(vals[:, ::-1], axis=1)[:, ::-1]
        self._suffix_min_constraint[rows, L] = 0.0
        for arr in (self.t, self.used, self.lat, self.eng, self.ret, self.prev):
            arr[rows] = 0
        self.design[rows] = -1

    def final_designs(self) -> np.ndarray:
        """(n, 2L) designs of the episodes, layers not configured (an episode that went over
        budget) at level index 0 (still over budget: level 0 costs more than nothing)."""
        return np.maximum(self.design, 0)

    def step(self, action: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Apply ``action`` (n, 2) level indices to the rows where ``active`` (n,) is True.

        Returns reward (n,), terminated (n,) and info arrays (n, ...); inactive rows get reward 0,
        terminated False and their state unchanged.
        """
        p, rows = self.p, np.arange(self.n)
        L = p.num_layers
        layer = self.order[rows, np.minimum(self.t, L - 1)]
        flat = p.action_index(action[:, 0], action[:, 1])
        lat = np.where(active, p.latency[layer, flat], 0.0)
        eng = np.where(active, p.energy[layer, flat], 0.0)
        cost = np.where(active, p.constraint_cost[layer, flat], 0.0)
        self.lat += lat
        self.eng += eng
        self.used += cost
        idx = np.flatnonzero(active)
        self.design[idx, layer[idx]] = action[idx, 0]
        self.design[idx, L + layer[idx]] = action[idx, 1]
        self.prev[idx] = action[idx]
        self.t[idx] += 1

        over = self.used > p.budget.value
        done = self.t >= L
        terminated = (over | done) & active
        # Return the episode would have if it ended here (feasible and complete or not).
        complete_return = -p.objective_of(self.lat, self.eng) / p.objective_norm
        # separable: -sum of per-layer costs so far; edp: nothing until the model is complete
        running_return = complete_return if p.separable else np.where(done, complete_return, 0.0)
        # Over budget: the return becomes minus the problem's infeasible fitness (worst design's
        # objective scaled up by the overshoot), so it ranks below every feasible episode.
        overshoot = (self.used - p.budget.value) / p.budget.value
        new_return = np.where(over, -p.infeasible_fitness(overshoot), running_return)
        reward = np.where(active, new_return - self.ret, 0.0)
        self.ret = np.where(active, new_return, self.ret)

        info = {
            "layer": layer,
            "pe": p.table.pe_levels[action[:, 0]],
            "buffer": p.table.buffer_levels[action[:, 1]],
            "layer_latency_cycles": lat,
            "layer_energy_pj": eng,
            f"layer_{p.budget.kind}": cost,
            "latency_cycles": self.lat.copy(),
            "energy_pj": self.eng.copy(),
            "edp": self.lat * self.eng,
            "budget_used": self.used.copy(),
            "budget": np.full(self.n, p.budget.value),
            "feasible": ~over,  # budget respected so far
            "layers_done": self.t.copy(),
        }
        return reward, terminated, info

    def observe(self) -> np.ndarray:
        """Observation rows (n, obs_dim), float32: next layer's features, step fraction,
        previous action (level / (levels - 1)) and fraction of budget used."""
        p = self.p
        L = p.num_layers
        has_next = self.t < L
        nxt = self.order[np.arange(self.n), np.minimum(self.t, L - 1)]
        feats = np.where(has_next[:, None], p.layer_dims_norm[nxt], 0.0)
        prev = self.prev / np.array([max(p.num_pe_levels - 1, 1), max(p.num_buffer_levels - 1, 1)])
        obs = np.concatenate(
            [feats, (self.t / L)[:, None], prev, (self.used / p.budget.value)[:, None]], axis=1
        )
        return obs.astype(np.float32)

    def joint_mask(self) -> np.ndarray:
        """(n, P*B) bool over flat action indices: actions for the next layer that keep the budget
        reachable, assuming every later layer takes its cheapest action. All True where nothing
        fits (or the episode is over)."""
        p = self.p
        L = p.num_layers
        rows = np.arange(self.n)
        t = np.minimum(self.t, L - 1)
        nxt = self.order[rows, t]
        room = p.budget.value - self.used - self._suffix_min_constraint[rows, t + 1]
        mask = p.constraint_cost[nxt] <= room[:, None]
        none = ~mask.any(axis=1) | (self.t >= L)
        mask[none] = True
        return mask

    def dim_masks(self) -> np.ndarray:
        """Per-dimension masks (n, P + B) of :meth:`joint_mask`: a level is allowed if some partner
        fits (the flat index is row-major over (PE, buffer), see ``action_index``)."""
        return dimension_masks(self.joint_mask(), np.array([self.p.num_pe_levels, self.p.num_buffer_levels]))


def _observation_space(problem: ResourceAssignmentProblem, with_mask: bool) -> spaces.Space:
    feat_dim = problem.layer_dims_norm.shape[1]
    max_fraction = problem.constraint_cost.max(axis=1).sum() / problem.budget.value
    high = np.concatenate([np.ones(feat_dim + 3), [max_fraction]]).astype(np.float32)
    box = spaces.Box(low=np.zeros_like(high), high=high, dtype=np.float32)
    if not with_mask:
        return box
    return spaces.Dict({"observation": box, "action_mask": spaces.MultiBinary(problem.num_pe_levels + problem.num_buffer_levels)})


def _flag(name: str, value: Any) -> bool:
    """An env option that is a bool; ValueError naming it otherwise."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"option {name}={value!r}; expected a bool")
    return bool(value)


def _check_levels(problem: ResourceAssignmentProblem, space: spaces.MultiDiscrete, actions: Any, num_envs: int | None,
                  active: np.ndarray) -> np.ndarray:
    """(N, 2) int64 (pe, buffer) level indices of a single env's action (``num_envs`` None, N = 1)
    or a vector env's ``num_envs`` actions, checked alike (:func:`check_actions`, then the level
    range in the ``active`` rows; the others autoreset and become (0, 0)).

    Raises:
        ValueError: naming the action (and sub-env) and the level ranges expected.
    """
    act = np.where(active[:, None], check_actions(space, actions, num_envs, active), 0)
    limits = np.array([problem.num_pe_levels, problem.num_buffer_levels])
    bad = np.flatnonzero(((act < 0) | (act >= limits)).any(axis=1))
    if bad.size:
        i = int(bad[0])
        where = f"action {actions!r}" if num_envs is None else f"action {act[i].tolist()} of sub-env {i}"
        raise ValueError(f"{where} is outside the action space; expected two integer level indices (pe in 0..{limits[0] - 1}, "
                         f"buffer in 0..{limits[1] - 1})")
    return act


class _Masks(MaskRows):
    """The envs' masks: the joint mask of :meth:`_Episodes.joint_mask` (exact: actions after which
    a feasible design is still reachable) and its per-dimension relaxation, ``action_masks()``."""

    _ep: _Episodes

    def _action_mask_rows(self) -> np.ndarray:
        return self._ep.dim_masks()

    def _joint_mask_rows(self) -> np.ndarray:
        return self._ep.joint_mask()

    def _mask_observation(self, obs: np.ndarray):
        """``obs`` (n, obs_dim), or the Dict observation with the per-dimension ``action_mask`` (int8)."""
        if not self.action_mask_in_obs:
            return obs
        return {"observation": obs, "action_mask": self._ep.dim_masks().astype(np.int8)}


class ResourceAssignmentEnv(_Masks, gym.Env):
    """Single-episode environment. Keyword options are those of :class:`ResourceAssignmentProblem`
    plus ``shuffle_layers`` (new random layer order per episode, as ConfuciuX) and
    ``action_mask_in_obs`` (Dict observation with the per-dimension ``action_mask``).
    ``action_masks()`` (and ``info["action_mask"]``) is the per-dimension mask (P + B,), a
    relaxation of the exact joint mask ``joint_action_masks()`` (P * B,) over flat actions
    ``pe * B + buffer``: levels for which some partner keeps a feasible design reachable. The
    final ``info`` of an episode also carries the problem's final-info keys
    (:mod:`codesign_gym.envs.episode_info`) for the episode's design."""

    metadata = {"render_modes": []}

    def __init__(self, shuffle_layers: bool = False, action_mask_in_obs: bool = False, problem: ResourceAssignmentProblem | None = None, **problem_options: Any):
        self.problem = make_problem(ResourceAssignmentProblem, problem, problem_options)
        self.shuffle_layers = _flag("shuffle_layers", shuffle_layers)
        self.action_mask_in_obs = _flag("action_mask_in_obs", action_mask_in_obs)
        self._ep = _Episodes(self.problem, 1, self.shuffle_layers)
        self.action_space = spaces.MultiDiscrete([self.problem.num_pe_levels, self.problem.num_buffer_levels])
        self.observation_space = _observation_space(self.problem, self.action_mask_in_obs)
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._ep.reset(np.ones(1, dtype=bool), self.np_random)
        self._started = True
        return self._obs(), self._with_action_mask({"budget": self.problem.budget.value})

    def step(self, action):
        check_started(self._started)
        act = _check_levels(self.problem, self.action_space, action, None, np.ones(1, dtype=bool))
        reward, terminated, info = self._ep.step(act, np.ones(1, dtype=bool))
        out = {k: (v[0].item() if np.ndim(v[0]) == 0 else v[0]) for k, v in info.items()}
        if terminated[0]:
            self._started = False
            design = self._ep.final_designs()
            out.update(final_info(self.problem, design, self.problem.evaluate(design), 0))
        return self._obs(), float(reward[0]), bool(terminated[0]), False, self._with_action_mask(out)

    def _obs(self):
        obs = self._mask_observation(self._ep.observe())
        return {k: v[0] for k, v in obs.items()} if isinstance(obs, dict) else obs[0]


class ResourceAssignmentVectorEnv(_Masks, AutoresetVectorEnv):
    """``num_envs`` episodes stepped as arrays, autoreset NEXT_STEP (the step after an episode
    ends resets that sub-env, ignores its action and returns reward 0) or SAME_STEP
    (``autoreset_mode="same_step"``). Same options and masks as :class:`ResourceAssignmentEnv`
    (batched: ``action_masks()`` (num_envs, P + B)); ``info`` values are arrays of shape
    ``(num_envs, ...)``: the step keys masked to the sub-envs that stepped, the final-info keys
    to those whose episode ended."""

    def __init__(self, num_envs: int = 1, shuffle_layers: bool = False, action_mask_in_obs: bool = False,
                 problem: ResourceAssignmentProblem | None = None, autoreset_mode: Any = "next_step", **problem_options: Any):
        super().__init__(num_envs, autoreset_mode)
        self.problem = make_problem(ResourceAssignmentProblem, problem, problem_options)
        self.action_mask_in_obs = _flag("action_mask_in_obs", action_mask_in_obs)
        self._ep = _Episodes(self.problem, self.num_envs, _flag("shuffle_layers", shuffle_layers))
        self._set_single_spaces(spaces.MultiDiscrete([self.problem.num_pe_levels, self.problem.num_buffer_levels]),
                                _observation_space(self.problem, self.action_mask_in_obs))

    def _reset_rows(self, rows: np.ndarray) -> None:
        self._ep.reset(rows, self.np_random)

    def _observe(self):
        return self._mask_observation(self._ep.observe())

    def _reset_info(self) -> dict[str, Any]:
        return {"budget": self.problem.budget.value}

    def step(self, actions):
        # NEXT_STEP autoreset: rows that ended on the previous step start over now, ignoring their action.
        resetting = self._begin_step()
        act = _check_levels(self.problem, self.single_action_space, actions, self.num_envs, ~resetting)
        self._ep.reset(resetting, self.np_random)
        reward, terminated, info = self._ep.step(act, ~resetting)
        # a row that just reset reports no step
        info = self._masked_info(info, ~resetting)
        if terminated.any():
            self._add_final_info(info, terminated)
        return self._step_result(self._observe(), reward, terminated, info)

    def _add_final_info(self, info: dict[str, Any], ended: np.ndarray) -> None:
        """Put the final-info values of the episodes that ``ended`` (num_envs,) into ``info``: keys
        the step also reports take the final value in those rows; the others are masked to them."""
        idx = np.flatnonzero(ended)
        designs = self._ep.final_designs()[idx]
        values = final_info_batch(self.problem, designs, self.problem.evaluate(designs), np.ones(idx.size, dtype=bool))
        for key, value in values.items():
            full = np.empty((self.num_envs,) + value.shape[1:], dtype=value.dtype) if value.dtype == object else \
                np.zeros((self.num_envs,) + value.shape[1:], dtype=value.dtype)
            full[idx] = value
            if key in info:
                info[key] = np.where(ended.reshape((-1,) + (1,) * (value.ndim - 1)), full, info[key])
            else:
                info[key], info["_" + key] = full, ended.copy()
