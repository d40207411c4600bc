"""``codesign/NASAccelerator-v0``: choose a NAS-Bench-201 network and its accelerator together
(NAAS, DAC 2021; CODEBench), for accuracy against energy-delay product.

A design is ``[6 edge ops, 5 sizing levels, 6 importances]`` (see
:mod:`codesign_gym.costmodels.naas.design`): the cell's edges (codes into NAS-Bench-201's
``OPS``), the PE array, scratchpad, global buffer and DRAM bandwidth levels, and one importance
per loop dim ``R, S, P, Q, C, M`` whose order gives the parallel dims and the loop order.
``search="hardware"`` drops the edges (the network is fixed, by default the ResNet cell);
``search="network"`` keeps only the edges (the hardware is the baseline accelerator itself);
``search="nested"`` is the joint search in NAAS's two-level form: the agent picks the hardware and
the network is the best of all 15,625 cells on it (exact, one pricing of the accelerator).

Modes: ``one_shot`` (one step; ``action="box"``: every entry a real in [0, 1], level entries
quantised and importances used as reals, or ``action="multidiscrete"``: level indices) and
``sequential`` (one decision per step, edges first, then the hardware entries; ``Discrete``).

:class:`NASAcceleratorProblem` holds the space, options and batched scoring shared by the single
env and the native vector env. See ``docs/envs/nas_accelerator.md``.
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from codesign_gym.costmodels.naas.design import (
    DEFAULT_ROUNDS,
    DEFAULT_SAMPLES,
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
from codesign_gym.envs.design_space import Evaluation, check_integer_designs
from codesign_gym.envs.vector_base import EpisodeBatchVectorEnv, check_started

OBJECTIVES = ("scalarized", "constrained")
MODES = ("one_shot", "sequential")
ACTIONS = ("box", "multidiscrete")
SEARCHES = ("joint", "hardware", "network", "nested")
#: |log2(EDP / reference EDP)| is clipped here, which bounds every feasible objective.
LOG2_CLIP = 20.0
INFO_KEYS = ("arch_index", "accuracy", "latency_cycles", "latency_ms", "energy_pj", "edp", "edp_reduction", "num_pes",
             "onchip_bytes", "dram_words_per_cycle", "area_mm2", "pe_x", "pe_y", "l1_words", "l2_kib", "valid", "feasible", "objective")


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


class NASAcceleratorProblem:
    """The co-design space, objective and batched scoring.

    Args:
        dataset: ``cifar10``, ``cifar100`` or ``ImageNet16-120``.
        accelerator: baseline (``eyeriss``, ``nvdla256``, ``nvdla1024``, ``shidiannao``): caps the
            designs, sets technology and clock, and with the ResNet cell is the reference.
        objective: ``scalarized`` (reward ``accuracy_weight * (acc - acc_ref) [pp] - edp_weight *
            log2(EDP / EDP_ref)``) or ``constrained`` (reward ``-log2(EDP / EDP_ref)`` =
            log2 of the EDP reduction, subject to ``acc >= accuracy_target``).
        accuracy_weight, edp_weight: weights of the scalarized reward (>= 0, not both 0).
        accuracy_target: % (constrained; default the ResNet cell's accuracy on ``dataset``).
        max_pes, max_onchip_bytes, max_dram_words_per_cycle: resource budgets, at most the
            baseline's (its own by default); a design beyond them is infeasible.
        mode: ``one_shot`` or ``sequential``.
        action: ``box`` or ``multidiscrete`` (one-shot mode only).
        search: ``joint``, ``hardware`` (network fixed to ``arch``), ``network`` (hardware =
            the baseline) or ``nested`` (the agent picks the hardware; the network is the best
            cell on it under the objective, found exactly: :meth:`best_networks`).
        arch: the fixed network of ``search="hardware"`` (cell string or index; ResNet cell).
        importance_levels: levels of each importance entry in the discrete encodings (>= 2;
            6 can express every loop order).
        samples, rounds, mapper_seed: inner mapping-search effort (the same for the baseline).
        energy_scope: ``total`` (DRAM traffic included) or ``onchip`` (DRAM energy left out of
            every mapping and cost, baseline included: MAESTRO's scope, as NAAS).
        space: a built :class:`NAASSpace` to use instead (its settings win).
    """

    def __init__(self, dataset: str = "cifar10", accelerator: str = "eyeriss", objective: str = "scalarized",
                 accuracy_weight: float = 1.0, edp_weight: float = 1.0, accuracy_target: float | None = None,
                 max_pes: int | None = None, max_onchip_bytes: int | None = None, max_dram_words_per_cycle: float | None = None,
                 mode: str = "one_shot", action: str = "box", search: str = "joint", arch: str | int = RESNET_INDEX,
                 importance_levels: int = 6, samples: int = DEFAULT_SAMPLES, rounds: int = DEFAULT_ROUNDS, mapper_seed: int = 0,
                 energy_scope: str = "total", space: NAASSpace | None = None):
        for name, value, known in (("objective", objective, OBJECTIVES), ("mode", mode, MODES), ("action", action, ACTIONS),
                                   ("search", search, SEARCHES)):
            if value not in known:
                raise ValueError(f"{name} {value!r} is not known; expected one of {known}")
        self.accuracy_weight = _number("accuracy_weight", accuracy_weight, strict=False)
        self.edp_weight = _number("edp_weight", edp_weight, strict=False)
        if objective == "scalarized" and self.accuracy_weight == 0 and self.edp_weight == 0:
            raise ValueError("accuracy_weight and edp_weight are both 0; expected at least one positive weight")
        if isinstance(importance_levels, bool) or not isinstance(importance_levels, (int, np.integer)) or importance_levels < 2:
            raise ValueError(f"importance_levels={importance_levels!r}; expected an integer >= 2")
        self.space = space if space is not None else shared_space(accelerator, dataset, samples, rounds, mapper_seed, energy_scope)
        s = self.space
        self.dataset, self.accelerator = s.dataset, s.baseline_name
        self.objective, self.mode, self.action, self.search = objective, mode, action, search
        self.importance_levels = int(importance_levels)
        self.arch = int(s.arch_indices(arch)[0])
        self.accuracy_target = s.ref_accuracy if accuracy_target is None else _number("accuracy_target", accuracy_target)
        if self.accuracy_target > 100:
            raise ValueError(f"accuracy_target={accuracy_target!r}; expected a top-1 accuracy in (0, 100] %")
        self.budgets = {}
        for name, value, cap in (("max_pes", max_pes, s.max_pes), ("max_onchip_bytes", max_onchip_bytes, s.max_onchip_bytes),
                                 ("max_dram_words_per_cycle", max_dram_words_per_cycle, s.max_dram_words_per_cycle)):
            v = cap if value is None else _number(name, value)
            if v > cap:
                raise ValueError(f"{name}={value!r} is beyond the {s.baseline_name} cap {cap:g}; the baseline's resources cap "
                                 f"the search (NAAS); expected at most {cap:g}")
            self.budgets[name] = float(v)
        nvec: list[int] = []
        self.edge_slice = self.sizing_slice = self.importance_slice = None
        if search in ("joint", "network"):
            self.edge_slice = slice(0, NUM_EDGES)
            nvec += [NUM_OPS] * NUM_EDGES
        if search in ("joint", "hardware", "nested"):
            start = len(nvec)
            self.sizing_slice = slice(start, start + len(SIZING))
            self.importance_slice = slice(start + len(SIZING), start + len(SIZING) + NUM_DIMS)
            nvec += s.level_counts.tolist() + [self.importance_levels] * NUM_DIMS
        #: (D,) choices of each entry of the integer design vector (what search methods use).
        self.design_nvec = np.array(nvec, dtype=np.int64)
        self.num_entries = int(self.design_nvec.size)
        self.worst_feasible = (self.accuracy_weight * 100.0 + self.edp_weight * LOG2_CLIP if objective == "scalarized" else LOG2_CLIP)

    # ------------------------------------------------------------------ decoding
    def check_designs(self, designs: np.ndarray) -> np.ndarray:
        """``designs`` (N, D) as int64, checked against :attr:`design_nvec`."""
        return check_integer_designs(designs, self.design_nvec)

    def quantize_box(self, actions: np.ndarray) -> np.ndarray:
        """Box actions (N, D) in [0, 1] -> integer designs: level entries ``floor(v * n)`` (v = 1
        is the last level), importances replaced by their ranks (5 = most important; the
        encoding of ``importance_levels = 6``, which orders the dims the same way)."""
        a = np.asarray(actions, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != self.num_entries or not np.all(np.isfinite(a)) or a.min(initial=0) < 0 or a.max(initial=0) > 1:
            raise ValueError(f"action of shape {a.shape} is outside the action space; expected {self.num_entries} reals in [0, 1] per design")
        d = np.minimum((a * self.design_nvec).astype(np.int64), self.design_nvec - 1)
        if self.importance_slice is not None:
            order = importance_order(a[:, self.importance_slice])
            ranks = np.empty_like(order)
            np.put_along_axis(ranks, order, np.arange(NUM_DIMS - 1, -1, -1)[None, :].repeat(len(a), 0), axis=1)
            d[:, self.importance_slice] = np.minimum(ranks, self.importance_levels - 1)
        return d

    def decode(self, designs: np.ndarray) -> tuple[np.ndarray, list[HardwareDesign | None]]:
        """Integer designs (N, D) -> NB201 indices (N,) and hardware designs (``None``: the baseline)."""
        d = self.check_designs(designs)
        n = d.shape[0]
        idx = nb201.ops_to_index(d[:, self.edge_slice]) if self.edge_slice is not None else np.full(n, self.arch, dtype=np.int64)
        if self.sizing_slice is None:
            return idx, [None] * n
        hws = [self.space.hardware(d[i, self.sizing_slice], d[i, self.importance_slice]) for i in range(n)]
        if self.search == "nested":
            idx = self.best_networks(hws)
        return idx, hws

    def best_networks(self, hws: list[HardwareDesign]) -> np.ndarray:
        """The NB201 index each design runs in ``search="nested"``: the best of the 15,625 cells
        on it under the objective. Constrained: the least EDP among cells with accuracy >=
        ``accuracy_target`` (none: the most accurate cells, least EDP among them). Scalarized:
        the highest reward. Ties go to the lower index; a design beyond the cap (never priced)
        keeps ``arch``. One pricing per distinct accelerator, as any other evaluation."""
        s = self.space
        out = np.full(len(hws), self.arch, dtype=np.int64)
        acc = s.accuracies
        rows_by_key: dict[str, list[int]] = {}
        for i, hw in enumerate(hws):
            if s.overshoot(hw) <= 0:
                rows_by_key.setdefault(hw.key(), []).append(i)
        for rows in rows_by_key.values():
            cycles, energy = s.network_costs(hws[rows[0]])
            edp = cycles * energy
            if self.objective == "constrained":
                ok = acc >= self.accuracy_target
                pool = np.flatnonzero(ok) if ok.any() else np.flatnonzero(acc == acc.max())
                best = int(pool[np.argmin(edp[pool])])
            else:
                log_ratio = np.clip(np.log2(edp / s.ref_edp), -LOG2_CLIP, LOG2_CLIP)
                best = int(np.argmax(self.accuracy_weight * acc - self.edp_weight * log_ratio))
            out[rows] = best
        return out

    # ------------------------------------------------------------------ scoring
    def evaluate_designs(self, designs: np.ndarray) -> dict[str, Any]:
        """Score designs (N, D): the metrics of :meth:`NAASSpace.evaluate` plus ``valid``
        (within the baseline's cap: priced), ``feasible`` (within the budgets and, constrained,
        at least the accuracy target), ``overshoot`` (the largest of ``use / budget - 1`` over
        the resources and, constrained, the accuracy shortfall in percentage points),
        ``log2_edp_ratio`` (clipped to +-:data:`LOG2_CLIP`), ``objective`` (minimised;
        ``-reward``; infeasible: ``worst_feasible + 1 + log2(1 + overshoot) + e`` with
        ``e = (log2_edp_ratio + 20) / 41`` in [0, 1) for a priced design and 1 for one beyond
        the cap: below every feasible design), the hardware fields and ``hardware`` (list)."""
        idx, hws = self.decode(designs)
        m = self.space.evaluate(idx, hws)
        b = self.budgets
        res_over = np.maximum.reduce([m["num_pes"] / b["max_pes"] - 1.0, m["onchip_bytes"] / b["max_onchip_bytes"] - 1.0,
                                      m["dram_words_per_cycle"] / b["max_dram_words_per_cycle"] - 1.0])
        res_over = np.maximum(res_over, m["overshoot"])
        with np.errstate(invalid="ignore", divide="ignore"):
            log_ratio = np.clip(np.log2(m["edp"] / self.space.ref_edp), -LOG2_CLIP, LOG2_CLIP)
        if self.objective == "scalarized":
            over = np.maximum(res_over, 0.0)
            feasible = res_over <= 0
            value = -(self.accuracy_weight * (m["accuracy"] - self.space.ref_accuracy) - self.edp_weight * log_ratio)
        else:
            shortfall = np.maximum(self.accuracy_target - m["accuracy"], 0.0)  # percentage points
            over = np.maximum(np.maximum(res_over, 0.0), shortfall)
            feasible = (res_over <= 0) & (shortfall <= 0)
            value = log_ratio
        out: dict[str, Any] = dict(m)
        out["valid"] = m["within_cap"]
        out["feasible"] = feasible
        out["overshoot"] = over
        out["log2_edp_ratio"] = log_ratio
        # infeasible: below every feasible design; graded by the overshoot, then (a term in [0, 1)) by the EDP, so a
        # search still sees which hardware is better while its network misses the accuracy target
        edp_term = np.where(m["within_cap"], (np.nan_to_num(log_ratio, nan=LOG2_CLIP) + LOG2_CLIP) / (2 * LOG2_CLIP + 1), 1.0)
        out["objective"] = np.where(feasible, value, self.worst_feasible + 1.0 + np.log2(1.0 + over) + edp_term)
        out["arch_index"] = idx
        out["hardware"] = hws
        for k in ("pe_x", "pe_y", "l1_words", "l2_kib"):
            out[k] = np.array([getattr(h, k) if h is not None else 0 for h in hws], dtype=np.int64)
        return out

    def score(self, designs: np.ndarray) -> Evaluation:
        """Black-box view for search methods: minimise ``objective``. ``Evaluation.objective``
        is EDP / reference EDP (constrained) or ``-reward`` (scalarized)."""
        m = self.evaluate_designs(designs)
        if self.objective == "constrained":
            shown = np.where(m["feasible"], m["edp"] / self.space.ref_edp, np.nan)
        else:
            shown = m["objective"]
        return Evaluation(fitness=m["objective"], objective=shown, feasible=m["feasible"])

    def info_row(self, m: dict[str, Any], i: int) -> dict[str, Any]:
        """``info`` of design ``i`` of :meth:`evaluate_designs`'s output (plain Python values)."""
        hw = m["hardware"][i]
        info: dict[str, Any] = {
            "arch_index": int(m["arch_index"][i]), "arch_str": nb201.arch_from_index(int(m["arch_index"][i])),
            "accuracy": float(m["accuracy"][i]), "latency_cycles": int(m["latency_cycles"][i]), "latency_ms": float(m["latency_ms"][i]),
            "energy_pj": float(m["energy_pj"][i]), "edp": float(m["edp"][i]), "edp_reduction": float(m["edp_reduction"][i]),
            "num_pes": int(m["num_pes"][i]), "onchip_bytes": int(m["onchip_bytes"][i]),
            "dram_words_per_cycle": float(m["dram_words_per_cycle"][i]), "valid": bool(m["valid"][i]),
            "feasible": bool(m["feasible"][i]), "objective": float(m["objective"][i]), "area_mm2": float(m["area_mm2"][i]),
            "hardware": self.accelerator if hw is None else hw.key(),
        }
        if hw is not None:
            info.update(pe_x=hw.pe_x, pe_y=hw.pe_y, l1_words=hw.l1_words, l2_kib=hw.l2_kib, parallel_x=hw.parallel_x,
                        parallel_y=hw.parallel_y, loop_order="".join(hw.loop_order))
        return info

    def design_config(self, design) -> dict[str, Any]:
        """A design vector as the network and hardware it stands for, with its metrics (JSON-able)."""
        d = np.asarray(design, dtype=np.int64)[None, :]
        m = self.evaluate_designs(d)
        info = self.info_row(m, 0)
        info["design"] = d[0].tolist()
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in info.items()}

    # ------------------------------------------------------------------ spaces
    def action_space(self) -> spaces.Space:
        if self.mode == "sequential":
            return spaces.Discrete(int(self.design_nvec.max()))
        if self.action == "box":
            return spaces.Box(0.0, 1.0, shape=(self.num_entries,), dtype=np.float32)
        return spaces.MultiDiscrete(self.design_nvec)

    def observation_space(self) -> spaces.Box:
        size = 2 * self.num_entries if self.mode == "sequential" else len(nb201.DATASETS)
        return spaces.Box(0.0, 1.0, shape=(size,), dtype=np.float32)


class _Episodes:
    """Batched episode state: ``pos`` (next entry, sequential) and ``chosen`` entries."""

    def __init__(self, problem: NASAcceleratorProblem, n: int):
        self.p, self.n = problem, n
        self.pos = np.zeros(n, dtype=np.int64)
        self.chosen = np.zeros((n, problem.num_entries), dtype=np.int64)
        self.K = int(problem.design_nvec.max())

    def reset(self, rows: np.ndarray) -> None:
        self.pos[rows] = 0
        self.chosen[rows] = 0

    def observe(self) -> np.ndarray:
        p = self.p
        if p.mode == "one_shot":
            obs = np.zeros((self.n, len(nb201.DATASETS)), dtype=np.float32)
            obs[:, nb201.DATASETS.index(p.dataset)] = 1.0
            return obs
        D = p.num_entries
        obs = np.zeros((self.n, 2 * D), dtype=np.float32)
        live = np.flatnonzero(self.pos < D)
        obs[live, self.pos[live]] = 1.0
        decided = np.arange(D)[None, :] < self.pos[:, None]
        obs[:, D:] = np.where(decided, self.chosen / np.maximum(p.design_nvec - 1, 1), 0.0)
        return obs

    def step(self, actions, active: np.ndarray):
        """Returns reward (n,), terminated (n,), metrics (or None), designs (n, D)."""
        p = self.p
        if p.mode == "one_shot":
            if p.action == "box":
                a = np.where(active[:, None], np.asarray(actions, dtype=np.float64), 0.0)
                designs = p.quantize_box(a)
            else:
                designs = p.check_designs(np.where(active[:, None], actions, 0))
            finish = active.copy()
        else:
            a = np.asarray(actions).reshape(self.n)
            rows = np.flatnonzero(active)
            choice = (a[rows] * p.design_nvec[self.pos[rows]]) // self.K
            self.chosen[rows, self.pos[rows]] = choice
            self.pos[rows] += 1
            finish = active & (self.pos >= p.num_entries)
            designs = self.chosen.copy()
        reward = np.zeros(self.n)
        metrics = None
        if finish.any():
            rows = np.flatnonzero(finish)
            sub = p.evaluate_designs(designs[rows])
            metrics = _scatter(sub, rows, self.n)
            reward[rows] = -sub["objective"]
        return reward, finish, metrics, designs


def _scatter(sub: dict[str, Any], rows: np.ndarray, n: int) -> dict[str, Any]:
    """Metrics of ``rows`` placed into full-size (n,) arrays (zeros / None elsewhere)."""
    out: dict[str, Any] = {}
    for k, v in sub.items():
        if k == "hardware":
            full = [None] * n
            for j, r in enumerate(rows):
                full[r] = v[j]
            out[k] = full
        else:
            arr = np.asarray(v)
            full = np.zeros((n,) + arr.shape[1:], dtype=arr.dtype)
            full[rows] = arr
            out[k] = full
    return out


class NASAcceleratorEnv(gym.Env):
    """One co-design per episode (one step, or one step per entry in ``sequential`` mode).
    Keyword options are those of :class:`NASAcceleratorProblem` (or pass a built ``problem``)."""

    metadata = {"render_modes": []}

    def __init__(self, problem: NASAcceleratorProblem | None = None, **problem_options: Any):
        self.problem = problem if problem is not None else NASAcceleratorProblem(**problem_options)
        self.action_space = self.problem.action_space()
        self.observation_space = self.problem.observation_space()
        self._ep = _Episodes(self.problem, 1)
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._ep.reset(np.ones(1, dtype=bool))
        self._started = True
        p = self.problem
        return self._ep.observe()[0], {"mode": p.mode, "search": p.search, "reference_edp": p.space.ref_edp,
                                       "reference_accuracy": p.space.ref_accuracy}

    def step(self, action):
        check_started(self._started)
        p = self.problem
        act = np.asarray(action)
        if p.mode == "sequential":
            if act.size != 1 or act.dtype.kind not in "iu" or not 0 <= int(act.reshape(-1)[0]) < self.action_space.n:
                raise ValueError(f"action {action!r} is outside the action space; expected an integer in 0..{self.action_space.n - 1}")
            act = act.reshape(1)
        elif act.shape != (p.num_entries,):
            raise ValueError(f"action {action!r} is outside the action space; expected {p.num_entries} entries "
                             f"({'reals in [0, 1]' if p.action == 'box' else f'integer indices, nvec={p.design_nvec.tolist()}'})")
        else:
            act = act[None, :]
        reward, done, metrics, designs = self._ep.step(act, np.ones(1, dtype=bool))
        if done[0]:
            info = p.info_row(metrics, 0)
            info["design"] = designs[0].copy()
            self._started = False
        else:
            info = {"entry": int(self._ep.pos[0])}
        return self._ep.observe()[0], float(reward[0]), bool(done[0]), False, info


class NASAcceleratorVectorEnv(EpisodeBatchVectorEnv):
    """``num_envs`` episodes stepped as one batch (one cost-model call per distinct accelerator),
    autoreset NEXT_STEP: the step after an episode ends resets that sub-env, ignores its action
    and returns reward 0. ``info`` holds ``(num_envs,)`` arrays (:data:`INFO_KEYS` and
    ``design`` (num_envs, D)) with gymnasium's ``_key`` masks."""

    def __init__(self, num_envs: int = 1, problem: NASAcceleratorProblem | None = None, **problem_options: Any):
        super().__init__(num_envs)
        self.problem = problem if problem is not None else NASAcceleratorProblem(**problem_options)
        self._set_single_spaces(self.problem.action_space(), self.problem.observation_space())
        self._ep = _Episodes(self.problem, self.num_envs)

    INFO_KEYS = INFO_KEYS

    def step(self, actions):
        resetting = self._begin_step()
        p = self.problem
        act = np.asarray(actions)
        n = self.num_envs
        if p.mode == "sequential":
            if act.shape != (n,) or act.dtype.kind not in "iu" or act.min() < 0 or act.max() >= self.single_action_space.n:
                raise ValueError(f"actions have shape {act.shape} and dtype {act.dtype}; expected ({n},) integers in "
                                 f"0..{self.single_action_space.n - 1}")
        elif p.action == "box":
            if act.shape != (n, p.num_entries) or act.dtype.kind != "f":
                raise ValueError(f"actions have shape {act.shape} and dtype {act.dtype}; expected reals of shape ({n}, {p.num_entries})")
        elif act.shape != (n, p.num_entries) or act.dtype.kind not in "iu":
            raise ValueError(f"actions have shape {act.shape} and dtype {act.dtype}; expected integers of shape ({n}, {p.num_entries})")
        return self._step_episodes(act, resetting)
