"""stable-baselines3 and sb3-contrib on ``gym.make(id)`` for every id, with no wrapper code:
PPO on every id, A2C on the Discrete variants, MaskablePPO (which must find ``action_masks``
itself) on every id with a Discrete or MultiDiscrete action space. Budgets are a couple of
tiny rollouts: these check that the libraries run on the envs, not that they learn well."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import codesign_gym.envs  # noqa: F401  (registers the ids)

FINAL_KEYS = ("design", "objective", "fitness")
#: Longest episode any id has with its default options is a few hundred steps; a rollout past this is a bug.
MAX_EPISODE_STEPS = 5_000
#: Training budget: two PPO rollouts of 16 steps (NASAccelerator-v0 prices a new design per step, ~0.1 s).
TIMESTEPS, N_STEPS = 32, 16


def _parameters(model) -> list[np.ndarray]:
    return [p.detach().cpu().numpy().copy() for p in model.policy.parameters()]


def _check_trained(model, before: list[np.ndarray], timesteps: int) -> None:
    assert model.num_timesteps >= timesteps
    after = _parameters(model)
    assert len(after) == len(before)
    assert any(not np.array_equal(a, b) for a, b in zip(after, before)), "learn() changed no policy parameter"
    assert all(np.isfinite(a).all() for a in after)


def _rollout(env: gym.Env, act, seed: int = 0) -> tuple[float, dict, int]:
    """One episode with ``act(obs) -> action``: (return, final info, steps)."""
    obs, info = env.reset(seed=seed)
    total, steps = 0.0, 0
    while True:
        obs, reward, terminated, truncated, info = env.step(act(obs))
        total += float(reward)
        steps += 1
        assert obs in env.observation_space
        if terminated or truncated:
            return total, info, steps
        assert steps < MAX_EPISODE_STEPS, f"no episode end after {steps} steps"


def _check_final_info(info: dict, env: gym.Env) -> None:
    missing = [k for k in FINAL_KEYS if k not in info]
    assert not missing, f"final info lacks {missing}; has {sorted(info)}"
    design = np.asarray(info["design"])
    assert design.ndim == 1 and np.issubdtype(design.dtype, np.integer)
    assert np.all((0 <= design) & (design < env.unwrapped.problem.design_nvec))
    assert np.isfinite(float(info["objective"])) and np.isfinite(float(info["fitness"]))


def test_sb3_ppo_trains_and_rolls_out(each_id):
    from stable_baselines3 import PPO

    env = gym.make(each_id)
    model = PPO("MlpPolicy", env, n_steps=N_STEPS, batch_size=N_STEPS, n_epochs=2, seed=0, device="cpu", verbose=0)
    before = _parameters(model)
    model.learn(total_timesteps=TIMESTEPS)
    _check_trained(model, before, TIMESTEPS)
    total, info, _ = _rollout(env, lambda obs: model.predict(obs, deterministic=True)[0])
    assert np.isfinite(total)
    _check_final_info(info, env)
    env.close()


def test_sb3_a2c_trains_and_rolls_out(each_variant_id):
    from stable_baselines3 import A2C

    env = gym.make(each_variant_id)
    assert isinstance(env.action_space, gym.spaces.Discrete)
    model = A2C("MlpPolicy", env, n_steps=8, seed=0, device="cpu", verbose=0)
    before = _parameters(model)
    model.learn(total_timesteps=TIMESTEPS)
    _check_trained(model, before, TIMESTEPS)
    total, info, _ = _rollout(env, lambda obs: model.predict(obs, deterministic=True)[0])
    assert np.isfinite(total)
    _check_final_info(info, env)
    env.close()


def test_maskable_ppo_finds_the_masks_and_obeys_them(each_masked_id, action_allowed):
    """MaskablePPO on the bare ``gym.make(id)`` (no ActionMasker): it finds ``action_masks``
    through gymnasium's wrappers, trains, and in a rollout that passes the masks every chosen
    action is allowed by the env's own ``action_masks()`` (which ``info["action_mask"]`` repeats)."""
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported

    env = gym.make(each_masked_id)
    assert is_masking_supported(env)
    model = MaskablePPO("MlpPolicy", env, n_steps=N_STEPS, batch_size=N_STEPS, n_epochs=2, seed=0, device="cpu", verbose=0)
    assert is_masking_supported(model.get_env())  # the DummyVecEnv it built reaches the env's action_masks
    before = _parameters(model)
    model.learn(total_timesteps=TIMESTEPS)  # use_masking=True: raises if the masks were not found
    _check_trained(model, before, TIMESTEPS)

    space, chosen, episode = env.action_space, 0, 0
    obs, info = env.reset(seed=1)
    while episode < 3 and chosen < 64:  # 3 episodes, or as many as end within 64 steps (at least one)
        steps = 0
        while True:
            masks = get_action_masks(env)
            assert masks.dtype == bool and masks.any()
            np.testing.assert_array_equal(np.asarray(info["action_mask"], dtype=bool), masks)
            action, _ = model.predict(obs, action_masks=masks, deterministic=episode == 0)
            assert action in space and action_allowed(masks, space, action), f"action {action} not allowed by the mask"
            chosen += 1
            obs, reward, terminated, truncated, info = env.step(action)
            steps += 1
            assert np.isfinite(reward)
            if terminated or truncated:
                assert all(k in info for k in FINAL_KEYS)
                obs, info = env.reset()
                episode += 1
                break
            assert steps < MAX_EPISODE_STEPS
    assert chosen >= 3
    env.close()
