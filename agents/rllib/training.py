"""Build and drive RLlib algorithms (REINFORCE, PPO) on our environments, counting episodes.

The budget unit is the episode (one whole-design evaluation). A callback keeps, in each env
runner, the best feasible complete design seen; :func:`train_for_episodes` collects them from
all runners after every training iteration.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import numpy as np

from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_EPISODES_LIFETIME, NUM_ENV_STEPS_SAMPLED_LIFETIME

#: The id RLlib's env runners use: gymnasium imports the module (which registers the id) first.
RESOURCE_ASSIGNMENT_ID = "codesign_gym.envs:codesign/ResourceAssignment-v0"
ALGORITHMS = ("reinforce", "ppo")
MODULES = ("mlp", "lstm")


class BestDesignCallback(RLlibCallback):
    """Remembers, per env runner, the best feasible finished episode: its ``objective`` and the
    ``design_pe``/``design_buffer`` from the final ``info`` (any env that reports those keys)."""

    def on_episode_end(self, *, episode, env_runner=None, metrics_logger=None, **kwargs) -> None:
        info = episode.get_infos(-1)
        if not info or not info.get("feasible") or "objective" not in info:
            return
        objective = float(info["objective"])
        best = getattr(env_runner, "_codesign_best", None)
        if best is None or objective < best[0]:
            env_runner._codesign_best = (objective, np.asarray(info["design_pe"]).copy(), np.asarray(info["design_buffer"]).copy())
        if metrics_logger is not None:
            metrics_logger.log_value("feasible_objective_min", objective, reduce="min")


def build_algorithm_config(
    algorithm: str,
    env_config: dict[str, Any],
    seed: int,
    module: str = "lstm",
    episode_length: int | None = None,
    num_env_runners: int = 0,
    envs_per_runner: int = 16,
    episodes_per_batch: int = 16,
    lr: float | None = None,
    env_id: str = RESOURCE_ASSIGNMENT_ID,
):
    """An RLlib AlgorithmConfig for ``algorithm`` (``reinforce`` or ``ppo``) on ``env_id``.

    ``module`` picks the policy: ``lstm`` (ConfuciuX's recurrent actor; give ``episode_length``
    so one sequence spans an episode) or ``mlp``. The env runs as a native vector env
    (``gym_env_vectorize_mode="vector_entry_point"``) with ``envs_per_runner`` sub-envs.
    Options set with :func:`~codesign_gym.agents.rllib.run_options.rllib_options` (a command
    line's or sweep's resources, ``lr``, ``episodes_per_batch``) override the arguments, and its
    fault tolerance (restart failed env runners) applies.
    """
    from codesign_gym.agents.rllib.modules import ConfuciuxLSTMModule, MLPPolicyModule
    from codesign_gym.agents.rllib.run_options import current_rllib_options

    options = current_rllib_options()
    num_env_runners, envs_per_runner = options.pick("num_env_runners", num_env_runners), options.pick("envs_per_runner", envs_per_runner)
    episodes_per_batch, lr = options.pick("episodes_per_batch", episodes_per_batch), options.pick("lr", lr)

    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm {algorithm!r} is not known; expected one of {ALGORITHMS}")
    if module not in MODULES:
        raise ValueError(f"module {module!r} is not known; expected one of {MODULES}")
    if algorithm == "reinforce":
        from codesign_gym.agents.rllib.reinforce import REINFORCEConfig

        config = REINFORCEConfig().training(episodes_per_batch=episodes_per_batch, lr=lr or 1e-3)
    else:
        from ray.rllib.algorithms.ppo import PPOConfig

        steps = episodes_per_batch * (episode_length or 1)
        config = PPOConfig().training(
            lr=lr or 3e-4, train_batch_size_per_learner=steps, minibatch_size=max(steps // 4, 8), num_epochs=4, gamma=0.99
        )
    if module == "lstm":
        model_config = {"max_seq_len": int(episode_length or 64), "hidden": 128, "embed": 10}
        spec = RLModuleSpec(module_class=ConfuciuxLSTMModule, model_config=model_config)
    else:
        spec = RLModuleSpec(module_class=MLPPolicyModule, model_config={"hidden": [128, 128]})
    config = (
        config.environment(env_id, env_config=env_config)
        .env_runners(
            num_env_runners=num_env_runners,
            num_envs_per_env_runner=envs_per_runner,
            gym_env_vectorize_mode="vector_entry_point",
            rollout_fragment_length="auto",
        )
        .rl_module(rl_module_spec=spec)
        .callbacks(BestDesignCallback)
        .debugging(seed=seed, log_level="ERROR")
        .reporting(metrics_num_episodes_for_smoothing=episodes_per_batch)
    )
    return options.apply(config)


@dataclasses.dataclass
class RLProgress:
    """One training iteration's standing: episodes (evaluations) and env steps so far, wall
    time, best feasible objective and its design (PE counts, buffer levels) so far."""

    episodes: int
    env_steps: int
    wall_s: float
    best_objective: float
    best_pe: np.ndarray | None
    best_buffer: np.ndarray | None
    result: dict = dataclasses.field(default_factory=dict)  # the last ``algo.train()`` result

    def to_record(self) -> dict:
        """JSON-able standing (no ``result``), saved beside a checkpoint."""
        return {"episodes": self.episodes, "env_steps": self.env_steps, "wall_s": self.wall_s,
                "best_objective": self.best_objective if np.isfinite(self.best_objective) else None,
                "best_pe": None if self.best_pe is None else np.asarray(self.best_pe).tolist(),
                "best_buffer": None if self.best_buffer is None else np.asarray(self.best_buffer).tolist()}

    @classmethod
    def from_record(cls, record: dict) -> "RLProgress":
        best = record.get("best_objective")
        return cls(int(record["episodes"]), int(record["env_steps"]), float(record["wall_s"]), float("inf") if best is None else float(best),
                   None if record.get("best_pe") is None else np.asarray(record["best_pe"]),
                   None if record.get("best_buffer") is None else np.asarray(record["best_buffer"]))


def train_for_episodes(algo, budget: int, on_iteration: Callable[[RLProgress], None] | None = None) -> RLProgress:
    """Call ``algo.train()`` until at least ``budget`` episodes have been sampled.

    With a ``checkpoint_dir`` in the active :func:`~codesign_gym.agents.rllib.run_options.rllib_options`,
    training first resumes from the last checkpoint there (``on_iteration`` is told the restored
    standing once) and saves one every ``checkpoint_every`` iterations and when the budget is reached.
    """
    from codesign_gym.agents.rllib.run_options import current_rllib_options, restore_checkpoint, save_checkpoint

    options = current_rllib_options()
    start = time.perf_counter()
    progress = RLProgress(0, 0, 0.0, float("inf"), None, None)
    restored = restore_checkpoint(algo, options.checkpoint_dir) if options.checkpoint_dir else None
    if restored is not None:
        progress = RLProgress.from_record(restored)
        start -= progress.wall_s
        if on_iteration is not None:
            on_iteration(progress)
    iteration = 0
    while progress.episodes < budget:
        result = algo.train()
        progress.result = result
        runner_results = result.get(ENV_RUNNER_RESULTS, {})
        progress.episodes = int(runner_results.get(NUM_EPISODES_LIFETIME, progress.episodes))
        progress.env_steps = int(runner_results.get(NUM_ENV_STEPS_SAMPLED_LIFETIME, progress.env_steps))
        progress.wall_s = time.perf_counter() - start
        for best in algo.env_runner_group.foreach_env_runner(lambda r: getattr(r, "_codesign_best", None), local_env_runner=True):
            if best is not None and best[0] < progress.best_objective:
                progress.best_objective, progress.best_pe, progress.best_buffer = best
        if on_iteration is not None:
            on_iteration(progress)
        iteration += 1
        if options.checkpoint_dir and (iteration % options.checkpoint_every == 0 or progress.episodes >= budget):
            save_checkpoint(algo, options.checkpoint_dir, progress.to_record())
    return progress


#: The env-runner attribute :func:`append_to_archive` fills.
ARCHIVE_SLOT = "_codesign_archive"


def append_to_archive(env_runner, row: tuple) -> None:
    """Keep ``row`` (one finished episode's design and metrics) on ``env_runner`` for
    :func:`train_one_step_archive`; call it from a callback's ``on_episode_end``."""
    if not hasattr(env_runner, ARCHIVE_SLOT):
        setattr(env_runner, ARCHIVE_SLOT, [])
    getattr(env_runner, ARCHIVE_SLOT).append(row)


def train_one_step_archive(method: str, env_id: str, env_config: dict, seed: int, budget: int, callbacks: type[RLlibCallback],
                           on_iteration: Callable[[RLProgress], None] | None = None) -> tuple[list[tuple], RLProgress]:
    """Train ``method`` (MLP policy) on a one-step-episode env for at least ``budget`` episodes,
    8 envs per runner and 16 episodes per batch; ``callbacks`` stores each finished episode with
    :func:`append_to_archive`. Returns every runner's archive rows and the final progress."""
    config = build_algorithm_config(method, env_config, seed, module="mlp", episode_length=1, env_id=env_id,
                                    envs_per_runner=8, episodes_per_batch=16)
    algo = config.callbacks(callbacks).build_algo()
    try:
        progress = train_for_episodes(algo, budget, on_iteration=on_iteration)
        rows: list[tuple] = []
        for part in algo.env_runner_group.foreach_env_runner(lambda r: getattr(r, ARCHIVE_SLOT, []), local_env_runner=True):
            rows.extend(part)
    finally:
        algo.stop()
    return rows, progress


def numeric_leaves(result: dict, prefix: str = "") -> dict[str, float]:
    """Flatten an RLlib result dict to ``{"a/b/c": number}`` (non-numeric leaves dropped), e.g.
    for TensorBoard scalars."""
    out: dict[str, float] = {}
    for key, value in result.items():
        path = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(numeric_leaves(value, path))
        elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and np.isfinite(value):
            out[path] = float(value)
    return out
