"""Zeus's optimizer and the baselines of the Zeus experiment, as recurrence policies and Methods.

A policy proposes the next try's action and learns from that try's ``info``; :func:`simulate`
drives one over an episode of :class:`~codesign_gym.envs.batch_size_power_limit.BatchSizePowerLimitEnv`.
:class:`ZeusMethod` (``zeus``, ``default``, ``grid``, ``oracle`` in the method registry) runs one
policy for ``budget`` recurrences and returns a :class:`~codesign_gym.agents.method.Trace` whose
point after recurrence ``r`` holds the policy's recommendation then (the last try's
configuration) priced by the problem: its expected recurrence cost. :func:`after_training` and
:func:`rl_method_options` make RLlib's ``reinforce``/``ppo`` (``agents/rllib/method.py``) run
the same way: train, then one greedy episode of :class:`ModulePolicy`.

``zeus`` reproduces Zeus's trace-driven simulator (github ml-energy/zeus, ``zeus/_legacy/``:
``policy/optimizer.py`` ``PruningGTSBatchSizeOptimizer`` + ``JITPowerLimitOptimizer``,
``policy/mab.py`` ``GaussianTS``, ``simulate.py`` ``simulate_one_job``), re-implemented here:

- batch size: two rounds of pruning exploration from b0, each going down from the round's
  default through the smaller candidates, then up through the larger ones, each direction
  stopping at the first batch size that misses the target; the round's default becomes the
  cheapest batch size that reached; the survivors of a round are the next round's candidates.
  Then Gaussian Thompson sampling over the survivors: reward ``-cost``, per arm the posterior
  ``N(mean, var / n)`` of all its observed rewards (precision ``n / var``; infinite when all
  rewards are equal, so the sample is the mean), the arm with the largest sample wins (first
  in ascending batch size on ties). Before sampling, every prediction draws one permutation
  of the arms (Zeus's exploration check, which never returns once every arm has two
  observations), so the generator stream matches Zeus's. The sampler's generator is
  ``default_rng(seed)``, separate from the env's (also seeded ``seed`` by :func:`simulate`).
- power limit: the env's ``power_limit="jit"`` mode (JIT profiling on a batch size's first try).

Deliberate differences from Zeus's simulator: where it raises (the first recurrence's try at
b0 misses the target; 20 tries without reaching it; every batch size pruned) we carry on:
the recurrence just continues or ends, and an empty survivor set keeps b0.
"""

from __future__ import annotations

import abc
import dataclasses
import time
from typing import Any

import numpy as np

from codesign_gym.agents.method import Method, ProgressCallback, Trace, TracePoint, check_budget
from codesign_gym.envs.batch_size_power_limit import BatchSizePowerLimitEnv, BatchSizePowerLimitProblem

#: Policies that run without training (RL methods: :func:`after_training` on RLlib, they need Ray).
POLICIES = ("zeus", "default", "grid", "oracle")


class PruningExploration:
    """Zeus's pruning exploration over candidate batch-size indices (ascending), from ``default``.

    :meth:`current` is the batch size to try next (None once all rounds are over, then
    :attr:`survivors` holds the result); :meth:`report` gives back that try's cost and whether
    it reached the target.
    """

    def __init__(self, candidates: list[int], default: int, rounds: int = 2):
        if default not in candidates:
            raise ValueError(f"default batch size index {default} is not among the candidates {candidates}")
        self.candidates = sorted(candidates)
        self.default = default
        self.rounds = rounds
        self.round = 0
        self.survivors: list[int] | None = None
        self._start_round()
        self._advance()

    def _start_round(self) -> None:
        i = self.candidates.index(self.default)
        self._lists = [self.candidates[: i + 1][::-1], self.candidates[i + 1 :]]
        self._direction, self._pos = 0, 0
        self._good: list[int] = []
        self._best_cost = np.inf

    def _advance(self) -> None:
        while self.round < self.rounds:
            if self._direction < 2 and self._pos < len(self._lists[self._direction]):
                return
            if self._direction < 2:
                self._direction, self._pos = self._direction + 1, 0
                continue
            self.candidates = sorted(self._good) or [self.default]
            self.round += 1
            if self.round < self.rounds:
                self._start_round()
        self.survivors = list(self.candidates)

    def current(self) -> int | None:
        if self.survivors is not None:
            return None
        return self._lists[self._direction][self._pos]

    def report(self, batch_size: int, cost: float, reached: bool) -> None:
        expected = self.current()
        if batch_size != expected:
            raise RuntimeError(f"pruning exploration expected batch size index {expected}, got {batch_size}")
        if reached:
            if self._best_cost > cost:
                self._best_cost, self.default = cost, batch_size
            self._good.append(batch_size)
            self._pos += 1
        else:
            self._direction, self._pos = self._direction + 1, 0
        self._advance()


class GaussianThompsonSampling:
    """Gaussian Thompson sampling over ``arms`` with per-arm learned reward precision (see module docstring)."""

    def __init__(self, arms: list[int], seed: int, min_observations: int = 2):
        self.arms = list(arms)
        self.rng = np.random.default_rng(seed)
        self.min_observations = min_observations
        self.mean = dict.fromkeys(self.arms, 0.0)
        self.precision = dict.fromkeys(self.arms, 0.0)
        self.observations = dict.fromkeys(self.arms, 0)

    def fit(self, arm: int, rewards: np.ndarray) -> None:
        """Replace ``arm``'s posterior by the one of all its ``rewards``."""
        rewards = np.asarray(rewards, dtype=np.float64)
        with np.errstate(divide="ignore"):
            reward_precision = np.reciprocal(np.var(rewards))
        if reward_precision == np.inf:
            self.precision[arm], self.mean[arm] = np.inf, rewards.mean()
        else:
            prec = 0.0 + len(rewards) * reward_precision
            self.precision[arm], self.mean[arm] = prec, (0.0 * 0.0 + reward_precision * rewards.sum()) / prec
        self.observations[arm] = len(rewards)

    def choose(self) -> int:
        for arm in self.rng.choice(np.array(self.arms), len(self.arms), replace=False):
            if self.observations[int(arm)] < self.min_observations:
                return int(arm)
        samples = [self.rng.normal(self.mean[a], np.sqrt(np.reciprocal(self.precision[a]))) for a in self.arms]
        return self.arms[int(np.argmax(samples))]


class RecurrencePolicy(abc.ABC):
    """Chooses each try's action and learns from its ``info``. ``power_limit_mode`` is the env
    mode the policy needs (``jit``: the action is a batch-size index; ``choose``: (bs, pl) indices)."""

    name = "policy"
    power_limit_mode = "choose"

    def __init__(self, problem: BatchSizePowerLimitProblem, seed: int = 0):
        if problem.power_limit_mode != self.power_limit_mode:
            raise ValueError(f"policy {self.name!r} needs power_limit={self.power_limit_mode!r}; the problem has {problem.power_limit_mode!r}")
        self.problem, self.seed = problem, seed

    @abc.abstractmethod
    def act(self, obs: np.ndarray | None = None) -> Any:
        """The next try's action; ``obs`` is the env's current observation (most policies ignore it)."""

    def observe(self, info: dict) -> None:
        """Learn from the try just made (the env's ``info``)."""


class ZeusPolicy(RecurrencePolicy):
    """Zeus's batch-size optimizer (pruning exploration, then Gaussian Thompson sampling) with JIT power limits."""

    name = "zeus"
    power_limit_mode = "jit"

    def __init__(self, problem: BatchSizePowerLimitProblem, seed: int = 0):
        super().__init__(problem, seed)
        self.exploration = PruningExploration(list(range(problem.num_batch_sizes)), problem.trace.default_index)
        self.history: dict[int, list[float]] = {}
        self.sampler: GaussianThompsonSampling | None = None

    def act(self, obs: np.ndarray | None = None) -> int:
        bs = self.exploration.current()
        if bs is not None:
            return bs
        if self.sampler is None:
            self.sampler = GaussianThompsonSampling(self.exploration.survivors, self.seed)
            for arm in self.sampler.arms:
                self.sampler.fit(arm, np.array(self.history.get(arm, [])))
        return self.sampler.choose()

    def observe(self, info: dict) -> None:
        bs = int(self.problem.trace.batch_size_index(info["batch_size"]))
        cost = float(info["feedback_cost"])
        self.history.setdefault(bs, []).append(-cost)
        if self.sampler is not None:
            self.sampler.fit(bs, np.array(self.history[bs]))
        else:
            self.exploration.report(bs, cost, bool(info["reached"]))


class DefaultPolicy(RecurrencePolicy):
    """Zeus's Default: b0 at its largest power limit, every try."""

    name = "default"

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        return np.array(self.problem.default)


class OraclePolicy(RecurrencePolicy):
    """The configuration with the lowest mean cost among those where every run reaches the target."""

    name = "oracle"

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        return np.array(self.problem.oracle)


class GridSearchPolicy(RecurrencePolicy):
    """Tries every measured (batch size, power limit) once, batch sizes ascending and power limits
    descending, moving on after each try; then keeps the configuration whose try reached the
    target at the lowest cost (b0 at its largest power limit if none did)."""

    name = "grid"

    def __init__(self, problem: BatchSizePowerLimitProblem, seed: int = 0):
        super().__init__(problem, seed)
        measured = problem.trace.measured
        self.grid = [(b, p) for b in range(problem.num_batch_sizes) for p in range(problem.num_power_limits - 1, -1, -1) if measured[b, p]]
        self.pos = 0
        self.best: tuple[int, int] = problem.default
        self.best_cost = np.inf

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        return np.array(self.grid[self.pos] if self.pos < len(self.grid) else self.best)

    def observe(self, info: dict) -> None:
        if self.pos >= len(self.grid):
            return
        if info["reached"] and info["cost"] < self.best_cost:
            self.best, self.best_cost = self.grid[self.pos], float(info["cost"])
        self.pos += 1


class ModulePolicy(RecurrencePolicy):
    """Greedy actions of a trained RLlib module (``forward_inference``, argmax of the logits) in
    ``jit`` mode, for evaluating the ``reinforce``/``ppo`` methods after training."""

    name = "rl"
    power_limit_mode = "jit"

    def __init__(self, problem: BatchSizePowerLimitProblem, module, seed: int = 0):
        super().__init__(problem, seed)
        self.module = module

    def act(self, obs: np.ndarray | None = None) -> int:
        import torch

        with torch.no_grad():
            out = self.module.forward_inference({"obs": torch.as_tensor(np.asarray(obs)[None])})
        return int(out["action_dist_inputs"][0].argmax())


_POLICY_CLASSES = {cls.name: cls for cls in (ZeusPolicy, DefaultPolicy, GridSearchPolicy, OraclePolicy)}


def power_limit_mode(method: str) -> str:
    """The env ``power_limit`` mode a method runs in."""
    if method not in _POLICY_CLASSES:
        raise ValueError(f"method {method!r} is not known; expected one of {sorted(_POLICY_CLASSES)}")
    return _POLICY_CLASSES[method].power_limit_mode


def make_policy(method: str, problem: BatchSizePowerLimitProblem, seed: int = 0) -> RecurrencePolicy:
    """A policy by name (one of :data:`POLICIES`)."""
    power_limit_mode(method)
    return _POLICY_CLASSES[method](problem, seed)


@dataclasses.dataclass
class Simulation:
    """One episode of a policy. Per recurrence (R,): ``energy_j`` (J), ``time_s`` (s), ``cost`` (J;
    all tries of the recurrence summed), ``reached``, ``tries``; ``designs`` (R, 2): the (batch
    size, power limit) indices of the recurrence's last try. ``final_config``: (batch size,
    power limit W) of the last try; ``evals``: tries made (including ones that could not afford
    an epoch)."""

    energy_j: np.ndarray
    time_s: np.ndarray
    cost: np.ndarray
    reached: np.ndarray
    tries: np.ndarray
    final_config: tuple[int, int]
    evals: int
    best_cost: np.ndarray  # (R,) Zeus's min_cost after each recurrence (inf before a reach)
    wall_s: np.ndarray  # (R,) seconds since the episode started, at the end of each recurrence
    designs: np.ndarray  # (R, 2) int64 (bs index, pl index) of each recurrence's last try


def simulate(problem: BatchSizePowerLimitProblem, policy: RecurrencePolicy, seed: int) -> Simulation:
    """Run ``policy`` for one episode of ``problem`` with the env seeded ``seed``."""
    env = BatchSizePowerLimitEnv(problem=problem)
    start = time.perf_counter()
    obs, _ = env.reset(seed=seed)
    rows: list[tuple[float, float, float, bool, int, float, float]] = []
    designs: list[tuple[int, int]] = []
    done, evals, info = False, 0, {}
    while not done:
        obs, _, done, _, info = env.step(policy.act(obs))
        policy.observe(info)
        evals += 1
        if info["recurrence_done"]:
            rows.append((info["recurrence_ETA"], info["recurrence_TTA"], info["recurrence_cost"], info["reached"], info["try"], info["min_cost"], time.perf_counter() - start))
            designs.append((int(problem.trace.batch_size_index(info["batch_size"])), int(problem.trace.power_limit_index(info["power_limit"]))))
    arr = list(zip(*rows))
    return Simulation(
        energy_j=np.array(arr[0]), time_s=np.array(arr[1]), cost=np.array(arr[2]), reached=np.array(arr[3], dtype=bool),
        tries=np.array(arr[4], dtype=np.int64), final_config=(int(info["batch_size"]), int(info["power_limit"])), evals=evals,
        best_cost=np.array(arr[5]), wall_s=np.array(arr[6]), designs=np.array(designs, dtype=np.int64).reshape(-1, 2),
    )


#: Recurrences at the end of a run whose mean energy and time are its figures (Zeus's "last 10").
LAST = 10


def episode_problem(problem: BatchSizePowerLimitProblem, mode: str, recurrences: int) -> BatchSizePowerLimitProblem:
    """``problem`` with ``power_limit=mode`` and ``recurrences`` per episode (itself if it has them)."""
    options = {**problem.options, "power_limit": mode, "recurrences": int(recurrences)}
    if isinstance(problem, BatchSizePowerLimitProblem) and problem.options == options:
        return problem
    return BatchSizePowerLimitProblem(**options)


def reference_values(problem: BatchSizePowerLimitProblem) -> dict[str, dict[str, float]]:
    """Default and Oracle as ``{"bs", "pl" (W), "ETA" (J), "TTA" (s), "cost" (J)}``: the means over
    the runs that reach the target (Oracle's cost: its mean cost, the optimum)."""
    tr, st = problem.trace, problem.stats
    out = {}
    for name, (b, p), cost in (("default", problem.default, problem.default_cost), ("oracle", problem.oracle, problem.oracle_cost)):
        out[name] = {"bs": int(tr.batch_sizes[b]), "pl": int(tr.power_limits[p]), "ETA": float(st.eta_j[b, p]),
                     "TTA": float(st.tta_s[b, p]), "cost": float(cost)}
    return out


def run_record(problem: BatchSizePowerLimitProblem, seed: int, sim: Simulation) -> dict[str, Any]:
    """The JSON record of one run (a Trace's ``extras``): ``final_bs``, ``final_pl`` (W),
    ``ETA_last10`` (J), ``TTA_last10`` (s) (means over the last :data:`LAST` recurrences, failed
    tries included), ``cum_cost``, ``cum_cost_default`` (J, the run's recurrences at Default's
    cost), ``cum_regret_vs_oracle`` and ``regret_curve`` (R,) (J, cumulative cost over Oracle's),
    ``tries`` (all tries); per recurrence (R,): ``energy_j``, ``time_s``, ``cost``, ``reached``,
    ``recurrence_tries``; ``dataset``, ``maxpower`` (W) and ``reference`` (:func:`reference_values`)."""
    regret = sim.cost - problem.oracle_cost
    return {
        "problem": problem.label, "seed": int(seed), "final_bs": sim.final_config[0], "final_pl": sim.final_config[1],
        "ETA_last10": float(sim.energy_j[-LAST:].mean()), "TTA_last10": float(sim.time_s[-LAST:].mean()),
        "cum_cost": float(sim.cost.sum()), "cum_cost_default": float(problem.default_cost * sim.cost.size),
        "cum_regret_vs_oracle": float(regret.sum()), "regret_curve": np.cumsum(regret).tolist(), "tries": int(sim.evals),
        "energy_j": sim.energy_j.tolist(), "time_s": sim.time_s.tolist(), "cost": sim.cost.tolist(),
        "reached": sim.reached.tolist(), "recurrence_tries": sim.tries.tolist(),
        "dataset": problem.trace.spec.dataset, "maxpower": problem.trace.max_power, "reference": reference_values(problem),
    }


def simulation_trace(problem: BatchSizePowerLimitProblem, method: str, seed: int, sim: Simulation,
                     on_progress: ProgressCallback | None = None, offset_s: float = 0.0) -> Trace:
    """The Trace of a simulated run: after recurrence ``r``, ``evals = r + 1`` and the best
    design is the policy's recommendation then (the recurrence's last try), priced with one
    ``problem.evaluate`` of all R designs; ``extras`` is :func:`run_record`. ``offset_s``:
    seconds spent before the episode, added to its wall times."""
    ev = problem.evaluate(sim.designs)
    trace = Trace(method, extras=run_record(problem, seed, sim))
    for r in range(len(ev)):
        feasible = bool(ev.feasible[r])
        objective = float(ev.objective[r]) if feasible else float("nan")
        trace.points.append(TracePoint(r + 1, offset_s + float(sim.wall_s[r]), float(ev.fitness[r]), objective, feasible, sim.designs[r].copy()))
        if on_progress is not None:
            on_progress(trace)
    return trace


def _check_problem(problem: Any) -> str | None:
    env_id = BatchSizePowerLimitProblem.env_id
    if getattr(problem, "env_id", None) != env_id:
        return f"runs on {env_id} problems only, not on {getattr(problem, 'env_id', type(problem).__name__)!r}"
    return None


class ZeusMethod(Method):
    """A recurrence policy as a Method: ``run(problem, budget, seed)`` simulates ``budget``
    recurrences of the job with the policy and the env both seeded ``seed`` (:func:`simulate`)
    and returns :func:`simulation_trace`.

    Args:
        policy: ``zeus``, ``default``, ``grid`` or ``oracle`` (:data:`POLICIES`); also the method's name.
    """

    def __init__(self, policy: str = "zeus"):
        power_limit_mode(policy)
        self.policy = self.name = policy

    def supports(self, problem: Any) -> str | None:
        return _check_problem(problem)

    def run(self, problem: BatchSizePowerLimitProblem, budget: int, seed: int, on_progress: ProgressCallback | None = None) -> Trace:
        why = _check_problem(problem)
        if why:
            raise ValueError(f"method {self.name!r} {why}")
        start = time.perf_counter()
        episode = episode_problem(problem, power_limit_mode(self.policy), check_budget(budget))
        policy = make_policy(self.policy, episode, seed)
        offset = time.perf_counter() - start
        return simulation_trace(problem, self.name, seed, simulate(episode, policy, seed), on_progress, offset)


def after_training(algo: Any, problem: BatchSizePowerLimitProblem, budget: int, seed: int,
                   on_progress: ProgressCallback | None = None) -> Trace:
    """Evaluate a trained RLlib algorithm: one greedy episode of ``budget`` recurrences of
    :class:`ModulePolicy` (``jit`` power limits) with the env seeded ``seed``, as :class:`ZeusMethod`."""
    episode = episode_problem(problem, ModulePolicy.power_limit_mode, check_budget(budget))
    sim = simulate(episode, ModulePolicy(episode, algo.get_module(), seed), seed)
    return simulation_trace(problem, type(algo).__name__.lower(), seed, sim, on_progress)


def rl_method_options(problem: BatchSizePowerLimitProblem, train_episodes: int) -> dict[str, Any]:
    """Options of RLlib's ``reinforce``/``ppo`` on a Zeus problem: an MLP policy on the ``jit``
    env (episodes of ``problem.recurrences``), 4 envs per runner and 4 episodes per batch,
    ``train_episodes`` training episodes, then :func:`after_training`."""
    if isinstance(train_episodes, bool) or not isinstance(train_episodes, (int, np.integer)) or train_episodes < 1:
        raise ValueError(f"rl_episodes {train_episodes!r}: expected a positive number of episodes")
    return {"module": "mlp", "env_options": {"power_limit": "jit"}, "episode_length": 2 * problem.recurrences,
            "envs_per_runner": 4, "episodes_per_batch": 4, "train_episodes": int(train_episodes), "after_training": after_training}
