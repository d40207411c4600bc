"""Contract and semantics tests of codesign/ResourceAssignment-v0 (single and vector env)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import codesign_gym.envs  # noqa: F401  (registers the ids)
from codesign_gym.costmodels.workloads import get_workload
from codesign_gym.envs.resource_assignment import (
    ResourceAssignmentEnv,
    ResourceAssignmentProblem,
    ResourceAssignmentVectorEnv,
)

ENV_ID = "codesign/ResourceAssignment-v0"
WORKLOAD = "cfx/alexnet"  # 5 layers: fast


@pytest.fixture(scope="module")
def problem() -> ResourceAssignmentProblem:
    return ResourceAssignmentProblem(workload="cfx/mobilenet_v2", dataflow="dla", objective="latency", constraint="area:0.5")


@pytest.mark.parametrize("mask_in_obs", [False, True])
def test_single_env_passes_gymnasium_checker(mask_in_obs):
    env = gym.make(ENV_ID, workload=WORKLOAD, action_mask_in_obs=mask_in_obs, shuffle_layers=True).unwrapped
    gym_check_env(env, skip_render_check=True)


def test_single_env_passes_sb3_checker():
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    sb3_check_env(ResourceAssignmentEnv(workload=WORKLOAD), warn=True)


def test_episode_return_is_negative_normalised_objective(problem):
    env = ResourceAssignmentEnv(problem=problem)
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    total, info, done = 0.0, {}, False
    while not done:
        # the cheapest-area action always keeps the budget: pe level 0, buffer level 0
        _, r, done, _, info = env.step(np.array([0, rng.integers(0, 2)]))
        total += r
    assert info["feasible"] and info["layers_done"] == problem.num_layers
    assert total == pytest.approx(-info["objective"] / problem.objective_norm, rel=1e-12)
    assert total <= -1.0 + 1e-12  # the normaliser is the unconstrained lower bound


def test_episode_matches_batched_design_scoring(problem):
    env = ResourceAssignmentEnv(problem=problem, shuffle_layers=True)
    env.reset(seed=3)
    rng = np.random.default_rng(3)
    done, info = False, {}
    while not done:
        mask = info.get("action_mask", np.ones(problem.num_pe_levels * problem.num_buffer_levels, bool))
        a = rng.choice(np.flatnonzero(mask))
        _, _, done, _, info = env.step(np.array(divmod(int(a), problem.num_buffer_levels)))
    pe_idx = np.searchsorted(problem.table.pe_levels, info["design_pe"])[None, :]
    buf_idx = np.searchsorted(problem.table.buffer_levels, info["design_buffer"])[None, :]
    scored = problem.evaluate_designs(pe_idx, buf_idx)
    assert scored["objective"][0] == pytest.approx(info["objective"], rel=1e-12)
    assert bool(scored["feasible"][0]) == info["feasible"]


def test_following_the_mask_always_stays_within_budget(problem):
    venv = ResourceAssignmentVectorEnv(num_envs=64, problem=problem, shuffle_layers=True)
    _, info = venv.reset(seed=5)
    rng = np.random.default_rng(5)
    B = problem.num_buffer_levels
    finished = 0
    for _ in range(problem.num_layers):
        mask = info["action_mask"]
        flat = np.array([rng.choice(np.flatnonzero(m)) for m in mask])
        _, _, term, _, info = venv.step(np.stack([flat // B, flat % B], axis=1))
        assert info["feasible"].all()
        finished += int(term.sum())
    assert finished == 64


def test_exceeding_the_budget_ends_the_episode_with_a_penalty(problem):
    env = ResourceAssignmentEnv(problem=problem)
    env.reset(seed=0)
    top = np.array([problem.num_pe_levels - 1, problem.num_buffer_levels - 1])
    total, steps, done, info = 0.0, 0, False, {}
    while not done:
        _, r, done, _, info = env.step(top)
        total += r
        steps += 1
    assert steps < problem.num_layers and not info["feasible"]
    # worse than any feasible episode: below the return of the slowest possible design
    assert total < -problem.worst_objective / problem.objective_norm


def test_vector_env_autoreset_next_step(problem):
    n = 3
    venv = ResourceAssignmentVectorEnv(num_envs=n, problem=problem)
    obs0, _ = venv.reset(seed=11)
    act = np.zeros((n, 2), dtype=np.int64)
    for _ in range(problem.num_layers - 1):
        _, _, term, _, _ = venv.step(act)
        assert not term.any()
    _, rew, term, trunc, _ = venv.step(act)
    assert term.all() and not trunc.any() and (rew < 0).all()
    obs, rew, term, trunc, info = venv.step(np.ones((n, 2), dtype=np.int64))  # ignored: reset step
    np.testing.assert_array_equal(obs, obs0)
    assert (rew == 0).all() and not term.any() and not info["_layers_done"].any()
    _, rew, _, _, info = venv.step(act)
    assert (info["layers_done"] == 1).all() and (rew < 0).all()


def test_vector_and_single_env_agree(problem):
    n = 4
    venv = ResourceAssignmentVectorEnv(num_envs=n, problem=problem)
    venv.reset(seed=2)
    singles = [ResourceAssignmentEnv(problem=problem) for _ in range(n)]
    for e in singles:
        e.reset(seed=2)
    rng = np.random.default_rng(2)
    for _ in range(problem.num_layers):
        act = np.stack([rng.integers(0, 4, n), rng.integers(0, 12, n)], axis=1)
        obs, rew, term, _, _ = venv.step(act)
        for i, e in enumerate(singles):
            if e._started:
                o, r, t, _, _ = e.step(act[i])
                np.testing.assert_allclose(obs[i], o) if not t else None
                assert r == pytest.approx(rew[i], rel=1e-12) and t == term[i]


def test_seeding_is_exact_with_shuffled_layers(problem):
    def rollout(seed):
        venv = ResourceAssignmentVectorEnv(num_envs=8, problem=problem, shuffle_layers=True)
        obs, _ = venv.reset(seed=seed)
        venv.action_space.seed(seed)
        trace = [obs]
        for _ in range(2 * problem.num_layers):
            obs, rew, *_ = venv.step(venv.action_space.sample())
            trace += [obs, rew]
        return trace

    a, b, c = rollout(7), rollout(7), rollout(8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_dataflow_spellings_are_equivalent():
    a = ResourceAssignmentProblem(workload=WORKLOAD, dataflow="shi")
    b = ResourceAssignmentProblem(workload=WORKLOAD, dataflow="cfx_shi")
    np.testing.assert_array_equal(a.latency, b.latency)
    assert a.budget == b.budget


@pytest.mark.parametrize("objective", ["energy", "edp"])
def test_other_objectives_return_negative_normalised_objective(objective):
    p = ResourceAssignmentProblem(workload=WORKLOAD, objective=objective, constraint="power", constraint_ratio=1.0)
    env = ResourceAssignmentEnv(problem=p)
    env.reset(seed=0)
    total, done, info = 0.0, False, {}
    while not done:
        _, r, done, _, info = env.step(np.array([3, 3]))
        total += r
    assert info["feasible"]
    assert total == pytest.approx(-info["objective"] / p.objective_norm, rel=1e-12)


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(workload="no_such_net"), "no_such_net"),
        (dict(workload=WORKLOAD, dataflow="zigzag"), "zigzag"),
        (dict(workload=WORKLOAD, objective="speed"), "speed"),
        (dict(workload=WORKLOAD, constraint="area", constraint_ratio=1.5), "1.5"),
        (dict(workload=WORKLOAD, constraint="area:0"), "ratio"),
        (dict(workload=WORKLOAD, constraint="volume"), "volume"),
    ],
)
def test_bad_options_raise_clear_errors(options, match):
    with pytest.raises(ValueError, match=match):
        ResourceAssignmentProblem(**options)


def test_empty_layer_table_is_rejected():
    table = get_workload(WORKLOAD)
    with pytest.raises(ValueError, match="empty|no layers"):
        ResourceAssignmentProblem(workload=table.select([]))


@pytest.mark.parametrize("action", [[12, 0], [0, -1], [1.5, 2], [1, 2, 3]])
def test_action_outside_space_is_rejected(action):
    env = ResourceAssignmentEnv(workload=WORKLOAD)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside the action space"):
        env.step(np.array(action))
