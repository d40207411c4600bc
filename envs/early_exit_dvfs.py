"""``codesign/EarlyExitDVFS-v0``: choose a backbone, its early exits, the exit threshold and the
Jetson AGX Xavier's GPU/CPU/EMC frequencies together (HADAS, DATE 2023).

A design is ``[backbone, exit1 .. exitE (0/1 each), threshold, gpu, cpu, emc]`` (indices; the
threshold entry exists only with ``policy="threshold"``). Exits past the chosen backbone's own
count are ignored. Latency, energy, power and accuracy per inference come from
:mod:`codesign_gym.costmodels.xavier`.

:class:`EarlyExitDVFSProblem` is the problem (design space, batched ``evaluate``, reference);
the envs are episode layers over it. Modes: ``one_shot`` (one step, the whole design) and
``two_level`` (HADAS's nesting: step 1 reads only the backbone entry, step 2 the exits,
threshold and DVFS for that backbone; the reward comes at step 2) and ``sequential`` (one entry
per step from one ``Discrete`` space, :class:`~codesign_gym.envs.sequential.SequentialChoices`;
the reward comes at the last step). See
``docs/envs/early_exit_dvfs.md``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from gymnasium import spaces

from codesign_gym.costmodels.xavier import POLICIES, POLICY_LABELS, XavierSpace, load_board
from codesign_gym.costmodels.xavier.exits import check_threshold
from codesign_gym.costmodels.xavier.model import check_scope
from codesign_gym.envs.options import make_problem
from codesign_gym.envs.problem import DesignSpace, Evaluation, KnownPoint, Objective, Problem
from codesign_gym.envs.sequential import SequentialChoices
from codesign_gym.envs.vector_base import EpisodeBatchVectorEnv, EpisodeEnv

OBJECTIVES = ("scalarized", "constrained")
MODES = ("one_shot", "two_level", "sequential")
#: Default threshold choices: a plain grid over [0, 1].
DEFAULT_THRESHOLDS = tuple(round(0.1 * i, 1) for i in range(11))
#: HADAS's two objectives: energy per inference (minimised) and top-1 accuracy (maximised).
ENERGY = Objective("energy_per_inference", "mJ", "min")
ACCURACY = Objective("top1_accuracy", "%", "max")
#: What the scalarized objective ranks by: ``energy_weight * E / E_ref - accuracy_weight * top1 / 100``.
SCALARIZED = Objective("scalarized_cost", "1", "min")
#: Units of :meth:`EarlyExitDVFSProblem.evaluate`'s metrics.
METRIC_UNITS = {
    "accuracy": "%", "latency_ms": "ms", "energy_mj": "mJ", "power_w": "W", "exit_share": "1", "static_energy_mj": "mJ",
    "energy_ratio": "1", "backbone": "index", "attached": "bool", "threshold": "1", "gpu_mhz": "MHz", "cpu_mhz": "MHz",
    "emc_mhz": "MHz",
}


def _positive(name: str, value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}={value!r}; expected a positive number")
    return float(value)


def _check_choices(policy: str, objective: str, mode: str, thresholds) -> np.ndarray:
    """The threshold choices (T,) after checking the named options."""
    for name, value, allowed in (("policy", policy, POLICIES), ("objective", objective, OBJECTIVES), ("mode", mode, MODES)):
        if value not in allowed:
            raise ValueError(f"{name} {value!r} is not known; expected one of {allowed}")
    try:
        values = np.array([float(t) for t in thresholds], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"thresholds={thresholds!r}; expected a non-empty sequence of numbers in [0, 1]") from None
    if values.size == 0:
        raise ValueError(f"thresholds={thresholds!r}; expected a non-empty sequence of numbers in [0, 1]")
    check_threshold(values)
    return values


def _check_weights(objective: str, accuracy_weight, energy_weight, accuracy_target, deadline_ms) -> tuple[float | None, float | None]:
    """``(accuracy_target, deadline_ms)`` as floats or None after checking the objective's options."""
    for name, w in (("accuracy_weight", accuracy_weight), ("energy_weight", energy_weight)):
        if isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating)) or not np.isfinite(w) or w < 0:
            raise ValueError(f"{name}={w!r}; expected a non-negative number")
    if objective == "scalarized" and accuracy_weight == 0 and energy_weight == 0:
        raise ValueError("accuracy_weight and energy_weight are both 0; expected at least one positive weight")
    target = _positive("accuracy_target", accuracy_target)
    if target is not None and target > 100:
        raise ValueError(f"accuracy_target={accuracy_target!r}; expected a top-1 accuracy in (0, 100] %")
    deadline = _positive("deadline_ms", deadline_ms)
    if objective == "constrained" and target is None and deadline is None:
        raise ValueError("objective 'constrained' needs accuracy_target (%) and/or deadline_ms; got neither")
    return target, deadline


class EarlyExitDVFSProblem(Problem):
    """HADAS's design space, objectives and batched scoring.

    Multi-objective: :attr:`objectives` are energy per inference (mJ, min) and top-1 accuracy
    (%, max), as HADAS states them. :attr:`objective`, what methods rank by, depends on
    ``objective``: ``scalarized`` ranks by ``accuracy_weight * top1/100 - energy_weight * E/E_ref``
    negated (:data:`SCALARIZED`, unit 1; the env's reward is its negative); ``constrained`` ranks
    by the energy per inference (mJ) subject to ``accuracy_target`` and ``deadline_ms`` (fitness
    ``E/E_ref``, and ``worst * (1 + overshoot)`` for infeasible designs, ``worst`` an upper bound
    of any design's ``E/E_ref``, so every infeasible design ranks below every feasible one).
    ``E_ref`` (:attr:`energy_ref_mj`) is the energy of :meth:`reference`.

    Args:
        dataset: ``cifar-100`` or ``tiny-imagenet``.
        exit_set: ``current`` (a0..a5) or ``old_res`` (older exit head; a0..a6 on CIFAR-100).
        backbones: backbones offered (default: every one with exit data).
        policy: ``threshold`` (modelled, realizable; the design picks the threshold) or ``oracle``
            (upper bound: an input leaves at the first attached exit that is right).
        thresholds: threshold choices in [0, 1].
        power_mode: an nvpmodel mode name (``MAXN``, ``MODE_15W``, ...) limiting the levels to its
            caps (and the GPU to its powered TPCs), or ``None`` for every level.
        objective: ``scalarized`` or ``constrained`` (above).
        accuracy_weight, energy_weight: weights of the scalarized objective (>= 0, not both 0).
        accuracy_target, deadline_ms: constraints of the constrained objective (at least one).
        mode: ``one_shot``, ``two_level`` or ``sequential`` (the envs' episodes; evaluation does not depend on it).
        energy_scope: what the energy counts: ``module`` (every module rail, comparable with
            HADAS's measurements; default) or ``gpu_rail`` (the GPU rail alone, what the
            perf_prediction power rows measure). A non-default scope is appended to :attr:`label`.
        xavier: a built :class:`XavierSpace` to use (default: one for ``dataset``, ``exit_set``,
            ``backbones``, ``energy_scope``); not part of :attr:`options`.
    """

    env_id = "codesign/EarlyExitDVFS-v0"
    objectives = (ENERGY, ACCURACY)

    def __init__(self, dataset: str = "cifar-100", exit_set: str = "current", backbones: Sequence[str] | None = None,
                 policy: str = "threshold", thresholds: Sequence[float] = DEFAULT_THRESHOLDS, power_mode: str | None = None,
                 objective: str = "scalarized", accuracy_weight: float = 1.0, energy_weight: float = 1.0,
                 accuracy_target: float | None = None, deadline_ms: float | None = None, mode: str = "one_shot",
                 energy_scope: str = "module", xavier: XavierSpace | None = None):
        self.thresholds = _check_choices(policy, objective, mode, thresholds)
        self.accuracy_target, self.deadline_ms = _check_weights(objective, accuracy_weight, energy_weight, accuracy_target, deadline_ms)
        check_scope(energy_scope)
        self.xavier = xavier or XavierSpace(dataset, exit_set, backbones, scope=energy_scope)
        self.energy_scope = self.xavier.scope
        self.dataset, self.exit_set, self.policy, self.kind, self.mode = self.xavier.dataset, self.xavier.exit_set, policy, objective, mode
        self.accuracy_weight, self.energy_weight = float(accuracy_weight), float(energy_weight)
        board = load_board()
        self.power_mode = power_mode
        self.tpc_fraction = 1.0 if power_mode is None else board.mode(power_mode).active_tpc_fraction
        self.levels = {d: board.allowed_levels(d, power_mode) for d in ("gpu", "cpu", "emc")}
        self.num_backbones = len(self.xavier.backbones)
        self.max_exits = self.xavier.max_exits
        names = ["backbone"] + [f"exit{j + 1}" for j in range(self.max_exits)] + (["threshold"] if policy == "threshold" else [])
        nvec = [self.num_backbones] + [2] * self.max_exits + ([self.thresholds.size] if policy == "threshold" else [])
        self.space = DesignSpace(tuple(names + ["gpu", "cpu", "emc"]), np.array(nvec + [self.levels[d].size for d in ("gpu", "cpu", "emc")]))
        self.objective = SCALARIZED if objective == "scalarized" else ENERGY
        self._options = {
            "dataset": dataset, "exit_set": exit_set, "backbones": None if backbones is None else list(backbones), "policy": policy,
            "thresholds": self.thresholds.tolist(), "power_mode": power_mode, "objective": objective,
            "accuracy_weight": self.accuracy_weight, "energy_weight": self.energy_weight, "accuracy_target": self.accuracy_target,
            "deadline_ms": self.deadline_ms, "mode": mode, "energy_scope": self.energy_scope,
        }
        self._bounds()

    @property
    def label(self) -> str:
        """``dataset|exit_set|policy`` (the results' ``problem`` column), ``|gpu_rail`` appended
        with that energy scope."""
        base = f"{self.dataset}|{self.exit_set}|{self.policy}"
        return base if self.energy_scope == "module" else f"{base}|{self.energy_scope}"

    def _bounds(self) -> None:
        """``energy_ref_mj``: the largest (most energy per inference) static backbone's energy at the
        highest allowed levels (:meth:`reference`); ``energy_max_mj``: an upper bound of any design's
        energy (every block and every exit head, over every allowed frequency combination)."""
        top = {d: self.levels[d][-1] for d in self.levels}
        none = np.zeros((self.num_backbones, self.max_exits), dtype=bool)
        static = self.xavier.evaluate(np.arange(self.num_backbones), none, "oracle", 0.0, top["gpu"], top["emc"], top["cpu"], self.tpc_fraction)
        self.reference_backbone = int(np.argmax(static.static_energy_mj))
        self.energy_ref_mj = float(static.static_energy_mj[self.reference_backbone])
        g, c, e = np.meshgrid(self.levels["gpu"], self.levels["cpu"], self.levels["emc"], indexing="ij")
        # padded blocks and heads are zero work; every real block and head bounds any policy's path
        self.energy_max_mj = float(self.xavier.full_path_energy_mj(g.ravel(), e.ravel(), c.ravel(), self.tpc_fraction).max())

    def decode(self, designs: np.ndarray) -> dict[str, np.ndarray]:
        """Index designs (N, D) to values: ``backbone`` (N,) index, ``attached`` (N, E) bool (masked
        to the backbone's exits), ``threshold`` (N,) (1 with the oracle policy, where it is unused),
        ``gpu_mhz``, ``cpu_mhz``, ``emc_mhz`` (N,) MHz.

        Raises:
            ValueError: for designs of the wrong shape or outside the space (``nvec`` named).
        """
        d = self.space.check(designs)
        E = self.max_exits
        k = d[:, 0]
        attached = (d[:, 1 : 1 + E] == 1) & (np.arange(E)[None, :] < self.xavier.num_exits[k][:, None])
        i = 1 + E
        if self.policy == "threshold":
            thr = self.thresholds[d[:, i]]
            i += 1
        else:
            thr = np.ones(d.shape[0])
        return {"backbone": k, "attached": attached, "threshold": thr, "gpu_mhz": self.levels["gpu"][d[:, i]],
                "cpu_mhz": self.levels["cpu"][d[:, i + 1]], "emc_mhz": self.levels["emc"][d[:, i + 2]]}

    def evaluate(self, designs: np.ndarray) -> Evaluation:
        """Price designs (N, D) per inference. ``fitness`` and ``objective``: see the class
        docstring. Metrics (N,) unless noted, units in :data:`METRIC_UNITS`: ``accuracy`` (top-1 %),
        ``latency_ms``, ``energy_mj``, ``power_w``, ``exit_share`` (N, E + 1; fraction of inputs
        leaving at each exit, last: the final classifier), ``static_energy_mj`` (the backbone
        without exits at the same levels), ``energy_ratio`` (``E / E_ref``), and the decoded design:
        ``backbone`` (index), ``attached`` (N, E), ``threshold`` (NaN with the oracle policy),
        ``gpu_mhz``, ``cpu_mhz``, ``emc_mhz``."""
        v = self.decode(designs)
        r = self.xavier.evaluate(v["backbone"], v["attached"], self.policy, v["threshold"], v["gpu_mhz"], v["emc_mhz"], v["cpu_mhz"],
                                 self.tpc_fraction)
        ratio = r.energy_mj / self.energy_ref_mj
        over = np.zeros(r.accuracy.size)
        if self.kind == "constrained":
            if self.accuracy_target is not None:
                over = np.maximum(over, self.accuracy_target / np.maximum(r.accuracy, 1e-9) - 1.0)
            if self.deadline_ms is not None:
                over = np.maximum(over, r.latency_ms / self.deadline_ms - 1.0)
            feasible = over <= 0
            fitness = np.where(feasible, ratio, self.energy_max_mj / self.energy_ref_mj * (1.0 + over))
            objective = r.energy_mj
        else:
            feasible = np.ones(r.accuracy.size, dtype=bool)
            fitness = self.energy_weight * ratio - self.accuracy_weight * r.accuracy / 100.0
            objective = fitness
        metrics = {"accuracy": r.accuracy, "latency_ms": r.latency_ms, "energy_mj": r.energy_mj, "power_w": r.power_w,
                   "exit_share": r.exit_share, "static_energy_mj": r.static_energy_mj, "energy_ratio": ratio, **v}
        if self.policy != "threshold":
            metrics["threshold"] = np.full(r.accuracy.size, np.nan)
        return Evaluation(fitness, objective, feasible, over, metrics, dict(METRIC_UNITS))

    def to_config(self, design: np.ndarray) -> dict[str, Any]:
        """One design (D,) as ``backbone`` (name), ``exits`` (1-based numbers, as in the exit_perf
        files), ``threshold`` (None with the oracle policy), ``gpu_mhz``, ``cpu_mhz``, ``emc_mhz``."""
        v = self.decode(np.asarray(design)[None, :])
        return {"backbone": self.xavier.backbones[int(v["backbone"][0])], "exits": (np.flatnonzero(v["attached"][0]) + 1).tolist(),
                "threshold": float(v["threshold"][0]) if self.policy == "threshold" else None,
                **{f"{d}_mhz": float(v[f"{d}_mhz"][0]) for d in ("gpu", "cpu", "emc")}}

    def reference(self) -> KnownPoint:
        """The static backbone with the most energy per inference (no exits) at the highest
        allowed levels: its energy is :attr:`energy_ref_mj`, ``E_ref`` of the objectives."""
        design = np.zeros(self.space.size, dtype=np.int64)
        design[0] = self.reference_backbone
        design[-3:] = [self.levels[d].size - 1 for d in ("gpu", "cpu", "emc")]
        objective = float(self.evaluate(design[None, :]).objective[0])
        name = self.xavier.backbones[self.reference_backbone]
        return KnownPoint(objective, design, f"static {name} (no exits) at the highest allowed levels")

    @property
    def obs_dim(self) -> int:
        return 1 + self.num_backbones


class _Episodes:
    """Batched episode state: ``phase`` (0: backbone step of two_level, or the only step),
    ``chosen`` backbone; in ``sequential`` mode the :class:`SequentialChoices` ``seq``."""

    def __init__(self, problem: EarlyExitDVFSProblem, n: int):
        self.p, self.n = problem, n
        self.phase = np.zeros(n, dtype=np.int64)
        self.chosen = np.zeros(n, dtype=np.int64)
        self.seq = SequentialChoices(problem.space.nvec, n)

    def reset(self, rows: np.ndarray) -> None:
        self.phase[rows] = 0
        self.chosen[rows] = 0
        self.seq.reset(rows)

    def observe(self) -> np.ndarray:
        if self.p.mode == "sequential":
            return self.seq.observe()
        obs = np.zeros((self.n, self.p.obs_dim), dtype=np.float32)
        second = self.phase == 1
        obs[:, 0] = second
        obs[np.flatnonzero(second), 1 + self.chosen[second]] = 1.0
        return obs

    def step(self, actions: np.ndarray, active: np.ndarray):
        """Returns reward (n,) ``-fitness`` where an episode ends, terminated (n,), the
        :class:`Evaluation` of the designs (or None when none ends) and the designs (n, D) used."""
        p = self.p
        if p.mode == "sequential":
            finish = self.seq.record(actions, active)
            designs = self.seq.chosen.copy()
        else:
            act = p.space.check(np.where(active[:, None], actions, 0))
            pick = active & (self.phase == 0) & (p.mode == "two_level")
            finish = active & ~pick
            designs = act.copy()
            two = finish & (self.phase == 1)
            designs[two, 0] = self.chosen[two]
            self.chosen = np.where(pick, act[:, 0], self.chosen)
            self.phase = np.where(pick, 1, self.phase)
        reward = np.zeros(self.n)
        evaluation = None
        if finish.any():
            evaluation = p.evaluate(designs)
            reward = np.where(finish, -evaluation.fitness, 0.0)
        return reward, finish, evaluation, designs


def _spaces(problem: EarlyExitDVFSProblem):
    if problem.mode == "sequential":
        return spaces.Discrete(int(problem.space.nvec.max())), spaces.Box(0.0, 1.0, shape=(2 * problem.space.size,), dtype=np.float32)
    return spaces.MultiDiscrete(problem.design_nvec), spaces.Box(0.0, 1.0, shape=(problem.obs_dim,), dtype=np.float32)


class _Infos:
    """The ``info`` of ``reset`` and of a step that does not end the episode, the single env's
    and (batched) the vector env's."""

    problem: Any
    _ep: Any

    def _reset_info(self) -> dict[str, Any]:
        return {"mode": self.problem.mode, "exit_model": POLICY_LABELS[self.problem.policy]}

    def _step_values(self) -> dict[str, np.ndarray]:
        if self.problem.mode == "sequential":
            return {"entry": self._ep.seq.pos.copy()}
        return {"backbone": self._ep.chosen.copy()}


class EarlyExitDVFSEnv(_Infos, EpisodeEnv):
    """One design per episode (one step, or two in ``two_level`` mode). Keyword options are those of
    :class:`EarlyExitDVFSProblem` (or pass a built ``problem``). ``reset`` gives ``mode`` and
    ``exit_model``; the final ``info`` is :func:`~codesign_gym.envs.episode_info.final_info`;
    the first step of ``two_level`` gives ``{"backbone": index}``, an earlier step of
    ``sequential`` ``{"entry": next entry}``. Every action is allowed: ``action_masks()`` is all True."""

    def __init__(self, problem: EarlyExitDVFSProblem | None = None, **problem_options: Any):
        self.problem = make_problem(EarlyExitDVFSProblem, problem, problem_options)
        self.action_space, self.observation_space = _spaces(self.problem)
        self._ep = _Episodes(self.problem, 1)


class EarlyExitDVFSVectorEnv(_Infos, EpisodeBatchVectorEnv):
    """``num_envs`` episodes stepped as one batch, autoreset NEXT_STEP (the step after an episode
    ends resets that sub-env, ignores its action and returns reward 0) or SAME_STEP
    (``autoreset_mode="same_step"``). The final ``info`` holds
    :func:`~codesign_gym.envs.episode_info.final_info_batch`'s ``(num_envs, ...)`` arrays with
    gymnasium's ``_key`` masks."""

    def __init__(self, num_envs: int = 1, problem: EarlyExitDVFSProblem | None = None, autoreset_mode: Any = "next_step",
                 **problem_options: Any):
        super().__init__(num_envs, autoreset_mode)
        self.problem = make_problem(EarlyExitDVFSProblem, problem, problem_options)
        self._set_single_spaces(*_spaces(self.problem))
        self._ep = _Episodes(self.problem, self.num_envs)
