"""``codesign/BatchSizePowerLimit-v0``: pick a batch size and GPU power limit for each try of a
recurring training job (Zeus, NSDI 2023), priced on Zeus's measured traces.

One step is one try: the job trains at the chosen batch size and power limit until it reaches
the target metric or is stopped (epoch cap, Zeus's early stopping). A recurrence ends when a try
reaches the target or after ``max_tries`` (20) tries; an episode is ``recurrences`` recurrences
(default ``2 * |batch sizes| * |power limits|``, as Zeus's simulator). Costs come from
:mod:`codesign_gym.costmodels.zeus`; the run a try follows is drawn from the trace's runs with the
env's seeded generator, one ``Generator.choice(runs, 1, replace=False)`` per try, as Zeus's
simulator samples its DataFrame.

:class:`BatchSizePowerLimitProblem` holds the priced problem (a design is a (batch size, power
limit) index pair; one evaluation is the expected cost of one recurrence there); :class:`_Tries`
the batched episode logic shared by the single env and the native vector env. The ``info`` of an
episode's last step also carries the common final keys (:mod:`codesign_gym.envs.episode_info`)
for the last try's configuration, the one an online optimizer ends up recommending. See
``docs/envs/batch_size_power_limit.md`` for spaces, reward and ``info`` keys.
"""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

from codesign_gym.costmodels.zeus import (
    check_eta_beta,
    config_statistics,
    default_config,
    epoch_cap,
    jit_profile,
    load_trace,
    oracle_config,
    try_outcome,
)
from codesign_gym.envs.episode_info import final_info, final_info_batch
from codesign_gym.envs.options import make_problem
from codesign_gym.envs.problem import DesignSpace, Evaluation, KnownPoint, Objective, Problem
from codesign_gym.envs.action_masks import MaskRows, dimension_masks
from codesign_gym.envs.vector_base import AutoresetVectorEnv, check_actions, check_started

POWER_LIMIT_MODES = ("choose", "jit")
#: Zeus's simulator gives up on a recurrence after this many tries.
MAX_TRIES = 20
#: Normalised costs in the observation are clipped here, then scaled to [0, 1].
_COST_CLIP = 10.0


def problem_label(workload: str, gpu: str, eta: float, beta: float | None) -> str:
    """The label of a problem in results (``cifar100|v100|eta=0.5|beta=2``; ``beta=None`` without early stopping)."""
    return f"{workload}|{gpu}|eta={eta:g}|beta={beta if beta is None else f'{beta:g}'}"


#: Unit of every metric of :meth:`BatchSizePowerLimitProblem.evaluate`.
METRIC_UNITS: dict[str, str] = {"eta_j": "J", "tta_s": "s", "mean_try_cost": "J", "reach_fraction": "1", "measured": "bool"}


class BatchSizePowerLimitProblem(Problem):
    """The priced problem of one workload on one GPU.

    A design (2,) is ``[batch size index, power limit index]`` into the trace's ascending
    ``batch_sizes`` and ``power_limits`` (W). One evaluation prices one recurrence of the job
    at that configuration (:attr:`evaluation_unit`), deterministically: its expected cost,
    Zeus's ``eta * ETA + (1 - eta) * MAXPOWER * TTA`` (J) averaged over the trace's runs (see
    :meth:`evaluate`). The episode options (``recurrences``, ``power_limit``, ``max_tries``,
    ``beta``) shape the env's episodes, not the evaluation.

    Args:
        workload: ``cifar100``, ``imagenet``, ``squad``, ``librispeech``, ``movielens``, ``sentiment140``.
        gpu: ``v100``, ``a40``, ``rtx6000``, ``p100``.
        eta: weight of energy in the cost, in [0, 1] (Zeus's eta knob).
        beta: early-stopping threshold factor (> 1); ``None`` disables early stopping.
        max_epochs, target_metric, default_bs: override the workload's (see ``load_trace``).
        recurrences: recurrences per episode (default ``2 * B * P``).
        power_limit: ``choose`` (the action holds the power limit) or ``jit`` (the env profiles
            each new batch size's power limits during its first epoch and keeps the cheapest,
            Zeus's JIT profiler; the action is the batch size only).
        max_tries: tries per recurrence before it is given up (Zeus: 20).
    """

    env_id = "codesign/BatchSizePowerLimit-v0"
    evaluation_unit = "recurrence"

    def __init__(
        self,
        workload: str = "cifar100",
        gpu: str = "v100",
        eta: float = 0.5,
        beta: float | None = 2.0,
        max_epochs: int | None = None,
        target_metric: float | None = None,
        default_bs: int | None = None,
        recurrences: int | None = None,
        power_limit: str = "choose",
        max_tries: int = MAX_TRIES,
    ):
        check_eta_beta(eta, beta)
        if power_limit not in POWER_LIMIT_MODES:
            raise ValueError(f"power_limit {power_limit!r} is not known; expected one of {POWER_LIMIT_MODES}")
        if isinstance(max_tries, bool) or not isinstance(max_tries, (int, np.integer)) or max_tries < 1:
            raise ValueError(f"max_tries {max_tries!r}: expected a positive integer")
        self.trace = load_trace(workload, gpu, target_metric=target_metric, max_epochs=max_epochs, default_bs=default_bs)
        self.eta = float(eta)
        self.beta = None if beta is None else float(beta)
        self.power_limit_mode = power_limit
        self.max_tries = int(max_tries)
        self.num_batch_sizes = int(self.trace.batch_sizes.size)
        self.num_power_limits = int(self.trace.power_limits.size)
        if recurrences is None:
            recurrences = 2 * self.num_batch_sizes * self.num_power_limits
        if isinstance(recurrences, bool) or not isinstance(recurrences, (int, np.integer)) or recurrences < 1:
            raise ValueError(f"recurrences {recurrences!r}: expected a positive integer")
        self.recurrences = int(recurrences)
        self.space = DesignSpace(("batch_size", "power_limit"), np.array([self.num_batch_sizes, self.num_power_limits]))
        self.objective = Objective("cost", "J", "min")
        self._options = {"workload": workload, "gpu": gpu, "eta": self.eta, "beta": self.beta, "max_epochs": max_epochs,
                         "target_metric": target_metric, "default_bs": default_bs, "recurrences": self.recurrences,
                         "power_limit": power_limit, "max_tries": self.max_tries}
        self.jit = jit_profile(self.trace, self.eta)
        self.stats = config_statistics(self.trace, self.eta)
        self.default = default_config(self.trace)
        try:
            self.oracle = oracle_config(self.trace, self.eta)
        except ValueError as err:
            raise ValueError(f"{err} (max_epochs={max_epochs!r}, target_metric={target_metric!r}); expected options under which "
                             f"some configuration reaches the target") from None
        #: Reward normaliser: the Default configuration's mean cost over runs that reach the target.
        self.default_cost = float(self.stats.cost[self.default])
        self.oracle_cost = float(self.stats.mean_cost[self.oracle])
        #: The largest fitness of a feasible design; infeasible designs rank above it.
        self._worst = float(np.max(self.stats.cost[self.stats.all_reach]) / self.default_cost)

    @property
    def label(self) -> str:
        """``{workload}|{gpu}|eta=..|beta=..`` (:func:`problem_label`)."""
        return problem_label(self.trace.workload, self.trace.gpu, self.eta, self.beta)

    @property
    def obs_dim(self) -> int:
        B, P = self.num_batch_sizes, self.num_power_limits
        return 9 + B + 3 * B * P

    def evaluate(self, designs: np.ndarray) -> Evaluation:
        """Expected cost of one recurrence at each configuration (N, 2), no early stopping.

        A configuration is feasible when the trace measures it and every one of its runs reaches
        the target (a recurrence there is one try); ``objective`` is then the mean cost of its
        runs (J) and ``fitness`` that cost over the Default configuration's (``default_cost``).
        Elsewhere ``objective`` is NaN, ``overshoot`` the fraction of the runs that miss the
        target (1 for a pair the trace lacks) and ``fitness`` the worst feasible fitness times
        ``1 + overshoot``. Metrics (N,): ``eta_j`` (J) and ``tta_s`` (s), the mean energy and
        time to the target over the runs that reach it (NaN if none); ``mean_try_cost`` (J), the
        mean cost of one try, missed runs charged ``max_epochs``; ``reach_fraction``; ``measured``.
        """
        d = self.space.check(designs)
        b, p = d[:, 0], d[:, 1]
        st = self.stats
        measured = self.trace.measured[b, p]
        feasible = st.all_reach[b, p]
        reach = np.where(measured, st.reach_fraction[b, p], 0.0)
        overshoot = np.where(feasible, 0.0, 1.0 - reach)
        objective = np.where(feasible, st.cost[b, p], np.nan)
        fitness = np.where(feasible, objective / self.default_cost, self._worst * (1.0 + overshoot))
        metrics = {"eta_j": np.where(measured, st.eta_j[b, p], np.nan), "tta_s": np.where(measured, st.tta_s[b, p], np.nan),
                   "mean_try_cost": st.mean_cost[b, p], "reach_fraction": reach, "measured": measured}
        return Evaluation(fitness, objective, feasible, overshoot, metrics, dict(METRIC_UNITS))

    def to_config(self, design: np.ndarray) -> dict[str, Any]:
        """``{"batch_size": samples, "power_limit_w": W}`` of one design (2,)."""
        b, p = self.space.check(np.asarray(design)[None, :])[0]
        return {"batch_size": int(self.trace.batch_sizes[b]), "power_limit_w": int(self.trace.power_limits[p])}

    def reference(self) -> KnownPoint:
        """Zeus's Default: b0 at its largest power limit, priced ``default_cost``."""
        b, p = self.default
        return KnownPoint(self.default_cost, np.array([b, p]), f"Default: batch size {self.trace.batch_sizes[b]} at {self.trace.power_limits[p]} W")

    def optimum(self) -> KnownPoint:
        """Zeus's Oracle: the lowest mean cost among the configurations where every run reaches
        the target, exact by enumerating the B x P table (no evaluations)."""
        b, p = self.oracle
        return KnownPoint(self.oracle_cost, np.array([b, p]), f"Oracle: batch size {self.trace.batch_sizes[b]} at {self.trace.power_limits[p]} W")

    def check_actions(self, bs_index: np.ndarray, pl_index: np.ndarray) -> None:
        """Raise ValueError for an index outside the grid or a (batch size, power limit) the trace lacks."""
        B, P = self.num_batch_sizes, self.num_power_limits
        bad = np.flatnonzero((bs_index < 0) | (bs_index >= B) | (pl_index < 0) | (pl_index >= P))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"action (batch size index {int(bs_index[i])}, power limit index {int(pl_index[i])}) is outside the action space; "
                f"expected 0..{B - 1} (batch sizes {self.trace.batch_sizes.tolist()}) and 0..{P - 1} (power limits {self.trace.power_limits.tolist()} W)"
            )
        missing = np.flatnonzero(~self.trace.measured[bs_index, pl_index])
        if missing.size:
            i = int(missing[0])
            b = int(bs_index[i])
            raise ValueError(
                f"power limit {int(self.trace.power_limits[pl_index[i]])} W is not in the Zeus trace for batch size "
                f"{int(self.trace.batch_sizes[b])} of {self.trace.workload} on {self.trace.gpu}; expected one of "
                f"{self.trace.power_limits[self.trace.measured[b]].tolist()}"
            )


class _Tries:
    """Batched episode state of ``n`` independent episodes; every array has ``n`` rows.

    ``rec`` recurrences finished, ``tries`` tries in the current recurrence, ``acc_*`` its cost,
    energy (J) and time (s) so far, ``min_cost`` Zeus's lowest cost of a recurrence that reached
    the target (inf before one did), ``profiled`` (n, B) batch sizes JIT-profiled already,
    ``count``/``cost_sum``/``reach_count`` (n, B, P) per-configuration statistics of the tries.
    """

    def __init__(self, problem: BatchSizePowerLimitProblem, n: int):
        self.p, self.n = problem, n
        B, P = problem.num_batch_sizes, problem.num_power_limits
        self.rec = np.zeros(n, dtype=np.int64)
        self.tries = np.zeros(n, dtype=np.int64)
        self.acc_cost, self.acc_energy, self.acc_time = np.zeros(n), np.zeros(n), np.zeros(n)
        self.min_cost = np.full(n, np.inf)
        self.profiled = np.zeros((n, B), dtype=bool)
        self.count = np.zeros((n, B, P))
        self.cost_sum = np.zeros((n, B, P))
        self.reach_count = np.zeros((n, B, P))
        self.last = np.zeros((n, 5))  # bs index, pl index, normalised feedback cost, reached, ran
        self.has_last = np.zeros(n, dtype=bool)
        self.design = np.zeros((n, 2), dtype=np.int64)  # the last try's (bs index, pl index)

    def reset(self, rows: np.ndarray) -> None:
        for arr in (self.rec, self.tries, self.acc_cost, self.acc_energy, self.acc_time, self.last, self.count, self.cost_sum, self.reach_count,
                    self.design):
            arr[rows] = 0
        self.min_cost[rows] = np.inf
        self.profiled[rows] = False
        self.has_last[rows] = False

    def step(self, bs: np.ndarray, pl: np.ndarray, active: np.ndarray, rngs: Sequence[np.random.Generator]):
        """One try in every ``active`` row: ``bs``/``pl`` (n,) indices (``pl`` ignored in jit mode).

        Returns reward (n,), terminated (n,), info arrays (n,). Inactive rows are unchanged and
        get reward 0, terminated False.
        """
        p, tr = self.p, self.p.trace
        rows = np.arange(self.n)
        bs = np.where(active, bs, 0)
        jit = p.power_limit_mode == "jit"
        pl = np.where(active, p.jit.power_limit_index[bs] if jit else pl, 0)
        profile = active & jit & ~self.profiled[rows, bs]
        if jit:
            self.profiled[rows[active], bs[active]] = True
        run = np.zeros(self.n, dtype=np.int64)
        for i in np.flatnonzero(active):  # one draw per try, from that episode's generator
            run[i] = rngs[i].choice(int(tr.num_runs[bs[i]]), size=1, replace=False)[0]
        beta = np.inf if p.beta is None else p.beta
        with np.errstate(invalid="ignore"):
            cost_ub = np.where(np.isinf(self.min_cost), np.inf, beta * self.min_cost)
        cap = epoch_cap(tr, bs, pl, p.eta, cost_ub)
        out = try_outcome(tr, bs, pl, run, cap, p.eta, profile=profile, jit=p.jit)
        ran = out.ran & active
        reached = out.reached & active
        # What an optimizer is told: the cost, or for a try that could not afford one epoch
        # Zeus's 100 * beta * min_cost (the try is not run).
        feedback = np.where(ran, out.cost, np.where(active, 100.0 * beta * self.min_cost, 0.0))
        cost = np.where(ran, out.cost, 0.0)
        energy = np.where(ran, out.energy_j, 0.0)
        time = np.where(ran, out.time_s, 0.0)

        recurrence = self.rec.copy()
        self.acc_cost += cost
        self.acc_energy += energy
        self.acc_time += time
        self.tries += active
        self.min_cost = np.where(reached, np.minimum(self.min_cost, self.acc_cost), self.min_cost)
        a = rows[active]
        self.count[a, bs[a], pl[a]] += 1
        self.cost_sum[a, bs[a], pl[a]] += feedback[a] / p.default_cost
        self.reach_count[a, bs[a], pl[a]] += reached[a]
        self.last[a] = np.stack([bs[a], pl[a], feedback[a] / p.default_cost, reached[a], ran[a]], axis=1)
        self.has_last |= active
        self.design[a] = np.stack([bs[a], pl[a]], axis=1)
        done_rec = active & (reached | (self.tries >= p.max_tries))
        info = {
            "batch_size": np.where(active, tr.batch_sizes[bs], 0),
            "power_limit": np.where(active, tr.power_limits[pl], 0),
            "ETA": energy,
            "TTA": time,
            "cost": cost,
            "feedback_cost": feedback,
            "reached": reached,
            "ran": ran,
            "epochs": np.where(ran, out.epochs, 0.0),
            "profiled": profile,
            "recurrence": recurrence,
            "try": self.tries.copy(),
            "recurrence_done": done_rec,
            "recurrence_ETA": self.acc_energy.copy(),
            "recurrence_TTA": self.acc_time.copy(),
            "recurrence_cost": self.acc_cost.copy(),
            "min_cost": self.min_cost.copy(),
        }
        self.rec += done_rec
        for arr in (self.tries, self.acc_cost, self.acc_energy, self.acc_time):
            arr[done_rec] = 0
        terminated = active & (self.rec >= p.recurrences)
        reward = np.where(active, -feedback / p.default_cost, 0.0)
        return reward, terminated, info

    def observe(self) -> np.ndarray:
        """Observation rows (n, obs_dim), float32 in [0, 1] (layout in the docs)."""
        p = self.p
        B, P = p.num_batch_sizes, p.num_power_limits
        clip = lambda x: np.minimum(x, _COST_CLIP) / _COST_CLIP  # noqa: E731
        last = self.last
        head = np.stack(
            [
                self.has_last.astype(np.float64),
                last[:, 0] / max(B - 1, 1),
                last[:, 1] / max(P - 1, 1),
                clip(last[:, 2]),
                last[:, 3],
                last[:, 4],
                self.tries / p.max_tries,
                np.minimum(self.rec / p.recurrences, 1.0),
                np.where(np.isinf(self.min_cost), 1.0, clip(np.nan_to_num(self.min_cost / p.default_cost, posinf=_COST_CLIP))),
            ],
            axis=1,
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(self.count > 0, self.cost_sum / np.maximum(self.count, 1), 0.0)
            rate = np.where(self.count > 0, self.reach_count / np.maximum(self.count, 1), 0.0)
        freq = self.count / (self.count + 1.0)
        obs = np.concatenate(
            [head, self.profiled.astype(np.float64), freq.reshape(self.n, -1), clip(mean).reshape(self.n, -1), rate.reshape(self.n, -1)], axis=1
        )
        return obs.astype(np.float32)


def _spaces(problem: BatchSizePowerLimitProblem) -> tuple[spaces.Space, spaces.Box]:
    if problem.power_limit_mode == "jit":
        action = spaces.Discrete(problem.num_batch_sizes)
    else:
        action = spaces.MultiDiscrete([problem.num_batch_sizes, problem.num_power_limits])
    obs = spaces.Box(low=0.0, high=1.0, shape=(problem.obs_dim,), dtype=np.float32)
    return action, obs


def _reset_info(problem: BatchSizePowerLimitProblem) -> dict[str, Any]:
    """``reset``'s info: ``default_cost`` (J, the reward's normaliser) and ``recurrences`` per episode."""
    return {"default_cost": problem.default_cost, "recurrences": problem.recurrences}


def _split_actions(problem: BatchSizePowerLimitProblem, space: spaces.Space, actions: Any, num_envs: int | None,
                   active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batch size and power limit indices (N,) of a single env's action (``num_envs`` None, N = 1)
    or a vector env's ``num_envs`` actions, checked alike (:func:`check_actions`, then the trace's
    grid in the ``active`` rows; the others, which autoreset, get the Default configuration).

    Raises:
        ValueError: naming the action and the batch sizes / power limits (W) expected.
    """
    act = check_actions(space, actions, num_envs, active)
    if problem.power_limit_mode == "jit":
        bs = np.where(active, act, problem.default[0])  # the range is checked (a Discrete space)
        return bs, problem.jit.power_limit_index[bs]
    act = np.where(active[:, None], act, np.array(problem.default)[None, :])
    bs, pl = act[:, 0], act[:, 1]
    problem.check_actions(bs, pl)
    return bs, pl


class _Masks(MaskRows):
    """The envs' masks. ``power_limit="choose"``: the exact joint mask over flat actions
    ``bs * P + pl`` is the trace's measured grid (an unmeasured pair is an error), and
    ``action_masks()`` its per-dimension relaxation; ``jit``: every batch size is allowed."""

    problem: BatchSizePowerLimitProblem

    def _joint_mask_rows(self) -> np.ndarray | None:
        if self.problem.power_limit_mode == "jit":
            return None
        return np.tile(self.problem.trace.measured.reshape(-1), (self.num_envs if self._vector else 1, 1))

    def _action_mask_rows(self) -> np.ndarray:
        joint = self._joint_mask_rows()
        return super()._action_mask_rows() if joint is None else dimension_masks(joint, self.problem.space.nvec)


class BatchSizePowerLimitEnv(_Masks, gym.Env):
    """One episode of recurrences of one job. Keyword options are those of
    :class:`BatchSizePowerLimitProblem` (or pass a built ``problem``). The last step's ``info``
    adds ``design`` (the last try's (bs, pl) indices), ``config``, ``objective``, ``fitness``,
    ``feasible``, ``overshoot`` and the problem's metrics of that design. Masks: see :class:`_Masks`."""

    metadata = {"render_modes": []}

    def __init__(self, problem: BatchSizePowerLimitProblem | None = None, **problem_options: Any):
        self.problem = make_problem(BatchSizePowerLimitProblem, problem, problem_options)
        self.action_space, self.observation_space = _spaces(self.problem)
        self._ep = _Tries(self.problem, 1)
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._ep.reset(np.ones(1, dtype=bool))
        self._started = True
        return self._ep.observe()[0], self._with_action_mask(_reset_info(self.problem))

    def step(self, action):
        check_started(self._started)
        bs, pl = _split_actions(self.problem, self.action_space, action, None, np.ones(1, dtype=bool))
        reward, terminated, info = self._ep.step(bs, pl, np.ones(1, dtype=bool), [self.np_random])
        out = {k: v[0].item() for k, v in info.items()}
        if terminated[0]:
            self._started = False
            design = self._ep.design[:1]
            out.update(final_info(self.problem, design, self.problem.evaluate(design), 0))
        return self._ep.observe()[0], float(reward[0]), bool(terminated[0]), False, self._with_action_mask(out)


class BatchSizePowerLimitVectorEnv(_Masks, AutoresetVectorEnv):
    """``num_envs`` episodes stepped as arrays, autoreset NEXT_STEP (the step after an episode
    ends resets that sub-env, ignores its action and returns reward 0) or SAME_STEP
    (``autoreset_mode="same_step"``). Sub-env ``i`` draws its runs from its own generator,
    seeded ``seed + i`` on ``reset(seed=seed)`` like gymnasium's ``SyncVectorEnv``, so both
    agree step for step. ``info`` values are ``(num_envs,)`` arrays with gymnasium's ``_key``
    masks; the final keys (see :class:`BatchSizePowerLimitEnv`) are masked to the sub-envs
    whose episode ended."""

    def __init__(self, num_envs: int = 1, problem: BatchSizePowerLimitProblem | None = None, autoreset_mode: Any = "next_step",
                 **problem_options: Any):
        super().__init__(num_envs, autoreset_mode)
        self.problem = make_problem(BatchSizePowerLimitProblem, problem, problem_options)
        self._set_single_spaces(*_spaces(self.problem))
        self._ep = _Tries(self.problem, self.num_envs)
        self._rngs: list[np.random.Generator] | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rngs = [seeding.np_random(int(seed) + i)[0] for i in range(self.num_envs)]
        elif self._rngs is None:
            self._rngs = [seeding.np_random(None)[0] for _ in range(self.num_envs)]
        return super().reset(seed=seed, options=options)

    def _reset_rows(self, rows: np.ndarray) -> None:
        self._ep.reset(rows)

    def _observe(self) -> np.ndarray:
        return self._ep.observe()

    def _reset_info(self) -> dict[str, Any]:
        return _reset_info(self.problem)

    def step(self, actions):
        resetting = self._begin_step()
        bs, pl = _split_actions(self.problem, self.single_action_space, actions, self.num_envs, ~resetting)
        self._ep.reset(resetting)
        reward, terminated, info = self._ep.step(bs, pl, ~resetting, self._rngs)
        info = self._masked_info(info, ~resetting)
        if terminated.any():
            design = self._ep.design
            info.update(self._masked_info(final_info_batch(self.problem, design, self.problem.evaluate(design), terminated), terminated))
        return self._step_result(self._observe(), reward, terminated, info)
