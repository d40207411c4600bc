"""The no-kwargs Discrete variants, the flattening wrappers, the sequential mode and SAME_STEP autoreset on the real envs."""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

import codesign_gym.envs  # noqa: F401
from codesign_gym.envs import ALL_IDS, ENV_IDS, VARIANT_IDS, problem_class
from codesign_gym.envs.early_exit_dvfs import EarlyExitDVFSProblem
from codesign_gym.envs.patch_inference import PatchInferenceEnv
from codesign_gym.envs.variants import VARIANTS, flattened_env
from codesign_gym.wrappers import FlattenMultiDiscrete, VectorFlattenMultiDiscrete

REQUIRED = {"codesign/ResourceAssignment-Discrete-v0", "codesign/BatchSizePowerLimit-Discrete-v0", "codesign/PatchInference-Discrete-v0"}


def test_every_base_env_has_a_discrete_variant():
    assert REQUIRED <= set(VARIANT_IDS)
    assert {v.base for v in VARIANTS} == set(ENV_IDS) and ALL_IDS == ENV_IDS + VARIANT_IDS


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.id)
def test_variant_spaces_and_problem(variant):
    env = gym.make(variant.id)
    venv = gym.make_vec(variant.id, num_envs=2, vectorization_mode="vector_entry_point")
    assert isinstance(env.action_space, spaces.Discrete) and isinstance(venv.single_action_space, spaces.Discrete)
    assert isinstance(env.observation_space, spaces.Box) and venv.single_observation_space == env.observation_space
    assert problem_class(variant.id) is problem_class(variant.base)
    assert type(env.unwrapped.problem) is problem_class(variant.base)
    assert gym.make(f"codesign_gym.envs:{variant.id}").action_space == env.action_space  # the form RLlib and CleanRL pass


def test_flattened_actions_step_like_the_base_env():
    base = gym.make("codesign/ResourceAssignment-v0", workload="cfx/alexnet", shuffle_layers=True)
    flat = gym.make("codesign/ResourceAssignment-Discrete-v0", workload="cfx/alexnet", shuffle_layers=True)
    ob, _ = base.reset(seed=3)
    of, info = flat.reset(seed=3)
    np.testing.assert_array_equal(ob, of)
    rng = np.random.default_rng(0)
    done = False
    while not done:
        joint = flat.get_wrapper_attr("action_masks")()
        np.testing.assert_array_equal(joint, info["action_mask"])
        np.testing.assert_array_equal(joint, base.unwrapped.joint_action_masks())
        a = int(rng.choice(np.flatnonzero(joint)))
        ob, rb, done, _, _ = base.step(np.array(divmod(a, 12)))
        of, rf, done_f, _, info = flat.step(a)
        np.testing.assert_array_equal(ob, of)
        assert rb == rf and done == done_f
    assert info["feasible"]


def test_vector_flatten_matches_the_single_wrapper():
    venv = gym.make_vec("codesign/PatchInference-Discrete-v0", num_envs=4, vectorization_mode="vector_entry_point", autoreset_mode="same_step")
    env = gym.make("codesign/PatchInference-Discrete-v0")
    venv.reset(seed=0)
    env.reset(seed=0)
    actions = np.array([0, 17, 151, 80])
    _, reward, terminated, _, info = venv.step(actions)
    assert terminated.all() and info["_final_info"].all()
    for i, a in enumerate(actions):
        _, r, _, _, single = env.step(int(a))
        env.reset()
        assert reward[i] == r
        np.testing.assert_array_equal(info["final_info"]["design"][i], single["design"])
    np.testing.assert_array_equal(venv.action_masks()[0], env.get_wrapper_attr("action_masks")())


def test_flat_action_outside_the_space_is_refused():
    env = gym.make("codesign/ResourceAssignment-Discrete-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=re.escape("action 144 is outside the action space; expected an integer in 0..143")):
        env.step(144)
    venv = gym.make_vec("codesign/ResourceAssignment-Discrete-v0", num_envs=2, vectorization_mode="vector_entry_point")
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=re.escape("action -1 of sub-env 1 is outside the action space; expected an integer in 0..143")):
        venv.step(np.array([0, -1]))


def test_spaces_that_cannot_be_flattened_are_refused():
    with pytest.raises(ValueError, match=re.escape("joint actions, more than max_actions=65,536; expected a space small enough")):
        FlattenMultiDiscrete(gym.make("codesign/EarlyExitDVFS-v0"))
    with pytest.raises(TypeError, match=re.escape("cannot be flattened; expected a one-dimensional MultiDiscrete")):
        FlattenMultiDiscrete(gym.make("codesign/NASAccelerator-v0"))
    with pytest.raises(TypeError, match=re.escape("cannot be flattened")):
        VectorFlattenMultiDiscrete(gym.make_vec("codesign/ResourceAssignment-Discrete-v0", num_envs=2, vectorization_mode="vector_entry_point"))


def test_flattening_carries_a_dict_observation_mask():
    env = FlattenMultiDiscrete(gym.make("codesign/ResourceAssignment-v0", action_mask_in_obs=True))
    obs, _ = env.reset(seed=0)
    assert env.observation_space["action_mask"] == spaces.MultiBinary(144) and obs["action_mask"].shape == (144,)
    np.testing.assert_array_equal(obs["action_mask"].astype(bool), env.action_masks())


def test_flattening_an_env_without_masks_allows_everything():
    roomy = FlattenMultiDiscrete(PatchInferenceEnv(sram_kib=4096.0))  # every design fits
    roomy.reset(seed=0)
    assert roomy.action_masks().shape == (152,) and roomy.action_masks().all()

    class NoMasks(gym.Env):
        action_space = spaces.MultiDiscrete([2, 3])
        observation_space = spaces.Box(0.0, 1.0, shape=(1,))

        def reset(self, *, seed=None, options=None):
            return np.zeros(1, dtype=np.float32), {}

        def step(self, action):
            return np.zeros(1, dtype=np.float32), float(action[0] * 3 + action[1]), True, False, {}

    wrapped = FlattenMultiDiscrete(NoMasks())
    wrapped.reset()
    assert wrapped.action_masks().all() and wrapped.step(5)[1] == 5.0


def test_early_exit_sequential_mode_prices_the_design_it_spells():
    problem = EarlyExitDVFSProblem(mode="sequential")
    env = gym.make("codesign/EarlyExitDVFS-Discrete-v0")
    obs, _ = env.reset(seed=0)
    nvec, K = problem.space.nvec, int(problem.space.nvec.max())
    assert env.action_space == spaces.Discrete(K) and obs.shape == (2 * nvec.size,) and obs[0] == 1.0
    rng = np.random.default_rng(1)
    actions = rng.integers(0, K, size=nvec.size)
    for d, a in enumerate(actions):
        obs, reward, done, _, info = env.step(int(a))
        assert done == (d == nvec.size - 1)
        if not done:
            assert info["entry"] == d + 1 and reward == 0.0
    design = actions * nvec // K
    np.testing.assert_array_equal(info["design"], design)
    ev = problem.evaluate(design[None, :])
    assert reward == -ev.fitness[0] and info["fitness"] == ev.fitness[0]


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_same_step_wastes_no_steps(env_id):
    """Under SAME_STEP every step is a real step: in a one-step env every step ends every episode;
    in longer ones a sub-env's next observation after its episode ends is a fresh episode's."""
    kwargs = {"workload": "cfx/alexnet"} if "ResourceAssignment" in env_id else {}
    same = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point", autoreset_mode="same_step", **kwargs)
    nxt = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point", **kwargs)
    assert same.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP and nxt.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    first, _ = same.reset(seed=0)
    nxt.reset(seed=0)
    same.action_space.seed(0)
    ended_same = ended_next = 0
    for _ in range(8):
        actions = same.action_space.sample()
        obs, _, term, _, info = same.step(actions)
        _, _, term_n, _, _ = nxt.step(actions)
        ended_same, ended_next = ended_same + int(term.sum()), ended_next + int(term_n.sum())
        if term.any():
            assert set(info["final_info"]) >= {"design", "objective", "fitness", "_design"}
            np.testing.assert_array_equal(info["final_info"]["_design"], term)
            np.testing.assert_array_equal(info["_final_obs"], term)
    assert ended_same >= ended_next
    if "PatchInference" in env_id:  # one step per episode: NEXT_STEP spends every other step on resets
        assert ended_same == 8 * 3 and ended_next == 4 * 3


@pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version")  # a flattened variant is a wrapper by design
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.id)
def test_variants_pass_gymnasiums_and_sb3s_env_checkers(variant):
    from gymnasium.utils.env_checker import check_env as gym_check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    gym_check_env(flattened_env(variant.base) if variant.flattened else gym.make(variant.id).unwrapped, skip_render_check=True)
    sb3_check_env(gym.make(variant.id), warn=True)
