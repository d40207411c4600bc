"""``codesign/NASAccelerator-v0``: choose a NAS-Bench-201 network and its accelerator together
(NAAS, DAC 2021; CODEBench), for accuracy against energy-delay product.

A design is ``[6 edge ops, 5 sizing levels, 6 importances]`` (see
:mod:`codesign_gym.costmodels.naas.design`): the cell's edges (codes into NAS-Bench-201's
``OPS``), the PE array, scratchpad, global buffer and DRAM bandwidth levels, and one importance
per loop dim ``R, S, P, Q, C, M`` whose order gives the parallel dims and the loop order.
``search="hardware"`` drops the edges (the network is fixed, by default the ResNet cell);
``search="network"`` keeps only the edges (the hardware is the baseline accelerator itself);
``search="nested"`` is the joint search in NAAS's two-level form: the agent picks the hardware and
the network is the best of all 15,625 cells on it (exact, one pricing of the accelerator:
:meth:`~codesign_gym.costmodels.naas.design.NAASSpace.best_networks`).

Modes: ``one_shot`` (one step; ``action="box"``: every entry a real in [0, 1], level entries
quantised and importances used as reals, or ``action="multidiscrete"``: level indices) and
``sequential`` (one decision per step, edges first, then the hardware entries; ``Discrete``).

:class:`NASAcceleratorProblem` is the problem (design space, batched ``evaluate``, reference,
the network search's exact optimum); the single env and the native vector env are episode layers
over it. See ``docs/envs/nas_accelerator.md``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from gymnasium import spaces

from codesign_gym.costmodels.naas.accelerators import CONV_DIMS
from codesign_gym.costmodels.naas.design import (
    DEFAULT_ROUNDS,
    DEFAULT_SAMPLES,
    LOG2_CLIP,
    NUM_DIMS,
    NUM_EDGES,
    NUM_OPS,
    RESNET_INDEX,
    SIZING,
    HardwareDesign,
    NAASSpace,
    importance_order,
)
from codesign_gym.costmodels.workloads import nb201
from codesign_gym.envs.options import make_problem
from codesign_gym.envs.problem import DesignSpace, Evaluation, KnownPoint, Objective, Problem
from codesign_gym.envs.sequential import SequentialChoices
from codesign_gym.envs.vector_base import EpisodeBatchVectorEnv, EpisodeEnv

OBJECTIVES = ("scalarized", "constrained")
MODES = ("one_shot", "sequential")
ACTIONS = ("box", "multidiscrete")
SEARCHES = ("joint", "hardware", "network", "nested")
#: The constrained objective: EDP (pJ x cycles) subject to the accuracy target and the budgets.
EDP = Objective("edp", "pJ*cycles", "min")
#: The scalarized objective: ``-(accuracy_weight * (acc - acc_ref) [pp] - edp_weight * log2(EDP / EDP_ref))``, the negated reward.
NEG_REWARD = Objective("negative_reward", "1", "min")
#: Units of :meth:`NASAcceleratorProblem.evaluate`'s metrics (also their order).
METRIC_UNITS = {
    "accuracy": "%", "latency_cycles": "cycles", "latency_ms": "ms", "energy_pj": "pJ", "edp": "pJ*cycles", "edp_reduction": "1",
    "log2_edp_ratio": "1", "num_pes": "PEs", "onchip_bytes": "B", "dram_words_per_cycle": "words/cycle", "area_mm2": "mm^2",
    "valid": "bool", "arch_index": "index", "pe_x": "PEs", "pe_y": "PEs", "l1_words": "words", "l2_kib": "KiB",
}


@functools.lru_cache(maxsize=16)
def shared_space(accelerator: str, dataset: str, samples: int, rounds: int, mapper_seed: int, energy_scope: str = "total") -> NAASSpace:
    """One :class:`NAASSpace` per setting in a process, so every env there shares its
    per-accelerator cost cache."""
    return NAASSpace(accelerator, dataset, samples=samples, rounds=rounds, mapper_seed=mapper_seed, energy_scope=energy_scope)


def _number(name: str, value, low: float = 0.0, strict: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value) \
            or (value <= low if strict else value < low):
        raise ValueError(f"{name}={value!r}; expected a {'positive' if strict else 'non-negative'} number")
    return float(value)


def _check_choices(objective: str, mode: str, action: str, search: str, accuracy_weight, edp_weight, importance_levels) -> None:
    for name, value, known in (("objective", objective, OBJECTIVES), ("mode", mode, MODES), ("action", action, ACTIONS),
                               ("search", search, SEARCHES)):
        if value not in known:
            raise ValueError(f"{name} {value!r} is not known; expected one of {known}")
    weights = (_number("accuracy_weight", accuracy_weight, strict=False), _number("edp_weight", edp_weight, strict=False))
    if objective == "scalarized" and weights == (0.0, 0.0):
        raise ValueError("accuracy_weight and edp_weight are both 0; expected at least one positive weight")
    if isinstance(importance_levels, bool) or not isinstance(importance_levels, (int, np.integer)) or importance_levels < 2:
        raise ValueError(f"importance_levels={importance_levels!r}; expected an integer >= 2")


def _budgets(s: NAASSpace, max_pes, max_onchip_bytes, max_dram_words_per_cycle) -> dict[str, float]:
    """Resource budgets, each at most (default: equal to) the baseline's cap."""
    out = {}
    for name, value, cap in (("max_pes", max_pes, s.max_pes), ("max_onchip_bytes", max_onchip_bytes, s.max_onchip_bytes),
                             ("max_dram_words_per_cycle", max_dram_words_per_cycle, s.max_dram_words_per_cycle)):
        v = cap if value is None else _number(name, value)
        if v > cap:
            raise ValueError(f"{name}={value!r} is beyond the {s.baseline_name} cap {cap:g}; the baseline's resources cap "
                             f"the search (NAAS); expected at most {cap:g}")
        out[name] = float(v)
    return out


def _design_space(s: NAASSpace, search: str, importance_levels: int) -> tuple[DesignSpace, slice | None, slice | None, slice | None]:
    """The design space of ``search`` and the slices of its edges, sizing levels and importances."""
    names: list[str] = []
    nvec: list[int] = []
    edges = sizing = importance = None
    if search in ("joint", "network"):
        edges = slice(0, NUM_EDGES)
        names += [f"edge_{to}<-{frm}" for to, frm in nb201.EDGES]
        nvec += [NUM_OPS] * NUM_EDGES
    if search in ("joint", "hardware", "nested"):
        start = len(nvec)
        sizing = slice(start, start + len(SIZING))
        importance = slice(start + len(SIZING), start + len(SIZING) + NUM_DIMS)
        names += [f"{k}_level" for k in SIZING] + [f"importance_{d}" for d in CONV_DIMS]
        nvec += s.level_counts.tolist() + [importance_levels] * NUM_DIMS
    return DesignSpace(tuple(names), np.array(nvec, dtype=np.int64)), edges, sizing, importance


class NASAcceleratorProblem(Problem):
    """The co-design space, objective and batched evaluation.

    Objective (:attr:`objective`): ``constrained``: the EDP (pJ x cycles, :data:`EDP`), fitness
    ``log2(EDP / EDP_ref)`` (clipped to +-:data:`LOG2_CLIP`), subject to ``acc >=
    accuracy_target`` and the budgets; ``scalarized``: the negated reward ``-(accuracy_weight *
    (acc - acc_ref) [pp] - edp_weight * log2(EDP / EDP_ref))`` (:data:`NEG_REWARD`), subject to the
    budgets. An infeasible design's fitness is ``worst_feasible + 1 + log2(1 + overshoot) + e``
    (``e = (log2_edp_ratio + 20) / 41`` in [0, 1) for a priced design, 1 beyond the cap): below
    every feasible design. The env's reward is ``-fitness``.

    Args:
        dataset: ``cifar10``, ``cifar100`` or ``ImageNet16-120``.
        accelerator: baseline (``eyeriss``, ``nvdla256``, ``nvdla1024``, ``shidiannao``): caps the
            designs, sets technology and clock, and with the ResNet cell is the reference.
        objective: ``scalarized`` or ``constrained`` (above).
        accuracy_weight, edp_weight: weights of the scalarized reward (>= 0, not both 0).
        accuracy_target: % (constrained; default the ResNet cell's accuracy on ``dataset``).
        max_pes, max_onchip_bytes, max_dram_words_per_cycle: resource budgets, at most the
            baseline's (its own by default); a design beyond them is infeasible.
        mode: ``one_shot`` or ``sequential``.
        action: ``box`` or ``multidiscrete`` (one-shot mode only).
        search: ``joint``, ``hardware`` (network fixed to ``arch``), ``network`` (hardware =
            the baseline) or ``nested`` (the agent picks the hardware; the network is the best
            cell on it under the objective, found exactly).
        arch: the fixed network of ``search="hardware"`` (cell string or index; ResNet cell).
        importance_levels: levels of each importance entry in the discrete encodings (>= 2;
            6 can express every loop order).
        samples, rounds, mapper_seed: inner mapping-search effort (the same for the baseline).
        energy_scope: ``total`` (DRAM traffic included) or ``onchip`` (DRAM energy left out of
            every mapping and cost, baseline included: MAESTRO's scope, as NAAS).
        naas_space: a built :class:`NAASSpace` to use instead (its settings win); not part of
            :attr:`options`.
    """

    env_id = "codesign/NASAccelerator-v0"

    def __init__(self, dataset: str = "cifar10", accelerator: str = "eyeriss", objective: str = "scalarized",
                 accuracy_weight: float = 1.0, edp_weight: float = 1.0, accuracy_target: float | None = None,
                 max_pes: int | None = None, max_onchip_bytes: int | None = None, max_dram_words_per_cycle: float | None = None,
                 mode: str = "one_shot", action: str = "box", search: str = "joint", arch: str | int = RESNET_INDEX,
                 importance_levels: int = 6, samples: int = DEFAULT_SAMPLES, rounds: int = DEFAULT_ROUNDS, mapper_seed: int = 0,
                 energy_scope: str = "total", naas_space: NAASSpace | None = None):
        _check_choices(objective, mode, action, search, accuracy_weight, edp_weight, importance_levels)
        self.accuracy_weight, self.edp_weight = float(accuracy_weight), float(edp_weight)
        s = naas_space if naas_space is not None else shared_space(accelerator, dataset, samples, rounds, mapper_seed, energy_scope)
        self.naas_space = s
        self.dataset, self.accelerator = s.dataset, s.baseline_name
        self.kind, self.mode, self.action, self.search = objective, mode, action, search
        self.importance_levels = int(importance_levels)
        self.arch = int(s.arch_indices(arch)[0])
        self.accuracy_target = s.ref_accuracy if accuracy_target is None else _number("accuracy_target", accuracy_target)
        if self.accuracy_target > 100:
            raise ValueError(f"accuracy_target={accuracy_target!r}; expected a top-1 accuracy in (0, 100] %")
        self.budgets = _budgets(s, max_pes, max_onchip_bytes, max_dram_words_per_cycle)
        self.space, self.edge_slice, self.sizing_slice, self.importance_slice = _design_space(s, search, self.importance_levels)
        self.num_entries = self.space.size
        self.objective = EDP if objective == "constrained" else NEG_REWARD
        self.worst_feasible = (self.accuracy_weight * 100.0 + self.edp_weight * LOG2_CLIP if objective == "scalarized" else LOG2_CLIP)
        self._options = {
            "dataset": s.dataset, "accelerator": s.baseline_name, "objective": objective, "accuracy_weight": self.accuracy_weight,
            "edp_weight": self.edp_weight, "accuracy_target": None if accuracy_target is None else self.accuracy_target,
            "max_pes": max_pes, "max_onchip_bytes": max_onchip_bytes, "max_dram_words_per_cycle": max_dram_words_per_cycle,
            "mode": mode, "action": action, "search": search, "arch": self.arch, "importance_levels": self.importance_levels,
            "samples": s.samples, "rounds": s.rounds, "mapper_seed": s.mapper_seed, "energy_scope": s.energy_scope,
        }

    @property
    def label(self) -> str:
        """``accelerator|dataset|search`` (the results' ``problem`` column)."""
        return f"{self.accelerator}|{self.dataset}|{self.search}"

    # ------------------------------------------------------------------ decoding
    def quantize_box(self, actions: np.ndarray) -> np.ndarray:
        """Box actions (N, D) in [0, 1] -> integer designs: level entries ``floor(v * n)`` (v = 1
        is the last level), importances replaced by their ranks (5 = most important; the
        encoding of ``importance_levels = 6``, which orders the dims the same way)."""
        a = np.asarray(actions, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != self.num_entries or not np.all(np.isfinite(a)) or a.min(initial=0) < 0 or a.max(initial=0) > 1:
            raise ValueError(f"action of shape {a.shape} is outside the action space; expected {self.num_entries} reals in [0, 1] per design")
        nvec = self.space.nvec
        d = np.minimum((a * nvec).astype(np.int64), nvec - 1)
        if self.importance_slice is not None:
            order = importance_order(a[:, self.importance_slice])
            ranks = np.empty_like(order)
            np.put_along_axis(ranks, order, np.arange(NUM_DIMS - 1, -1, -1)[None, :].repeat(len(a), 0), axis=1)
            d[:, self.importance_slice] = np.minimum(ranks, self.importance_levels - 1)
        return d

    def decode(self, designs: np.ndarray) -> tuple[np.ndarray, list[HardwareDesign | None]]:
        """Integer designs (N, D) -> NB201 indices (N,) and hardware designs (``None``: the
        baseline). In ``search="nested"`` the network is the best cell on each design
        (:meth:`NAASSpace.best_networks` under this problem's objective)."""
        d = self.space.check(designs)
        n = d.shape[0]
        idx = nb201.ops_to_index(d[:, self.edge_slice]) if self.edge_slice is not None else np.full(n, self.arch, dtype=np.int64)
        if self.sizing_slice is None:
            return idx, [None] * n
        hws = [self.naas_space.hardware(d[i, self.sizing_slice], d[i, self.importance_slice]) for i in range(n)]
        if self.search == "nested":
            target = self.accuracy_target if self.kind == "constrained" else None
            idx = self.naas_space.best_networks(hws, target, self.accuracy_weight, self.edp_weight, fallback=self.arch)
        return idx, hws

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, designs: np.ndarray) -> Evaluation:
        """Price designs (N, D): see the class docstring for fitness and objective (a design
        beyond the baseline's cap is never priced: EDP ``inf``, log2 ratio clipped). ``feasible``: within the budgets and (constrained)
        at least the accuracy target; ``overshoot``: the largest ``use / budget - 1`` over the
        resources and (constrained) the accuracy shortfall in percentage points. Metrics
        (:data:`METRIC_UNITS`): the cost model's numbers (``inf`` beyond the cap), ``valid``
        (within the cap: priced), ``log2_edp_ratio`` (clipped), ``arch_index`` (the network
        run) and the hardware sizes (0 for the baseline)."""
        idx, hws = self.decode(designs)
        s = self.naas_space
        m = s.evaluate(idx, hws)
        b = self.budgets
        res_over = np.maximum.reduce([m["num_pes"] / b["max_pes"] - 1.0, m["onchip_bytes"] / b["max_onchip_bytes"] - 1.0,
                                      m["dram_words_per_cycle"] / b["max_dram_words_per_cycle"] - 1.0])
        res_over = np.maximum(res_over, m["overshoot"])
        log_ratio = s.log2_edp_ratio(m["edp"])
        if self.kind == "scalarized":
            over = np.maximum(res_over, 0.0)
            feasible = res_over <= 0
            value = -(self.accuracy_weight * (m["accuracy"] - s.ref_accuracy) - self.edp_weight * log_ratio)
            objective = value
        else:
            shortfall = np.maximum(self.accuracy_target - m["accuracy"], 0.0)  # percentage points
            over = np.maximum(np.maximum(res_over, 0.0), shortfall)
            feasible = (res_over <= 0) & (shortfall <= 0)
            value = log_ratio
            objective = m["edp"]
        # infeasible: below every feasible design; graded by the overshoot, then (a term in [0, 1)) by the EDP, so a
        # search still sees which hardware is better while its network misses the accuracy target
        edp_term = np.where(m["within_cap"], (np.nan_to_num(log_ratio, nan=LOG2_CLIP) + LOG2_CLIP) / (2 * LOG2_CLIP + 1), 1.0)
        fitness = np.where(feasible, value, self.worst_feasible + 1.0 + np.log2(1.0 + over) + edp_term)
        metrics = {k: m[k] for k in ("accuracy", "latency_cycles", "latency_ms", "energy_pj", "edp", "edp_reduction")}
        metrics.update(log2_edp_ratio=log_ratio, num_pes=m["num_pes"], onchip_bytes=m["onchip_bytes"],
                       dram_words_per_cycle=m["dram_words_per_cycle"], area_mm2=m["area_mm2"], valid=m["within_cap"], arch_index=idx)
        for k in ("pe_x", "pe_y", "l1_words", "l2_kib"):
            metrics[k] = np.array([getattr(h, k) if h is not None else 0 for h in hws], dtype=np.int64)
        return Evaluation(fitness, np.asarray(objective, dtype=np.float64), feasible, over, metrics, dict(METRIC_UNITS))

    def to_config(self, design: np.ndarray) -> dict[str, Any]:
        """One design (D,) as the network it runs (``arch_index``, ``arch_str``, ``edge_ops``) and
        its hardware: ``hardware`` (the template design's key, or the baseline's name), ``pe_x``,
        ``pe_y``, ``l1_words``, ``l2_kib``, ``dram_words_per_cycle``, ``parallel_x``,
        ``parallel_y``, ``loop_order`` (outermost first), ``num_pes``, ``onchip_bytes``
        (the baseline: its name, PEs, on-chip bytes and DRAM words/cycle)."""
        idx, hws = self.decode(np.asarray(design)[None, :])
        i = int(idx[0])
        cfg: dict[str, Any] = {"arch_index": i, "arch_str": nb201.arch_from_index(i),
                               "edge_ops": [nb201.OPS[int(c)] for c in nb201.edge_ops()[i]]}
        hw = hws[0]
        if hw is None:
            s = self.naas_space
            cfg.update(hardware=self.accelerator, num_pes=s.max_pes, onchip_bytes=s.max_onchip_bytes,
                       dram_words_per_cycle=s.max_dram_words_per_cycle)
        else:
            cfg.update(hardware=hw.key(), **hw.as_dict())
        return cfg

    def reference(self) -> KnownPoint:
        """The baseline accelerator running the ResNet cell (same inner search): its EDP
        (constrained) or its negated reward, 0 (scalarized). In the design space only for
        ``search="network"`` (the ResNet cell's edges); elsewhere the baseline is not a
        template design (``design`` None)."""
        s = self.naas_space
        design = np.array(nb201.edge_ops()[RESNET_INDEX], dtype=np.int64) if self.search == "network" else None
        objective = s.ref_edp if self.kind == "constrained" else 0.0
        return KnownPoint(float(objective), design, f"{self.accelerator} + ResNet cell")

    def optimum(self) -> KnownPoint | None:
        """``search="network"``: the exact optimum, by evaluating all 15,625 cells on the baseline
        (15,625 evaluations; the least fitness among feasible cells, ties to the lower index).
        None for the other searches, or when no cell is feasible. Computed once per instance."""
        return None if self.search != "network" else self._once("optimum", self._enumerate_cells)

    def _enumerate_cells(self) -> KnownPoint | None:
        designs = np.asarray(nb201.edge_ops(), dtype=np.int64)
        ev = self.evaluate(designs)
        if not np.any(ev.feasible):
            return None
        i = int(np.flatnonzero(ev.feasible)[np.argmin(ev.fitness[ev.feasible])])
        return KnownPoint(float(ev.objective[i]), designs[i], f"exhaustive: all {designs.shape[0]:,} cells on {self.accelerator}",
                          evals=int(designs.shape[0]))

    # ------------------------------------------------------------------ spaces
    def action_space(self) -> spaces.Space:
        if self.mode == "sequential":
            return spaces.Discrete(int(self.space.nvec.max()))
        if self.action == "box":
            return spaces.Box(0.0, 1.0, shape=(self.num_entries,), dtype=np.float32)
        return spaces.MultiDiscrete(self.space.nvec)

    def observation_space(self) -> spaces.Box:
        size = 2 * self.num_entries if self.mode == "sequential" else len(nb201.DATASETS)  # SequentialChoices.obs_dim
        return spaces.Box(0.0, 1.0, shape=(size,), dtype=np.float32)


def _scatter(ev: Evaluation, rows: np.ndarray, n: int) -> Evaluation:
    """``ev`` of the designs at ``rows`` placed into an evaluation of ``n`` designs (zeros elsewhere)."""
    def full(values) -> np.ndarray:
        arr = np.asarray(values)
        out = np.zeros((n,) + arr.shape[1:], dtype=arr.dtype)
        out[rows] = arr
        return out

    return Evaluation(full(ev.fitness), full(ev.objective), full(ev.feasible), full(ev.overshoot),
                      {k: full(v) for k, v in ev.metrics.items()}, dict(ev.units))


class _Episodes:
    """Batched episode state: the one-shot designs, or the :class:`SequentialChoices` being made."""

    def __init__(self, problem: NASAcceleratorProblem, n: int):
        self.p, self.n = problem, n
        self.seq = SequentialChoices(problem.space.nvec, n)

    @property
    def pos(self) -> np.ndarray:
        """(n,) the next entry (sequential mode)."""
        return self.seq.pos

    def reset(self, rows: np.ndarray) -> None:
        self.seq.reset(rows)

    def observe(self) -> np.ndarray:
        p = self.p
        if p.mode == "one_shot":
            obs = np.zeros((self.n, len(nb201.DATASETS)), dtype=np.float32)
            obs[:, nb201.DATASETS.index(p.dataset)] = 1.0
            return obs
        return self.seq.observe()

    def step(self, actions, active: np.ndarray):
        """Returns reward (n,) ``-fitness`` where an episode ends, terminated (n,), the
        :class:`Evaluation` of the n designs (only the ended ones priced; None when none ends)
        and the designs (n, D)."""
        p = self.p
        if p.mode == "one_shot":
            if p.action == "box":
                designs = p.quantize_box(np.where(active[:, None], np.asarray(actions, dtype=np.float64), 0.0))
            else:
                designs = p.space.check(np.where(active[:, None], actions, 0))
            finish = active.copy()
        else:
            finish = self.seq.record(actions, active)
            designs = self.seq.chosen.copy()
        reward = np.zeros(self.n)
        evaluation = None
        if finish.any():
            rows = np.flatnonzero(finish)
            evaluation = _scatter(p.evaluate(designs[rows]), rows, self.n)
            reward[rows] = -evaluation.fitness[rows]
        return reward, finish, evaluation, designs


class _Infos:
    """The ``info`` of ``reset`` and of a step that does not end the episode, the single env's
    and (batched) the vector env's."""

    problem: Any
    _ep: Any

    def _reset_info(self) -> dict[str, Any]:
        p = self.problem
        return {"mode": p.mode, "search": p.search, "reference_edp": p.naas_space.ref_edp, "reference_accuracy": p.naas_space.ref_accuracy}

    def _step_values(self) -> dict[str, np.ndarray]:
        return {"entry": self._ep.pos.copy()}


class NASAcceleratorEnv(_Infos, EpisodeEnv):
    """One co-design per episode (one step, or one step per entry in ``sequential`` mode).
    Keyword options are those of :class:`NASAcceleratorProblem` (or pass a built ``problem``).
    The final ``info`` is :func:`~codesign_gym.envs.episode_info.final_info` (``design``,
    ``config``, ``objective``, ``fitness``, ``feasible``, ``overshoot`` and every metric); an
    earlier step of ``sequential`` gives ``{"entry": next entry}``."""

    def __init__(self, problem: NASAcceleratorProblem | None = None, **problem_options: Any):
        self.problem = make_problem(NASAcceleratorProblem, problem, problem_options)
        self.action_space = self.problem.action_space()
        self.observation_space = self.problem.observation_space()
        self._ep = _Episodes(self.problem, 1)


class NASAcceleratorVectorEnv(_Infos, EpisodeBatchVectorEnv):
    """``num_envs`` episodes stepped as one batch (one cost-model call per distinct accelerator),
    autoreset NEXT_STEP (the step after an episode ends resets that sub-env, ignores its action
    and returns reward 0) or SAME_STEP (``autoreset_mode="same_step"``). The final ``info`` holds
    :func:`~codesign_gym.envs.episode_info.final_info_batch`'s ``(num_envs, ...)`` arrays with
    gymnasium's ``_key`` masks."""

    def __init__(self, num_envs: int = 1, problem: NASAcceleratorProblem | None = None, autoreset_mode: Any = "next_step",
                 **problem_options: Any):
        super().__init__(num_envs, autoreset_mode)
        self.problem = make_problem(NASAcceleratorProblem, problem, problem_options)
        self._set_single_spaces(self.problem.action_space(), self.problem.observation_space())
        self._ep = _Episodes(self.problem, self.num_envs)
