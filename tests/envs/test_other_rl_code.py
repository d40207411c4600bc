"""Our env in other RL code: stable-baselines3 PPO through gymnasium.make, and make_vec."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import codesign_gym.envs  # noqa: F401


def test_sb3_ppo_trains_on_gymnasium_make():
    from stable_baselines3 import PPO

    env = gym.make("codesign/ResourceAssignment-v0", workload="cfx/alexnet", dataflow="dla")
    model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, n_epochs=2, seed=0, device="cpu", verbose=0)
    model.learn(total_timesteps=2048)
    obs, _ = env.reset(seed=0)
    done, total = False, 0.0
    while not done:
        action, _ = model.predict(obs, deterministic=True)
        obs, reward, done, _, info = env.step(action)
        total += reward
    assert model.num_timesteps >= 2048
    assert np.isfinite(total) and "latency_cycles" in info


def test_make_vec_sync_and_native_agree():
    native = gym.make_vec("codesign/ResourceAssignment-v0", num_envs=3, vectorization_mode="vector_entry_point", workload="cfx/alexnet")
    sync = gym.make_vec("codesign/ResourceAssignment-v0", num_envs=3, vectorization_mode="sync", workload="cfx/alexnet",
                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP})
    a, _ = native.reset(seed=0)
    b, _ = sync.reset(seed=0)
    np.testing.assert_allclose(a, b)
    rng = np.random.default_rng(0)
    for _ in range(12):  # crosses episode ends (5 layers) and autoresets
        act = np.stack([rng.integers(0, 12, 3), rng.integers(0, 12, 3)], axis=1)
        oa, ra, ta, _, _ = native.step(act)
        ob, rb, tb, _, _ = sync.step(act)
        np.testing.assert_allclose(oa, ob)
        np.testing.assert_allclose(ra, rb)
        np.testing.assert_array_equal(ta, tb)
