"""Our env in other RL code: stable-baselines3 PPO through gymnasium.make (make_vec: test_vector_conformance.py)."""

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
