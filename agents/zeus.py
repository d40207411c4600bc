"""Zeus's optimizer and the baselines of the Zeus experiment, as recurrence policies.

A policy proposes the next try's action and learns from that try's ``info``; :func:`simulate`
drives one over an episode of :class:`~codesign_gym.envs.batch_size_power_limit.BatchSizePowerLimitEnv`.

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

from codesign_gym.envs.batch_size_power_limit import BatchSizePowerLimitEnv, BatchSizePowerLimitProblem

#: Policies that run without training (RL methods live in the experiment, they need Ray).
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
    """One episode of a policy. Per recurrence (R,): ``energy_j``, ``time_s``, ``cost`` (all tries
    of the recurrence summed), ``reached``, ``tries``. ``final_config``: (batch size, power limit W)
    of the last try; ``evals``: tries made (including ones that could not afford an epoch)."""

    energy_j: np.ndarray
    time_s: np.ndarray
    cost: np.ndarray
    reached: np.ndarray
    tries: np.ndarray
    final_config: tuple[int, int]
    evals: int
    best_cost: np.ndarray  # (R,) Zeus's min_cost after each recurrence (inf before a reach)
    wall_s: np.ndarray  # (R,) seconds since the episode started, at the end of each recurrence


def simulate(problem: BatchSizePowerLimitProblem, policy: RecurrencePolicy, seed: int) -> Simulation:
    """Run ``policy`` for one episode of ``problem`` with the env seeded ``seed``."""
    env = BatchSizePowerLimitEnv(problem=problem)
    start = time.perf_counter()
    obs, _ = env.reset(seed=seed)
    rows: list[tuple[float, float, float, bool, int, float, float]] = []
    done, evals, info = False, 0, {}
    while not done:
        obs, _, done, _, info = env.step(policy.act(obs))
        policy.observe(info)
        evals += 1
        if info["recurrence_done"]:
            rows.append((info["recurrence_ETA"], info["recurrence_TTA"], info["recurrence_cost"], info["reached"], info["try"], info["min_cost"], time.perf_counter() - start))
    arr = list(zip(*rows))
    return Simulation(
        energy_j=np.array(arr[0]), time_s=np.array(arr[1]), cost=np.array(arr[2]), reached=np.array(arr[3], dtype=bool),
        tries=np.array(arr[4], dtype=np.int64), final_config=(int(info["batch_size"]), int(info["power_limit"])), evals=evals,
        best_cost=np.array(arr[5]), wall_s=np.array(arr[6]),
    )
