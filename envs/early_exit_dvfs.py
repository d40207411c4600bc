"""``codesign/EarlyExitDVFS-v0``: choose a backbone, its early exits, the exit threshold and the
Jetson AGX Xavier's GPU/CPU/EMC frequencies together (HADAS, DATE 2023).

A design is ``[backbone, exit_1 .. exit_Emax (0/1 each), threshold, gpu, cpu, emc]`` (indices;
the threshold entry exists only with ``policy="threshold"``). Exits past the chosen backbone's
own count are ignored. Latency, energy, power and accuracy per inference come from
:mod:`codesign_gym.costmodels.xavier`.

Modes: ``one_shot`` (one step, the whole design) and ``two_level`` (HADAS's nesting: step 1 reads
only the backbone entry, step 2 the exits, threshold and DVFS for that backbone; the reward comes
at step 2). :class:`EarlyExitDVFSProblem` holds the space, options and batched scoring, shared by
the single env and the native vector env. See ``docs/envs/early_exit_dvfs.md``.
"""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from codesign_gym.costmodels.xavier import POLICIES, POLICY_LABELS, XavierSpace, load_board
from codesign_gym.costmodels.xavier.exits import check_threshold
from codesign_gym.envs.design_space import Evaluation, check_integer_designs
from codesign_gym.envs.vector_base import EpisodeBatchVectorEnv, check_started

OBJECTIVES = ("scalarized", "constrained")
MODES = ("one_shot", "two_level")
#: Default threshold choices: a plain grid over [0, 1].
DEFAULT_THRESHOLDS = tuple(round(0.1 * i, 1) for i in range(11))


def _positive(name: str, value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}={value!r}; expected a positive number")
    return float(value)


class EarlyExitDVFSProblem:
    """The design space, objective and batched scoring.

    Args:
        dataset: ``cifar-100`` or ``tiny-imagenet``.
        exit_set: ``current`` (a0..a5) or ``old_res`` (older exit head; a0..a6 on CIFAR-100).
        backbones: backbones offered (default: every one with exit data).
        policy: ``threshold`` (modelled, realizable; the action picks the threshold) or ``oracle``
            (upper bound: an input leaves at the first attached exit that is right).
        thresholds: threshold choices in [0, 1].
        power_mode: an nvpmodel mode name (``MAXN``, ``MODE_15W``, ...) limiting the levels to its
            caps (and the GPU to its powered TPCs), or ``None`` for every level.
        objective: ``scalarized`` (reward ``accuracy_weight * top1/100 - energy_weight * E/E_ref``)
            or ``constrained`` (minimise ``E/E_ref`` subject to ``accuracy_target`` (%) and
            ``deadline_ms``; infeasible designs rank below every feasible one).
        accuracy_weight, energy_weight: weights of the scalarized reward (>= 0, not both 0).
        accuracy_target, deadline_ms: constraints of the constrained objective (at least one).
        mode: ``one_shot`` or ``two_level``.
    """

    def __init__(self, dataset: str = "cifar-100", exit_set: str = "current", backbones: Sequence[str] | None = None,
                 policy: str = "threshold", thresholds: Sequence[float] = DEFAULT_THRESHOLDS, power_mode: str | None = None,
                 objective: str = "scalarized", accuracy_weight: float = 1.0, energy_weight: float = 1.0,
                 accuracy_target: float | None = None, deadline_ms: float | None = None, mode: str = "one_shot",
                 space: XavierSpace | None = None):
        if policy not in POLICIES:
            raise ValueError(f"policy {policy!r} is not known; expected one of {POLICIES}")
        if objective not in OBJECTIVES:
            raise ValueError(f"objective {objective!r} is not known; expected one of {OBJECTIVES}")
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not known; expected one of {MODES}")
        try:
            self.thresholds = np.array([float(t) for t in thresholds], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"thresholds={thresholds!r}; expected a non-empty sequence of numbers in [0, 1]") from None
        if self.thresholds.size == 0:
            raise ValueError(f"thresholds={thresholds!r}; expected a non-empty sequence of numbers in [0, 1]")
        check_threshold(self.thresholds)
        for name, w in (("accuracy_weight", accuracy_weight), ("energy_weight", energy_weight)):
            if isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating)) or not np.isfinite(w) or w < 0:
                raise ValueError(f"{name}={w!r}; expected a non-negative number")
        if objective == "scalarized" and accuracy_weight == 0 and energy_weight == 0:
            raise ValueError("accuracy_weight and energy_weight are both 0; expected at least one positive weight")
        self.accuracy_target = _positive("accuracy_target", accuracy_target)
        if self.accuracy_target is not None and self.accuracy_target > 100:
            raise ValueError(f"accuracy_target={accuracy_target!r}; expected a top-1 accuracy in (0, 100] %")
        self.deadline_ms = _positive("deadline_ms", deadline_ms)
        if objective == "constrained" and self.accuracy_target is None and self.deadline_ms is None:
            raise ValueError("objective 'constrained' needs accuracy_target (%) and/or deadline_ms; got neither")
        self.space = space or XavierSpace(dataset, exit_set, backbones)
        self.dataset, self.exit_set, self.policy, self.objective, self.mode = self.space.dataset, self.space.exit_set, policy, objective, mode
        self.accuracy_weight, self.energy_weight = float(accuracy_weight), float(energy_weight)
        board = load_board()
        self.power_mode = power_mode
        self.tpc_fraction = 1.0 if power_mode is None else board.mode(power_mode).active_tpc_fraction
        self.levels = {d: board.allowed_levels(d, power_mode) for d in ("gpu", "cpu", "emc")}
        self.num_backbones = len(self.space.backbones)
        self.max_exits = self.space.max_exits
        nvec = [self.num_backbones] + [2] * self.max_exits
        if policy == "threshold":
            nvec.append(self.thresholds.size)
        nvec += [self.levels["gpu"].size, self.levels["cpu"].size, self.levels["emc"].size]
        self.design_nvec = np.array(nvec, dtype=np.int64)
        self._bounds()

    # ------------------------------------------------------------------ scoring
    def _bounds(self) -> None:
        """``energy_ref_mj``: the largest static backbone's energy at the highest allowed levels;
        ``energy_max_mj``: an upper bound of any design's energy (every block and every exit head,
        over every allowed frequency combination)."""
        top = {d: self.levels[d][-1] for d in self.levels}
        none = np.zeros((self.num_backbones, self.max_exits), dtype=bool)
        static = self.space.evaluate(np.arange(self.num_backbones), none, "oracle", 0.0, top["gpu"], top["emc"], top["cpu"], self.tpc_fraction)
        self.energy_ref_mj = float(static.static_energy_mj.max())
        g, c, e = np.meshgrid(self.levels["gpu"], self.levels["cpu"], self.levels["emc"], indexing="ij")
        # padded blocks and heads are zero work; every real block and head bounds any policy's path
        self.energy_max_mj = float(self.space.full_path_energy_mj(g.ravel(), e.ravel(), c.ravel(), self.tpc_fraction).max())

    def check_designs(self, designs: np.ndarray) -> np.ndarray:
        """``designs`` (N, D) as int64, checked against :attr:`design_nvec`."""
        return check_integer_designs(designs, self.design_nvec)

    def decode(self, designs: np.ndarray) -> dict[str, np.ndarray]:
        """Index designs (N, D) to values: ``backbone`` (N,) index, ``attached`` (N, E_max) bool (masked
        to the backbone's exits), ``threshold`` (N,), ``gpu_mhz``, ``cpu_mhz``, ``emc_mhz`` (N,)."""
        d = self.check_designs(designs)
        E = self.max_exits
        k = d[:, 0]
        attached = (d[:, 1 : 1 + E] == 1) & (np.arange(E)[None, :] < self.space.num_exits[k][:, None])
        i = 1 + E
        if self.policy == "threshold":
            thr = self.thresholds[d[:, i]]
            i += 1
        else:
            thr = np.ones(d.shape[0])
        return {"backbone": k, "attached": attached, "threshold": thr, "gpu_mhz": self.levels["gpu"][d[:, i]],
                "cpu_mhz": self.levels["cpu"][d[:, i + 1]], "emc_mhz": self.levels["emc"][d[:, i + 2]]}

    def evaluate_designs(self, designs: np.ndarray) -> dict[str, np.ndarray]:
        """Score designs (N, D); (N,) arrays ``accuracy`` (%), ``latency_ms``, ``energy_mj``,
        ``power_w``, ``exit_share`` (N, E_max + 1), ``static_energy_mj``, ``feasible``, ``overshoot``,
        ``objective`` (minimised: ``-reward``) and the decoded design."""
        v = self.decode(designs)
        r = self.space.evaluate(v["backbone"], v["attached"], self.policy, v["threshold"], v["gpu_mhz"], v["emc_mhz"], v["cpu_mhz"],
                                self.tpc_fraction)
        m: dict[str, np.ndarray] = dict(v)
        m.update(accuracy=r.accuracy, latency_ms=r.latency_ms, energy_mj=r.energy_mj, power_w=r.power_w, exit_share=r.exit_share,
                 static_energy_mj=r.static_energy_mj)
        e_norm = r.energy_mj / self.energy_ref_mj
        over = np.zeros(r.accuracy.size)
        if self.objective == "constrained":
            if self.accuracy_target is not None:
                over = np.maximum(over, self.accuracy_target / np.maximum(r.accuracy, 1e-9) - 1.0)
            if self.deadline_ms is not None:
                over = np.maximum(over, r.latency_ms / self.deadline_ms - 1.0)
            feasible = over <= 0
            worst = self.energy_max_mj / self.energy_ref_mj
            m["objective"] = np.where(feasible, e_norm, worst * (1.0 + over))
        else:
            feasible = np.ones(r.accuracy.size, dtype=bool)
            m["objective"] = self.energy_weight * e_norm - self.accuracy_weight * r.accuracy / 100.0
        m["feasible"], m["overshoot"] = feasible, over
        return m

    def score(self, designs: np.ndarray) -> Evaluation:
        """Black-box view for search methods (minimise ``objective``; see :class:`Evaluation`)."""
        m = self.evaluate_designs(designs)
        return Evaluation(fitness=m["objective"], objective=m["objective"], feasible=m["feasible"])

    @property
    def obs_dim(self) -> int:
        return 1 + self.num_backbones

    def info_row(self, m: dict[str, np.ndarray], i: int) -> dict[str, Any]:
        """``info`` of design ``i`` of :meth:`evaluate_designs`'s output (plain Python values)."""
        k = int(m["backbone"][i])
        return {
            "backbone": self.space.backbones[k], "exits": (np.flatnonzero(m["attached"][i]) + 1).tolist(),
            "threshold": float(m["threshold"][i]) if self.policy == "threshold" else None,
            "gpu_mhz": float(m["gpu_mhz"][i]), "cpu_mhz": float(m["cpu_mhz"][i]), "emc_mhz": float(m["emc_mhz"][i]),
            "accuracy": float(m["accuracy"][i]), "latency_ms": float(m["latency_ms"][i]), "energy_mj": float(m["energy_mj"][i]),
            "power_w": float(m["power_w"][i]), "exit_share": m["exit_share"][i].copy(), "static_energy_mj": float(m["static_energy_mj"][i]),
            "exit_model": POLICY_LABELS[self.policy], "feasible": bool(m["feasible"][i]), "objective": float(m["objective"][i]),
        }


class _Episodes:
    """Batched episode state: ``phase`` (0: backbone step of two_level, or the only step), ``chosen`` backbone."""

    def __init__(self, problem: EarlyExitDVFSProblem, n: int):
        self.p, self.n = problem, n
        self.phase = np.zeros(n, dtype=np.int64)
        self.chosen = np.zeros(n, dtype=np.int64)

    def reset(self, rows: np.ndarray) -> None:
        self.phase[rows] = 0
        self.chosen[rows] = 0

    def observe(self) -> np.ndarray:
        obs = np.zeros((self.n, self.p.obs_dim), dtype=np.float32)
        second = self.phase == 1
        obs[:, 0] = second
        obs[np.flatnonzero(second), 1 + self.chosen[second]] = 1.0
        return obs

    def step(self, actions: np.ndarray, active: np.ndarray):
        """Returns reward (n,), terminated (n,), metrics (or None), designs (n, D) used."""
        p = self.p
        act = p.check_designs(np.where(active[:, None], actions, 0))
        pick = active & (self.phase == 0) & (p.mode == "two_level")
        finish = active & ~pick
        designs = act.copy()
        two = finish & (self.phase == 1)
        designs[two, 0] = self.chosen[two]
        reward = np.zeros(self.n)
        metrics = None
        if finish.any():
            metrics = p.evaluate_designs(designs)
            reward = np.where(finish, -metrics["objective"], 0.0)
        self.chosen = np.where(pick, act[:, 0], self.chosen)
        self.phase = np.where(pick, 1, self.phase)
        return reward, finish, metrics, designs


def _spaces(problem: EarlyExitDVFSProblem):
    return spaces.MultiDiscrete(problem.design_nvec), spaces.Box(0.0, 1.0, shape=(problem.obs_dim,), dtype=np.float32)


class EarlyExitDVFSEnv(gym.Env):
    """One design per episode (one step, or two in ``two_level`` mode). Keyword options are those of
    :class:`EarlyExitDVFSProblem` (or pass a built ``problem``)."""

    metadata = {"render_modes": []}

    def __init__(self, problem: EarlyExitDVFSProblem | None = None, **problem_options: Any):
        self.problem = problem if problem is not None else EarlyExitDVFSProblem(**problem_options)
        self.action_space, self.observation_space = _spaces(self.problem)
        self._ep = _Episodes(self.problem, 1)
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._ep.reset(np.ones(1, dtype=bool))
        self._started = True
        return self._ep.observe()[0], {"mode": self.problem.mode, "exit_model": POLICY_LABELS[self.problem.policy]}

    def step(self, action):
        check_started(self._started)
        act = np.asarray(action)
        if act.shape != self.problem.design_nvec.shape:
            raise ValueError(f"action {action!r} is outside the action space; expected {self.problem.design_nvec.size} integer indices "
                             f"(nvec={self.problem.design_nvec.tolist()})")
        reward, done, metrics, designs = self._ep.step(act[None, :], np.ones(1, dtype=bool))
        if done[0]:
            info = self.problem.info_row(metrics, 0)
            info["design"] = designs[0].copy()
            self._started = False
        else:
            info = {"backbone": self.problem.space.backbones[int(self._ep.chosen[0])]}
        return self._ep.observe()[0], float(reward[0]), bool(done[0]), False, info


class EarlyExitDVFSVectorEnv(EpisodeBatchVectorEnv):
    """``num_envs`` episodes stepped as one batch, autoreset NEXT_STEP (the step after an episode
    ends resets that sub-env, ignores its action and returns reward 0). ``info`` holds ``(num_envs,)``
    arrays (``exit_share``: (num_envs, E_max + 1)) with gymnasium's ``_key`` masks."""

    INFO_KEYS = ("backbone", "threshold", "gpu_mhz", "cpu_mhz", "emc_mhz", "accuracy", "latency_ms", "energy_mj", "power_w",
                 "exit_share", "static_energy_mj", "feasible", "objective")

    def __init__(self, num_envs: int = 1, problem: EarlyExitDVFSProblem | None = None, **problem_options: Any):
        super().__init__(num_envs)
        self.problem = problem if problem is not None else EarlyExitDVFSProblem(**problem_options)
        self._set_single_spaces(*_spaces(self.problem))
        self._ep = _Episodes(self.problem, self.num_envs)

    def step(self, actions):
        resetting = self._begin_step()
        act = np.asarray(actions)
        D = self.problem.design_nvec.size
        if act.shape != (self.num_envs, D) or act.dtype.kind not in "iu":
            raise ValueError(f"actions have shape {act.shape} and dtype {act.dtype}; expected integers of shape ({self.num_envs}, {D})")
        return self._step_episodes(act, resetting)
