"""Build and drive RLlib algorithms (REINFORCE, PPO) on our environments, counting episodes.

The budget unit is the episode (one whole-design evaluation). :func:`build_algorithm_config`
takes every option explicitly (an :class:`~codesign_gym.agents.rllib.run_options.RLlibOptions`
for resources, fault tolerance and a sweep's ``lr``/``episodes_per_batch``) and installs the one
callback, :class:`~codesign_gym.agents.rllib.callback.DesignCallback`.
:func:`train_iterations` calls ``algo.train()`` until enough episodes have ended and yields,
per iteration, the designs of the episodes that ended in it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import numpy as np

from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_EPISODES_LIFETIME

from codesign_gym.agents.rllib.callback import DesignCallback, finished_designs
from codesign_gym.agents.rllib.run_options import ALGORITHMS, MODULES, RLlibOptions
from codesign_gym.agents.threads import thread_environment

#: Prefix of the ids RLlib's env runners make: gymnasium imports the module (which registers the ids) first.
ENV_MODULE_PREFIX = "codesign_gym.envs:"
#: The ResourceAssignment env as RLlib's env runners make it.
RESOURCE_ASSIGNMENT_ID = ENV_MODULE_PREFIX + "codesign/ResourceAssignment-v0"


def _algorithm_config(algorithm: str, episodes_per_batch: int, episode_length: int | None, lr: float | None):
    """REINFORCE's or PPO's config with its training options (a batch of ``episodes_per_batch``
    episodes of ``episode_length`` steps; ``lr`` default 1e-3 for REINFORCE, 3e-4 for PPO)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm {algorithm!r} is not known; expected one of {ALGORITHMS}")
    if algorithm == "reinforce":
        from codesign_gym.agents.rllib.reinforce import REINFORCEConfig

        return REINFORCEConfig().training(episodes_per_batch=episodes_per_batch, lr=lr or 1e-3)
    from ray.rllib.algorithms.ppo import PPOConfig

    steps = episodes_per_batch * (episode_length or 1)
    return PPOConfig().training(lr=lr or 3e-4, train_batch_size_per_learner=steps, minibatch_size=max(steps // 4, 8), num_epochs=4, gamma=0.99)


def _module_spec(module: str, episode_length: int | None) -> RLModuleSpec:
    from codesign_gym.agents.rllib.modules import ConfuciuxLSTMModule, MLPPolicyModule

    if module not in MODULES:
        raise ValueError(f"module {module!r} is not known; expected one of {MODULES}")
    if module == "lstm":
        return RLModuleSpec(module_class=ConfuciuxLSTMModule, model_config={"max_seq_len": int(episode_length or 64), "hidden": 128, "embed": 10})
    return RLModuleSpec(module_class=MLPPolicyModule, model_config={"hidden": [128, 128]})


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
    rllib: RLlibOptions | None = None,
):
    """An RLlib AlgorithmConfig for ``algorithm`` (``reinforce`` or ``ppo``) on ``env_id``
    (``"codesign_gym.envs:codesign/<Name>-v0"``) built with ``env_config``, with
    :class:`~codesign_gym.agents.rllib.callback.DesignCallback` as its callback.

    ``module`` picks the policy: ``lstm`` (ConfuciuX's recurrent actor; give ``episode_length``,
    the steps of one episode, so one sequence spans it) or ``mlp``. The env runs as a native
    vector env (``gym_env_vectorize_mode="vector_entry_point"``) with ``envs_per_runner``
    sub-envs on each of ``num_env_runners`` remote env runners (0: in this process).
    ``rllib``'s options that are set replace ``num_env_runners``, ``envs_per_runner``,
    ``episodes_per_batch`` and ``lr``; its learners, env-runner CPUs and fault tolerance apply.
    Each remote env runner gets one torch/BLAS thread per CPU it reserves
    (:func:`~codesign_gym.agents.threads.thread_environment`); the driver's threads are set by
    :meth:`~codesign_gym.agents.rllib.method.RLlibMethod.train`.

    Raises:
        ValueError: an unknown ``algorithm`` or ``module``.
    """
    rllib = rllib or RLlibOptions()
    num_env_runners, envs_per_runner = rllib.pick("num_env_runners", num_env_runners), rllib.pick("envs_per_runner", envs_per_runner)
    episodes_per_batch, lr = rllib.pick("episodes_per_batch", episodes_per_batch), rllib.pick("lr", lr)
    spec = _module_spec(module, episode_length)
    config = (
        _algorithm_config(algorithm, episodes_per_batch, episode_length, lr)
        .environment(env_id, env_config=env_config)
        .env_runners(
            num_env_runners=num_env_runners,
            num_envs_per_env_runner=envs_per_runner,
            gym_env_vectorize_mode="vector_entry_point",
            rollout_fragment_length="auto",
        )
        .rl_module(rl_module_spec=spec)
        .python_environment(extra_python_environs_for_worker=thread_environment(rllib.num_cpus_per_env_runner))
        .callbacks(DesignCallback)
        .debugging(seed=seed, log_level="ERROR")
        .reporting(metrics_num_episodes_for_smoothing=episodes_per_batch)
    )
    return rllib.apply(config)


@dataclasses.dataclass
class Iteration:
    """One ``algo.train()``: its ``result``, the ``designs`` (M, D) of the episodes that ended
    in it, ``new_episodes`` (RLlib's count of them) and ``episodes`` (all so far)."""

    result: dict
    designs: np.ndarray
    new_episodes: int
    episodes: int


def train_iterations(algo, episodes: int, design_size: int, done: int = 0) -> Iterator[Iteration]:
    """Call ``algo.train()`` until ``episodes`` episodes have ended (``done`` already had, e.g.
    before a restored checkpoint), yielding an :class:`Iteration` after each call.
    ``design_size`` is D, the length of a design."""
    lifetime = int(algo.metrics.peek((ENV_RUNNER_RESULTS, NUM_EPISODES_LIFETIME), default=0) or 0)
    while done < episodes:
        result = algo.train()
        now = int(result.get(ENV_RUNNER_RESULTS, {}).get(NUM_EPISODES_LIFETIME, lifetime))
        new, lifetime = now - lifetime, now
        done += new
        yield Iteration(result, finished_designs(result, design_size), new, done)


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
