"""The native vector envs in a CleanRL-shaped loop written here (``gym.make_vec`` with
``autoreset_mode="same_step"``, random actions drawn from ``envs.action_masks()``), the
bookkeeping such a loop relies on (``terminated``/``truncated`` count the episodes,
``info["final_info"]`` covers exactly the ended rows, SAME_STEP wastes no step where NEXT_STEP
spends one per episode on the reset), and the native SAME_STEP env against gymnasium's own
``SyncVectorEnv`` in SAME_STEP mode over the single env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import codesign_gym.envs  # noqa: F401  (registers the ids)

FINAL_KEYS = ("design", "objective", "fitness")
NUM_ENVS = 4
MODES = {"same_step": AutoresetMode.SAME_STEP, "next_step": AutoresetMode.NEXT_STEP}


def _make(env_id: str, mode: str, num_envs: int = NUM_ENVS):
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", autoreset_mode=mode)
    assert envs.metadata["autoreset_mode"] == MODES[mode]
    return envs


def _random_allowed(rng: np.random.Generator, masks: np.ndarray, space: gym.Space, random_masked) -> np.ndarray:
    """Random allowed actions for (N, M) masks of a Discrete or (per dimension) MultiDiscrete space."""
    if isinstance(space, gym.spaces.Discrete):
        return random_masked(rng, masks)
    cuts = np.cumsum(np.asarray(space.nvec).reshape(-1))[:-1]
    return np.stack([random_masked(rng, part) for part in np.split(masks, cuts, axis=1)], axis=1)


def _single_env_lengths(env_id: str, episodes: int, seed: int, random_masked) -> list[int]:
    """Episode lengths of the single env under random allowed actions."""
    env = gym.make(env_id)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    lengths, steps = [], 0
    while len(lengths) < episodes:
        action = _random_allowed(rng, env.get_wrapper_attr("action_masks")()[None, :], env.action_space, random_masked)[0]
        _, _, terminated, truncated, _ = env.step(action)
        steps += 1
        if terminated or truncated:
            lengths.append(steps)
            steps = 0
            env.reset()
    env.close()
    return lengths


def _run_loop(env_id: str, mode: str, steps: int, seed: int, random_masked) -> dict:
    """``steps`` vector steps of random allowed actions, CleanRL style; checks every step's info
    bookkeeping and returns the episodes (count, lengths, returns) and NEXT_STEP's reset steps."""
    envs = _make(env_id, mode)
    n = envs.single_action_space.n
    rng = np.random.default_rng(seed)
    obs, info = envs.reset(seed=seed)
    assert obs.shape == (NUM_ENVS,) + envs.single_observation_space.shape and obs.dtype == np.float32
    running_len, running_ret = np.zeros(NUM_ENVS, dtype=int), np.zeros(NUM_ENVS)
    lengths, returns, resets, episodes = [], [], 0, 0
    prev_done = np.zeros(NUM_ENVS, dtype=bool)
    for _ in range(steps):
        masks = envs.action_masks()
        assert masks.shape == (NUM_ENVS, n) and masks.dtype == bool
        np.testing.assert_array_equal(np.asarray(info["action_mask"], dtype=bool), masks)
        actions = random_masked(rng, masks)
        obs, reward, terminated, truncated, info = envs.step(actions)
        assert np.isfinite(reward).all() and obs in envs.observation_space
        done = terminated | truncated
        real = np.ones(NUM_ENVS, dtype=bool)
        if mode == "next_step":
            # the step after an end only resets that row: no reward, no end, its action ignored
            real = ~prev_done
            resets += int(prev_done.sum())
            assert (reward[prev_done] == 0).all() and not done[prev_done].any()
            for key in FINAL_KEYS:
                np.testing.assert_array_equal(info.get("_" + key, np.zeros(NUM_ENVS, dtype=bool)), done)
            assert "final_info" not in info
            final = info
        else:
            if done.any():
                np.testing.assert_array_equal(info["_final_info"], done)
                np.testing.assert_array_equal(info["_final_obs"], done)
                final = info["final_info"]
                for key in FINAL_KEYS:
                    np.testing.assert_array_equal(final["_" + key], done, err_msg=f"final_info['_{key}']")
                for i in np.flatnonzero(done):
                    assert info["final_obs"][i] in envs.single_observation_space
            else:
                assert not np.asarray(info.get("_final_info", np.zeros(NUM_ENVS, dtype=bool))).any()
                final = {}
            for key in FINAL_KEYS:
                assert key not in info, f"SAME_STEP put the final key {key!r} at the top level of info"
        if done.any():
            assert np.isfinite(np.asarray(final["objective"], dtype=float)[done]).all()
            assert np.isfinite(np.asarray(final["fitness"], dtype=float)[done]).all()
            designs = np.asarray(final["design"])[done]
            assert designs.ndim == 2 and np.issubdtype(designs.dtype, np.integer)
        running_len += real
        running_ret += np.where(real, reward, 0.0)
        for i in np.flatnonzero(done):
            lengths.append(int(running_len[i]))
            returns.append(float(running_ret[i]))
        episodes += int(done.sum())
        running_len[done], running_ret[done] = 0, 0.0
        prev_done = done
    envs.close()
    # every step of every row is a step of an episode (ended or running) or, in NEXT_STEP, a reset step
    assert sum(lengths) + int(running_len.sum()) + resets == steps * NUM_ENVS
    return dict(episodes=episodes, lengths=lengths, returns=returns, resets=resets, ended_last=int(prev_done.sum()))


def test_cleanrl_style_loop_same_step_wastes_no_steps(each_variant_id, random_masked):
    """Same seeds, same number of vector steps in both autoreset modes. SAME_STEP: every step is
    a step of an episode, so a fixed-length env's episodes all take the single env's length L and
    T steps end 4 * (T // L) of them; NEXT_STEP spends one more step per episode on the reset:
    4 * ((T + 1) // (L + 1)). On the one-step env that is half the steps."""
    lengths = _single_env_lengths(each_variant_id, episodes=4, seed=0, random_masked=random_masked)
    fixed, length = len(set(lengths)) == 1, lengths[0]
    steps = 3 * (max(lengths) + 1)
    same = _run_loop(each_variant_id, "same_step", steps, seed=0, random_masked=random_masked)
    nxt = _run_loop(each_variant_id, "next_step", steps, seed=0, random_masked=random_masked)
    assert same["episodes"] >= NUM_ENVS and same["resets"] == 0 and np.isfinite(same["returns"]).all()
    assert nxt["resets"] > 0 and same["episodes"] >= nxt["episodes"]
    # NEXT_STEP spends one step on the reset after every end except those on the last step
    assert nxt["resets"] == nxt["episodes"] - nxt["ended_last"]
    if fixed:
        assert set(same["lengths"]) == {length} and set(nxt["lengths"]) == {length}
        assert same["episodes"] == NUM_ENVS * (steps // length)
        assert nxt["episodes"] == NUM_ENVS * ((steps + 1) // (length + 1))
    if length == 1:  # one-step env: SAME_STEP ends an episode on every step, NEXT_STEP on every other one
        assert fixed and same["episodes"] == NUM_ENVS * steps == 2 * nxt["episodes"] and nxt["resets"] == NUM_ENVS * steps // 2


# ------------------------------------------------------------- native SAME_STEP vs gymnasium's SyncVectorEnv
DETERMINISTIC = ["codesign/ResourceAssignment-v0", "codesign/PatchInference-v0", "codesign/EarlyExitDVFS-v0",
                 "codesign/ResourceAssignment-Discrete-v0", "codesign/PatchInference-Discrete-v0", "codesign/EarlyExitDVFS-Discrete-v0"]


@pytest.mark.parametrize("env_id", DETERMINISTIC, ids=[i.split("/")[1][:-3] for i in DETERMINISTIC])
def test_native_same_step_agrees_with_sync_vector_env(env_id, random_masked):
    """Same seeds and actions: identical obs, rewards, ends, final_info and final_obs, across episode ends."""
    n = 3
    native = _make(env_id, "same_step", n)
    sync = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync", vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
    space = native.single_action_space
    assert sync.single_action_space == space
    a, ia = native.reset(seed=0)
    b, ib = sync.reset(seed=0)
    np.testing.assert_allclose(a, b)
    length = max(_single_env_lengths(env_id, 2, 0, random_masked))
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(2 * length + 3):  # crosses at least two episode ends per row
        masks = native.action_masks()
        np.testing.assert_array_equal(np.asarray(ia["action_mask"], dtype=bool), masks)
        np.testing.assert_array_equal(np.asarray(ib["action_mask"], dtype=bool), masks)
        act = _random_allowed(rng, masks, space, random_masked)
        oa, ra, ta, tra, ia = native.step(act)
        ob, rb, tb, trb, ib = sync.step(act)
        np.testing.assert_allclose(oa, ob)
        np.testing.assert_allclose(ra, rb)
        np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(tra, trb)
        done = tb | trb
        np.testing.assert_array_equal(ia.get("_final_info", np.zeros(n, bool)), ib.get("_final_info", np.zeros(n, bool)))
        if done.any():
            ends += int(done.sum())
            np.testing.assert_array_equal(ia["_final_info"], done)
            fa, fb = ia["final_info"], ib["final_info"]
            np.testing.assert_array_equal(fa["_fitness"], fb["_fitness"])
            np.testing.assert_allclose(fa["fitness"][done], fb["fitness"][done])
            np.testing.assert_allclose(fa["objective"][done], fb["objective"][done])
            np.testing.assert_array_equal(fa["design"][done], fb["design"][done])
            for i in np.flatnonzero(done):
                np.testing.assert_allclose(ia["final_obs"][i], ib["final_obs"][i])
    assert ends >= 2 * n
    native.close()
    sync.close()
