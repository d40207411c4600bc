"""RLlib PPO (new API stack) for one training iteration on every id, through the package's own
config builder (``build_algorithm_config``): the env runner makes ``"codesign_gym.envs:<id>"``
as a native vector env in this process, and the package's ``DesignCallback`` insists on the final
info's ``design`` for every episode that ends. One embedded Ray for the module; a tiny batch."""

from __future__ import annotations

import numpy as np
import pytest

ray = pytest.importorskip("ray")

import gymnasium as gym  # noqa: E402
from ray.rllib.core.rl_module.rl_module import RLModuleSpec  # noqa: E402

import codesign_gym.envs  # noqa: E402,F401  (registers the ids)
from codesign_gym.agents.rllib.callback import finished_designs  # noqa: E402
from codesign_gym.agents.rllib.training import ENV_MODULE_PREFIX, build_algorithm_config  # noqa: E402

#: Env steps per iteration (one env runner, in this process, with one sub-env).
TRAIN_BATCH = 64
#: Ids whose every step prices a new design (~0.1 s with NASAccelerator's mapping search) get a smaller batch.
SMALL_BATCH = {"codesign/NASAccelerator-v0": 16}


@pytest.fixture(scope="module", autouse=True)
def embedded_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def _episode_length(env_id: str) -> int:
    """Steps of one episode of the single env under sampled actions (the envs here end after a
    fixed or bounded number of decisions)."""
    env = gym.make(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    steps = 0
    while True:
        mask = None
        if not isinstance(env.action_space, gym.spaces.Box):
            masks = env.get_wrapper_attr("action_masks")()
            mask = masks.astype(np.int8) if isinstance(env.action_space, gym.spaces.Discrete) else tuple(
                np.split(masks.astype(np.int8), np.cumsum(env.action_space.nvec)[:-1]))
        _, _, terminated, truncated, _ = env.step(env.action_space.sample(mask=mask) if mask is not None else env.action_space.sample())
        steps += 1
        if terminated or truncated or steps >= 10_000:
            env.close()
            return steps


def test_rllib_ppo_one_iteration(each_id):
    length, batch = _episode_length(each_id), SMALL_BATCH.get(each_id, TRAIN_BATCH)
    config = build_algorithm_config("ppo", {}, seed=0, module="mlp", num_env_runners=0, envs_per_runner=1, episodes_per_batch=1,
                                    env_id=ENV_MODULE_PREFIX + each_id)
    config.training(train_batch_size_per_learner=batch, minibatch_size=min(32, batch), num_epochs=1)
    if isinstance(gym.make(each_id).action_space, gym.spaces.Box):
        # the package's modules take Discrete/MultiDiscrete actions; a Box id gets RLlib's own PPO module
        config.rl_module(rl_module_spec=RLModuleSpec(model_config={"fcnet_hiddens": [64, 64]}))
    algo = config.build_algo()
    try:
        result = algo.train()
    finally:
        algo.stop()
    runners = result["env_runners"]
    assert runners["num_env_steps_sampled_lifetime"] >= batch
    learner = result["learners"]["default_policy"]
    for key in ("policy_loss", "vf_loss", "total_loss"):
        assert np.isfinite(learner[key]), (key, learner[key])
    problem = gym.make(each_id).unwrapped.problem
    designs = finished_designs(result, problem.design_nvec.size)
    if length <= batch // 2:  # at least two episodes fit into the iteration
        assert len(designs) >= batch // length - 1 and np.isfinite(runners["episode_return_mean"])
        assert ((0 <= designs) & (designs < problem.design_nvec)).all()
