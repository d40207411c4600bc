"""AutoresetVectorEnv's NEXT_STEP and SAME_STEP autoreset bookkeeping, on a tiny countdown env."""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.vector.utils import batch_space

from codesign_gym.envs.vector_base import AutoresetVectorEnv, check_started

ACTION = spaces.Discrete(3)
OBSERVATION = spaces.Box(0.0, np.inf, shape=(1,), dtype=np.float32)


class Countdown(gym.Env):
    """Episodes of ``length`` steps; reward ``action + 1``; observation: steps taken."""

    def __init__(self, length: int):
        self.length = length
        self.action_space, self.observation_space = ACTION, OBSERVATION
        self.t = 0
        self._started = False

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self._started = 0, True
        return np.array([0.0], dtype=np.float32), {}

    def step(self, action):
        check_started(self._started)
        self.t += 1
        done = self.t >= self.length
        self._started = not done
        return np.array([self.t], dtype=np.float32), float(action + 1), done, False, {"t": self.t}


class CountdownVectorEnv(AutoresetVectorEnv):
    """Sub-env ``i`` runs :class:`Countdown` episodes of ``i + 1`` steps, batched."""

    def __init__(self, num_envs: int = 3, autoreset_mode="next_step"):
        super().__init__(num_envs, autoreset_mode)
        self._set_single_spaces(ACTION, OBSERVATION)
        self.length = np.arange(1, self.num_envs + 1)
        self.t = np.zeros(self.num_envs, dtype=np.int64)

    def _reset_rows(self, rows):
        self.t[rows] = 0

    def _observe(self):
        return self.t[:, None].astype(np.float32)

    def step(self, actions):
        resetting = self._begin_step()
        self.t[resetting] = 0
        active = ~resetting
        self.t += active
        reward = np.where(active, np.asarray(actions) + 1, 0)  # integers: _step_result makes them float64
        terminated = active & (self.t >= self.length)
        info = self._masked_info({"t": self.t.copy()}, active)
        return self._step_result(self._observe(), reward, terminated, info)


def test_metadata_and_batched_spaces():
    venv = CountdownVectorEnv(4)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert venv.single_action_space == ACTION and venv.single_observation_space == OBSERVATION
    assert venv.action_space == batch_space(ACTION, 4) and venv.observation_space == batch_space(OBSERVATION, 4)


@pytest.mark.parametrize("num_envs", [0, -2, 1.5, True, "3", None])
def test_num_envs_must_be_a_positive_integer(num_envs):
    with pytest.raises(ValueError, match=re.escape(f"num_envs={num_envs!r}; expected a positive integer")):
        CountdownVectorEnv(num_envs)


def test_numpy_integer_num_envs_is_accepted():
    venv = CountdownVectorEnv(np.int64(2))
    assert venv.num_envs == 2 and type(venv.num_envs) is int


def test_step_before_reset_raises():
    with pytest.raises(RuntimeError, match=re.escape("call reset() before step()")):
        CountdownVectorEnv().step(np.zeros(3, dtype=np.int64))
    check_started(True)
    with pytest.raises(RuntimeError, match=re.escape("call reset() before step()")):
        check_started(False)


def test_the_step_after_done_resets_that_sub_env_only():
    venv = CountdownVectorEnv(3)  # episodes of 1, 2 and 3 steps
    venv.reset(seed=0)
    obs, rew, term, trunc, info = venv.step(np.array([2, 2, 2]))
    assert rew.dtype == np.float64 and rew.tolist() == [3, 3, 3] and term.tolist() == [True, False, False]
    assert trunc.dtype == bool and trunc.shape == (3,) and not trunc.any()
    assert info["t"].tolist() == [1, 1, 1] and info["_t"].all()
    obs, rew, term, _, info = venv.step(np.array([1, 1, 1]))  # sub-env 0 resets: action ignored, reward 0
    assert obs[:, 0].tolist() == [0, 2, 2] and rew.tolist() == [0, 2, 2] and term.tolist() == [False, True, False]
    assert info["_t"].tolist() == [False, True, True]
    obs, rew, term, _, info = venv.step(np.array([0, 0, 0]))
    assert obs[:, 0].tolist() == [1, 0, 3] and rew.tolist() == [1, 0, 1] and term.tolist() == [True, False, True]
    assert info["_t"].tolist() == [True, False, True]


def test_reset_drops_pending_autoresets():
    venv = CountdownVectorEnv(2)
    venv.reset()
    _, _, term, _, _ = venv.step(np.array([0, 0]))
    assert term.tolist() == [True, False]
    venv.reset()
    _, rew, _, _, info = venv.step(np.array([0, 0]))
    assert rew.tolist() == [1, 1] and info["_t"].all()


def test_terminated_is_copied_for_the_next_step():
    venv = CountdownVectorEnv(2)
    venv.reset()
    _, _, term, _, _ = venv.step(np.array([0, 0]))
    term[:] = False  # the caller's array: the env keeps its own copy
    _, rew, _, _, _ = venv.step(np.array([0, 0]))
    assert rew.tolist() == [0, 1]


def test_agrees_with_gymnasiums_sync_vector_env():
    native = CountdownVectorEnv(3)
    sync = SyncVectorEnv([lambda k=k: Countdown(k) for k in (1, 2, 3)], autoreset_mode=AutoresetMode.NEXT_STEP)
    np.testing.assert_array_equal(native.reset(seed=0)[0], sync.reset(seed=0)[0])
    rng = np.random.default_rng(0)
    for _ in range(12):  # every sub-env ends and autoresets several times
        act = rng.integers(0, 3, size=3)
        oa, ra, ta, _, ia = native.step(act)
        ob, rb, tb, _, ib = sync.step(act)
        np.testing.assert_array_equal(oa, ob)
        np.testing.assert_array_equal(ra, rb)
        np.testing.assert_array_equal(ta, tb)
        mask = ib.get("_t", np.zeros(3, dtype=bool))
        np.testing.assert_array_equal(ia["_t"], mask)
        if mask.any():
            np.testing.assert_array_equal(ia["t"][mask], ib["t"][mask])


def test_same_step_agrees_with_gymnasiums_sync_vector_env():
    native = CountdownVectorEnv(3, autoreset_mode="same_step")
    assert native.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert type(native).metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP  # per instance, not the class's
    sync = SyncVectorEnv([lambda k=k: Countdown(k) for k in (1, 2, 3)], autoreset_mode=AutoresetMode.SAME_STEP)
    np.testing.assert_array_equal(native.reset(seed=0)[0], sync.reset(seed=0)[0])
    rng = np.random.default_rng(1)
    ended = 0
    for _ in range(12):
        act = rng.integers(0, 3, size=3)
        oa, ra, ta, _, ia = native.step(act)
        ob, rb, tb, _, ib = sync.step(act)
        np.testing.assert_array_equal(oa, ob)
        np.testing.assert_array_equal(ra, rb)  # every step is a real step: no reward-0 reset steps
        np.testing.assert_array_equal(ta, tb)
        assert (ra > 0).all()
        for key in ("_final_obs", "_final_info", "_t"):
            np.testing.assert_array_equal(ia.get(key, np.zeros(3, dtype=bool)), ib.get(key, np.zeros(3, dtype=bool)), err_msg=key)
        if tb.any():
            ended += int(tb.sum())
            for i in np.flatnonzero(tb):
                np.testing.assert_array_equal(ia["final_obs"][i], ib["final_obs"][i])
            fa, fb = ia["final_info"], ib["final_info"]
            np.testing.assert_array_equal(fa["_t"], fb["_t"])
            np.testing.assert_array_equal(fa["t"][fb["_t"]], fb["t"][fb["_t"]])
    assert ended >= 12  # every sub-env ended several times


@pytest.mark.parametrize("mode", ["disabled", "NEXT", 1, None])
def test_unknown_autoreset_mode_is_refused(mode):
    with pytest.raises(ValueError, match=re.escape(f"autoreset_mode={mode!r}; expected 'next_step' or 'same_step'")):
        CountdownVectorEnv(2, autoreset_mode=mode)


def test_masked_info_puts_values_then_independent_masks():
    mask = np.array([True, False])
    values = {"a": np.array([1, 2]), "b": np.array([3.0, 4.0]), "c": np.array([5, 6])}
    info = AutoresetVectorEnv._masked_info(values, mask)
    assert list(info) == ["a", "b", "c", "_a", "_b", "_c"]
    assert info["a"] is values["a"] and info["_b"].tolist() == [True, False]
    info["_a"][1] = True
    assert info["_b"].tolist() == [True, False] and mask.tolist() == [True, False]
    assert list(AutoresetVectorEnv._masked_info(values, mask, ("c", "a"))) == ["c", "a", "_c", "_a"]
