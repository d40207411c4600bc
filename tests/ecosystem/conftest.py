"""Shared pieces of the ecosystem tests: the ids, one torch thread, and a masked random policy.

The tests here train other people's RL code (stable-baselines3, sb3-contrib, RLlib, a
CleanRL-shaped loop) on ``gym.make(id)`` / ``gym.make_vec(id)`` with no wrapper code of ours.
A test asks for the ids it runs on by argument name (``pytest_generate_tests`` below):
``each_id`` (every id), ``each_variant_id`` (the Discrete variants), ``each_masked_id`` (every
id whose action space is Discrete or MultiDiscrete); a test that parametrizes such a name itself
keeps its own values. The mask helpers come as fixtures (pytest's
importlib mode lets no test module import this file).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import codesign_gym.envs as cg_envs

ALL_IDS: tuple[str, ...] = tuple(cg_envs.ALL_IDS)
VARIANT_IDS: tuple[str, ...] = tuple(cg_envs.VARIANT_IDS)


def short(env_id: str) -> str:
    """``codesign/ResourceAssignment-Discrete-v0`` -> ``ResourceAssignment-Discrete`` (test ids)."""
    return env_id.split("/", 1)[1].rsplit("-v", 1)[0]


def _action_space(env_id: str) -> gym.Space:
    env = gym.make(env_id)
    try:
        return env.action_space
    finally:
        env.close()


#: Action space of every id with its default options (made once, at collection).
ACTION_SPACES: dict[str, gym.Space] = {env_id: _action_space(env_id) for env_id in ALL_IDS}
#: Ids whose action space is Discrete or MultiDiscrete (MaskablePPO's domain).
DISCRETE_ACTION_IDS: tuple[str, ...] = tuple(
    i for i in ALL_IDS if isinstance(ACTION_SPACES[i], (gym.spaces.Discrete, gym.spaces.MultiDiscrete)))


def pytest_generate_tests(metafunc):
    own = {name.strip() for marker in metafunc.definition.iter_markers("parametrize")
           for name in (marker.args[0].split(",") if isinstance(marker.args[0], str) else marker.args[0])}
    for name, ids in (("each_id", ALL_IDS), ("each_variant_id", VARIANT_IDS), ("each_masked_id", DISCRETE_ACTION_IDS)):
        if name in metafunc.fixturenames and name not in own:
            metafunc.parametrize(name, ids, ids=[short(i) for i in ids])


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """One torch thread: the small policies here run fastest so on a few cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def allowed(mask: np.ndarray, space: gym.Space, action) -> bool:
    """Whether ``action`` is allowed by the sb3-contrib style ``mask`` of ``space`` (Discrete: (n,);
    MultiDiscrete: the per-dimension masks concatenated, (sum(nvec),))."""
    mask = np.asarray(mask, dtype=bool)
    if isinstance(space, gym.spaces.Discrete):
        assert mask.shape == (int(space.n),)
        return bool(mask[int(np.asarray(action).reshape(()))])
    nvec = np.asarray(space.nvec).reshape(-1)
    assert mask.shape == (int(nvec.sum()),)
    offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]])
    return bool(mask[offsets + np.asarray(action).reshape(-1)].all())


def masked_random_actions(rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    """One uniformly random allowed action per row of the (N, n) bool ``masks`` (Discrete)."""
    masks = np.asarray(masks, dtype=bool)
    assert masks.ndim == 2 and masks.any(axis=1).all(), "every row of a mask must allow some action"
    scores = np.where(masks, rng.random(masks.shape), -1.0)
    return scores.argmax(axis=1)


@pytest.fixture
def action_allowed():
    """:func:`allowed` as a fixture."""
    return allowed


@pytest.fixture
def random_masked():
    """:func:`masked_random_actions` as a fixture."""
    return masked_random_actions
