"""Action masks: the helpers, each env's masks (exact joint masks, their per-dimension relaxation), single vs vector."""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st

import codesign_gym.envs  # noqa: F401
from codesign_gym.envs import ALL_IDS
from codesign_gym.envs.action_masks import dimension_masks, ensure_some_allowed, has_masks, joint_from_dimensions, mask_size

MASKED_IDS = [i for i in ALL_IDS if has_masks(gym.make(i).action_space)]


def test_mask_size_per_space():
    assert mask_size(spaces.Discrete(7)) == 7
    assert mask_size(spaces.MultiDiscrete([3, 4, 2])) == 9
    with pytest.raises(TypeError, match=re.escape("action masks are defined for Discrete and (one-dimensional) MultiDiscrete")):
        mask_size(spaces.Box(0.0, 1.0, shape=(3,)))


def test_dimension_masks_of_a_known_joint_mask():
    joint = np.zeros((1, 2, 3), dtype=bool)
    joint[0, 1, 2] = True  # only (1, 2) allowed
    np.testing.assert_array_equal(dimension_masks(joint.reshape(1, -1), [2, 3]), [[False, True, False, False, True]])
    np.testing.assert_array_equal(joint_from_dimensions(np.array([[False, True, False, False, True]]), [2, 3]), joint.reshape(1, -1))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4).flatmap(
    lambda nvec: st.tuples(st.just(nvec), st.lists(st.booleans(), min_size=int(np.prod(nvec)), max_size=int(np.prod(nvec))))))
def test_per_dimension_masks_relax_the_joint_mask(case):
    nvec, flat = case
    joint = np.array(flat, dtype=bool)[None, :]
    dims = dimension_masks(joint, nvec)
    assert dims.shape == (1, sum(nvec))
    relaxed = joint_from_dimensions(dims, nvec)
    assert not (joint & ~relaxed).any()  # every allowed joint action stays allowed
    if joint.any():  # and the product of the projections projects back to them
        np.testing.assert_array_equal(dimension_masks(relaxed, nvec), dims)


def test_ensure_some_allowed_opens_empty_rows_only():
    masks = np.array([[False, False], [True, False]])
    np.testing.assert_array_equal(ensure_some_allowed(masks), [[True, True], [True, False]])


@pytest.mark.parametrize("env_id", MASKED_IDS)
def test_masks_match_info_and_vector_rows(env_id):
    env = gym.make(env_id)
    venv = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point")
    obs, info = env.reset(seed=0)
    _, vinfo = venv.reset(seed=0)
    size = mask_size(env.action_space)
    for _ in range(3):
        mask = env.get_wrapper_attr("action_masks")()
        assert mask.dtype == bool and mask.shape == (size,) and mask.any()
        np.testing.assert_array_equal(info["action_mask"], mask)
        vmask = venv.action_masks()
        assert vmask.shape == (3, size) and vinfo["_action_mask"].all()
        np.testing.assert_array_equal(vinfo["action_mask"], vmask)
        np.testing.assert_array_equal(vmask[0], mask)  # sub-env 0 takes the same actions as the single env
        action = _allowed_action(env.action_space, mask)
        _, _, done, _, info = env.step(action)
        _, _, vdone, _, vinfo = venv.step(np.stack([action] * 3))
        assert vdone[0] == done
        if done:
            break


def _allowed_action(space: spaces.Space, mask: np.ndarray):
    """The first allowed value of each dimension of ``space`` under ``mask``."""
    if isinstance(space, spaces.Discrete):
        return int(np.argmax(mask))
    parts = np.split(mask, np.cumsum(space.nvec)[:-1])
    return np.array([int(np.argmax(p)) for p in parts], dtype=np.int64)


def test_box_action_space_has_no_masks():
    env = gym.make("codesign/NASAccelerator-v0")
    _, info = env.reset(seed=0)
    assert "action_mask" not in info
    with pytest.raises(TypeError, match=re.escape("Box(0.0, 1.0, (17,), float32). Use a discrete form")):
        env.get_wrapper_attr("action_masks")()


def test_resource_assignment_joint_mask_is_exact():
    """An action the joint mask allows always leaves a feasible completion (every later layer at
    its cheapest level); one it refuses never does."""
    env = gym.make("codesign/ResourceAssignment-v0", workload="cfx/alexnet", constraint="area:0.2").unwrapped
    p = env.problem
    cheapest = p.constraint_cost.min(axis=1)
    rng = np.random.default_rng(0)
    for episode in range(20):
        env.reset(seed=episode)
        done, used = False, 0.0
        while not done:
            joint = env.joint_action_masks()
            layer = int(env._ep.order[0, env._ep.t[0]])
            rest = cheapest[env._ep.order[0, env._ep.t[0] + 1:]].sum()
            reachable = used + p.constraint_cost[layer] + rest <= p.budget.value
            if reachable.any():
                np.testing.assert_array_equal(joint, reachable)
            else:
                assert joint.all()  # nothing fits: every action allowed, the episode cannot be feasible
            allowed = np.flatnonzero(joint)
            flat = int(rng.choice(allowed))
            used += p.constraint_cost[layer, flat]
            _, _, done, _, info = env.step(np.array(p.split_action(flat)))
        assert info["feasible"]
        np.testing.assert_array_equal(env.action_masks(), dimension_masks(env.joint_action_masks()[None, :], [12, 12])[0])


def test_batch_size_power_limit_joint_mask_is_the_measured_grid():
    env = gym.make("codesign/BatchSizePowerLimit-v0").unwrapped
    env.reset(seed=0)
    np.testing.assert_array_equal(env.joint_action_masks(), env.problem.trace.measured.reshape(-1))
    jit = gym.make("codesign/BatchSizePowerLimit-v0", power_limit="jit").unwrapped
    jit.reset(seed=0)
    assert jit.joint_action_masks() is None and jit.action_masks().all() and jit.action_masks().shape == (jit.problem.num_batch_sizes,)


@pytest.mark.parametrize("sram_kib", [256.0, 64.0])
def test_patch_inference_joint_mask_is_the_feasible_designs(sram_kib):
    env = gym.make("codesign/PatchInference-v0", sram_kib=sram_kib).unwrapped
    env.reset(seed=0)
    ev = env.problem.evaluate(env.problem.all_designs())
    expected = ev.feasible if ev.feasible.any() else np.ones_like(ev.feasible)
    np.testing.assert_array_equal(env.joint_action_masks(), expected)
    np.testing.assert_array_equal(env.action_masks(), dimension_masks(expected[None, :], env.problem.space.nvec)[0])
