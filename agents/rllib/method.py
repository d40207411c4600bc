"""RLlib's REINFORCE and PPO as Methods, and ConfuciuX's two stages (REINFORCE, then a GA).

:class:`RLlibMethod` is the one adapter between RLlib and the Method contract: it trains on the
problem's environment (``"codesign_gym.envs:" + problem.env_id``, built with the problem's
options), and after every ``algo.train()`` prices the designs of the episodes that ended in that
iteration (:class:`~codesign_gym.agents.rllib.callback.DesignCallback` reports them) through
``problem.evaluate`` and records them in a :class:`~codesign_gym.agents.method.BestSoFar`; the
budget counts episodes (one whole design each). Training stops at the first iteration that
reaches the budget, so a run may use a little more than its budget (up to one batch).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from codesign_gym.agents.method import BestSoFar, Method, ProgressCallback, Trace, check_budget
from codesign_gym.agents.rllib.run_options import ALGORITHMS, MODULES, RLlibOptions, checkpoint_progress, restore_checkpoint, save_checkpoint
from codesign_gym.envs.problem import Problem

#: ``after_training(algo, problem, budget, seed, on_progress) -> Trace``: what a method does with
#: the trained algorithm instead of reporting its training (Zeus: one greedy evaluation episode).
AfterTraining = Callable[..., Trace]


def _positive(name: str, value, optional: bool = True) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r}: expected a positive whole number")


class RLlibMethod(Method):
    """REINFORCE or PPO trained with RLlib on the problem's environment.

    Args:
        algorithm: ``reinforce`` or ``ppo`` (also the method's name).
        module: the policy, ``mlp`` or ``lstm`` (ConfuciuX's recurrent actor).
        episode_length: steps of one episode (the LSTM's sequence length; PPO's batch is
            ``episodes_per_batch * episode_length`` steps).
        envs_per_runner: sub-environments per env runner.
        episodes_per_batch: episodes per training batch.
        lr: learning rate (default: 1e-3 for REINFORCE, 3e-4 for PPO).
        env_options: env options beside the problem's own (e.g. Zeus's ``power_limit="jit"``).
        train_episodes: with ``after_training``: the episodes to train (the budget is then the
            hook's, not the training's).
        after_training: ``after_training(algo, problem, budget, seed, on_progress) -> Trace``,
            called with the trained algorithm; its trace is the run's. Training episodes are
            then neither priced nor reported.
        rllib: resources, fault tolerance, checkpoints and TensorBoard (see
            :class:`~codesign_gym.agents.rllib.run_options.RLlibOptions`); its ``lr`` and
            ``episodes_per_batch``, where set, replace the arguments.
    """

    needs_ray = True

    def __init__(self, algorithm: str, module: str = "mlp", episode_length: int | None = None, envs_per_runner: int = 16,
                 episodes_per_batch: int = 16, lr: float | None = None, env_options: dict | None = None,
                 train_episodes: int | None = None, after_training: AfterTraining | None = None, rllib: RLlibOptions = RLlibOptions()):
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm {algorithm!r} is not known; expected one of {ALGORITHMS}")
        if module not in MODULES:
            raise ValueError(f"module {module!r} is not known; expected one of {MODULES}")
        for name, value in (("episode_length", episode_length), ("envs_per_runner", envs_per_runner),
                            ("episodes_per_batch", episodes_per_batch), ("train_episodes", train_episodes)):
            _positive(name, value)
        if (after_training is None) != (train_episodes is None):
            raise ValueError(f"after_training={after_training!r}, train_episodes={train_episodes!r}: expected both or neither")
        if not isinstance(rllib, RLlibOptions):
            raise ValueError(f"rllib={rllib!r}: expected an RLlibOptions")
        self.name, self.algorithm, self.module, self.episode_length = algorithm, algorithm, module, episode_length
        self.envs_per_runner, self.episodes_per_batch, self.lr = envs_per_runner, episodes_per_batch, lr
        self.env_options, self.train_episodes, self.after_training, self.rllib = dict(env_options or {}), train_episodes, after_training, rllib

    def supports(self, problem: Problem) -> str | None:
        return None if problem.env_id else "the problem has no environment (env_id) to train on"

    def algorithm_config(self, problem: Problem, seed: int):
        """The RLlib AlgorithmConfig this method trains with on ``problem``."""
        from codesign_gym.agents.rllib.training import ENV_MODULE_PREFIX, build_algorithm_config

        env_config = {**problem.options, **self.env_options}
        return build_algorithm_config(self.algorithm, env_config, seed, module=self.module, episode_length=self.episode_length,
                                      envs_per_runner=self.envs_per_runner, episodes_per_batch=self.episodes_per_batch, lr=self.lr,
                                      env_id=ENV_MODULE_PREFIX + problem.env_id, rllib=self.rllib)

    def run(self, problem: Problem, budget: int, seed: int, on_progress: ProgressCallback | None = None) -> Trace:
        """As :meth:`Method.run`; see the module docstring (and ``after_training``)."""
        budget = check_budget(budget)
        if self.after_training is None:
            return self.train(problem, budget, seed, on_progress).trace
        hook = self.after_training
        return self.train(problem, self.train_episodes, seed, then=lambda algo: hook(algo, problem, budget, seed, on_progress))

    def train(self, problem: Problem, episodes: int, seed: int, on_progress: ProgressCallback | None = None, name: str | None = None,
              then: Callable | None = None):
        """Train for at least ``episodes`` episodes and return the :class:`BestSoFar` of the run
        (``name`` names it, default the method's), or, with ``then``, ``then(algo)``'s value
        (training episodes are then not priced). Resumes from and saves checkpoints (see
        :class:`~codesign_gym.agents.rllib.run_options.RLlibOptions`)."""
        from codesign_gym.agents.threads import limit_threads

        run = _TrainingRun(problem, name or self.name, seed, self.rllib, price=then is None)
        best = run.standing(on_progress)
        config = self.algorithm_config(problem, seed)
        limit_threads(config.num_cpus_for_main_process)  # the learner (and a local env runner) train here
        algo = config.build_algo()
        try:
            run.train(algo, episodes, best)
            return best if then is None else then(algo)
        finally:
            algo.stop()


class _TrainingRun:
    """One training run's checkpoints, TensorBoard events and pricing of finished episodes."""

    def __init__(self, problem: Problem, name: str, seed: int, rllib: RLlibOptions, price: bool):
        self.problem, self.name, self.rllib, self.price = problem, name, rllib, price
        key = f"{name}-seed{seed}"
        self.checkpoint = Path(rllib.checkpoint_dir) / key if rllib.checkpoint_dir else None
        self.board_dir = Path(rllib.tensorboard_dir) / key if rllib.tensorboard_dir else None
        self.episodes = 0

    def standing(self, on_progress: ProgressCallback | None) -> BestSoFar:
        """A fresh BestSoFar, or the one the latest checkpoint saved (then told as one point)."""
        record = checkpoint_progress(self.checkpoint) if self.checkpoint else None
        if record is None:
            return BestSoFar(self.name, on_progress)
        if record.get("problem") != self.problem.label:
            raise ValueError(f"checkpoint {self.checkpoint} is of problem {record.get('problem')!r}; expected {self.problem.label!r} "
                             f"(give each problem its own checkpoint_dir)")
        best = BestSoFar(self.name, on_progress, offset_evals=record["evals"], offset_s=record["wall_s"])
        b = record["best"]
        if b is not None:
            objective = np.nan if b["objective"] is None else b["objective"]
            best.seed_best(np.asarray(b["design"], dtype=np.int64), b["fitness"], objective, b["feasible"])
        self.episodes = int(record["episodes"])
        best.point(0)
        return best

    def record(self, best: BestSoFar) -> dict:
        """The JSON-able standing saved beside a checkpoint."""
        b = None if best.design is None else {"design": best.design.tolist(), "fitness": best.fitness,
                                              "objective": best.objective if np.isfinite(best.objective) else None, "feasible": best.feasible}
        return {"problem": self.problem.label, "episodes": self.episodes, "evals": best.evals, "wall_s": time.perf_counter() - best.start, "best": b}

    def train(self, algo, episodes: int, best: BestSoFar) -> None:
        """Train until ``episodes`` episodes have ended, observing each iteration's designs."""
        from codesign_gym.agents.rllib.training import train_iterations

        if self.checkpoint is not None and self.episodes:
            restore_checkpoint(algo, self.checkpoint)
        board = None
        if self.board_dir is not None:
            from tensorboardX import SummaryWriter

            board = SummaryWriter(str(self.board_dir))
        try:
            for i, it in enumerate(train_iterations(algo, episodes, self.problem.space.size, self.episodes), start=1):
                self.episodes = it.episodes
                self.observe(it, best)
                if board is not None:
                    self.log(board, it.result, best)
                if self.checkpoint is not None and (i % self.rllib.checkpoint_every == 0 or it.episodes >= episodes):
                    self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
                    save_checkpoint(algo, self.checkpoint, self.record(best))
        finally:
            if board is not None:
                board.close()

    def observe(self, it, best: BestSoFar) -> None:
        """Price the iteration's designs through the problem and record them (``new_episodes`` evaluations)."""
        if self.price and len(it.designs):
            best.observe(it.designs, self.problem.evaluate(it.designs), evals=it.new_episodes)
        else:
            best.point(it.new_episodes)

    def log(self, board, result: dict, best: BestSoFar) -> None:
        """RLlib's numeric metrics of one iteration and the best feasible objective, at the episode count."""
        from codesign_gym.agents.rllib.training import numeric_leaves

        for tag, value in numeric_leaves(result).items():
            board.add_scalar(tag, value, self.episodes)
        if best.feasible and np.isfinite(best.objective):
            board.add_scalar("codesign/best_feasible_objective", best.objective, self.episodes)


#: :class:`~codesign_gym.agents.search.finetune.FineTuningGA` options ``rl_ga`` may set (its ``ga`` argument).
GA_OPTIONS = ("population", "parents", "tries", "max_step", "swap_rate")
#: ``rl_ga``'s GA: ConfuciuX's rates but for 4 parents instead of 8 (see :class:`RLThenGA`).
RL_GA_DEFAULTS = {"parents": 4}


class RLThenGA(Method):
    """ConfuciuX's two stages: REINFORCE, then its fine-tuning GA
    (:class:`~codesign_gym.agents.search.finetune.FineTuningGA`) seeded with the best feasible
    design REINFORCE found (random if none). Both stages record into one BestSoFar, so the
    evaluations and time of the GA continue from REINFORCE's.

    The budget is split as ConfuciuX splits its epochs: two thirds of them are REINFORCE
    episodes and the last third GA generations of ``population`` (20) designs, so 3,673
    evaluations are 333 episodes then 167 generations (ConfuciuX's 500 epochs). REINFORCE gets
    ``budget * 2 // (2 + population)`` episodes (at least one; its last batch may pass that) and
    the GA the rest of the budget. If REINFORCE already used the whole budget, the run ends there.

    The GA has ConfuciuX's operators and rates (first generation = the RL design, truncation
    selection, three +-2-level mutations per child, swap of two layers' values with probability
    0.2, the best kept) except that 4 designs breed each generation, not 8: at 3,673 evaluations
    on ``cfx/mobilenet_v2`` and ``cfx/resnet50`` (dla, latency, area 0.5) that took the mean gap
    to the optimum from 4.4% / 4.3% to 3.7% / 3.8% (24 runs each). ``ga={"parents": 8}`` is ConfuciuX's.

    Args:
        batch_size: designs per GA ask/tell round (default: one generation, ``population - 1``).
        ga: FineTuningGA options (:data:`GA_OPTIONS`) over :data:`RL_GA_DEFAULTS`.
        the others: as :class:`RLlibMethod`'s (REINFORCE's options).
    """

    name = "rl_ga"
    needs_ray = True

    def __init__(self, module: str = "mlp", episode_length: int | None = None, envs_per_runner: int = 16, episodes_per_batch: int = 16,
                 lr: float | None = None, env_options: dict | None = None, batch_size: int | None = None, ga: dict | None = None,
                 rllib: RLlibOptions = RLlibOptions()):
        _positive("batch_size", batch_size)
        unknown = sorted(set(ga or {}) - set(GA_OPTIONS))
        if unknown:
            raise ValueError(f"ga options {unknown} are not known; expected some of {GA_OPTIONS}")
        from codesign_gym.agents.search.finetune import FineTuningGA

        self.batch_size = batch_size
        self.ga = {**RL_GA_DEFAULTS, **(ga or {})}
        FineTuningGA(np.array([2]), **self.ga)  # checks the options now, not after training
        self.rl = RLlibMethod("reinforce", module=module, episode_length=episode_length, envs_per_runner=envs_per_runner,
                              episodes_per_batch=episodes_per_batch, lr=lr, env_options=env_options, rllib=rllib)

    def supports(self, problem: Problem) -> str | None:
        return self.rl.supports(problem)

    def rl_episodes(self, budget: int) -> int:
        """REINFORCE's share of ``budget``: ConfuciuX's split (see the class docstring)."""
        return max(1, budget * 2 // (2 + self.ga.get("population", 20)))

    def run(self, problem: Problem, budget: int, seed: int, on_progress: ProgressCallback | None = None) -> Trace:
        """As :meth:`Method.run`; see the class docstring."""
        from codesign_gym.agents.search.base import run_search
        from codesign_gym.agents.search.finetune import FineTuningGA, name_groups

        budget = check_budget(budget)
        best = self.rl.train(problem, self.rl_episodes(budget), seed, on_progress, name=self.name)
        if best.evals >= budget:
            return best.trace
        handed = {"seed_design": best.design, "seed_fitness": best.fitness} if best.feasible else {}
        ga = FineTuningGA(problem.design_nvec, seed=seed, groups=name_groups(problem.space.names, problem.design_nvec), **handed, **self.ga)
        return run_search(ga, problem, budget - best.evals, self.batch_size, best)
