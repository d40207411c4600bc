"""Contract and semantics tests of codesign/ResourceAssignment-v0 (single and vector env)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import codesign_gym.envs  # noqa: F401  (registers the ids)
from codesign_gym.costmodels.workloads import get_workload
from codesign_gym.envs.episode_info import FINAL_INFO_KEYS
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


def test_episode_matches_batched_design_evaluation(problem):
    env = ResourceAssignmentEnv(problem=problem, shuffle_layers=True)
    env.reset(seed=3)
    rng = np.random.default_rng(3)
    done, info = False, {}
    while not done:
        mask = info.get("action_mask", np.ones(problem.num_pe_levels * problem.num_buffer_levels, bool))
        pe, buffer = problem.split_action(rng.choice(np.flatnonzero(mask)))
        _, _, done, _, info = env.step(np.array([pe, buffer]))
    assert set(FINAL_INFO_KEYS) <= set(info) and "design_pe" not in info
    ev = problem.evaluate(info["design"][None, :])
    assert ev.objective[0] == pytest.approx(info["objective"], rel=1e-12) and info["objective"] == info["latency_cycles"]
    assert bool(ev.feasible[0]) == info["feasible"] and ev.fitness[0] == info["fitness"]
    assert info["config"] == problem.to_config(info["design"])


def test_over_budget_episode_reports_its_design_with_unset_layers_at_level_0(problem):
    env = ResourceAssignmentEnv(problem=problem)
    env.reset(seed=0)
    top = np.array([problem.num_pe_levels - 1, problem.num_buffer_levels - 1])
    done, info = False, {}
    while not done:
        _, _, done, _, info = env.step(top)
    L, k = problem.num_layers, info["layers_done"]
    assert 0 < k < L and not info["feasible"] and info["overshoot"] > 0
    np.testing.assert_array_equal(info["design"][:L], [top[0]] * k + [0] * (L - k))
    np.testing.assert_array_equal(info["design"][L:], [top[1]] * k + [0] * (L - k))
    ev = problem.evaluate(info["design"][None, :])
    assert not ev.feasible[0] and ev.fitness[0] == info["fitness"] and ev.fitness[0] > ev.objective[0] / problem.objective_norm


def test_following_the_mask_always_stays_within_budget(problem):
    venv = ResourceAssignmentVectorEnv(num_envs=64, problem=problem, shuffle_layers=True)
    _, info = venv.reset(seed=5)
    rng = np.random.default_rng(5)
    finished = 0
    for _ in range(problem.num_layers):
        mask = info["action_mask"]
        flat = np.array([rng.choice(np.flatnonzero(m)) for m in mask])
        _, _, term, _, info = venv.step(np.stack(problem.split_action(flat), axis=1))
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


def test_vector_final_info_is_the_problem_evaluation_of_each_ended_episode(problem):
    venv = ResourceAssignmentVectorEnv(num_envs=16, problem=problem, shuffle_layers=True)
    venv.reset(seed=4)
    rng = np.random.default_rng(4)
    ended = 0
    for _ in range(2 * problem.num_layers):
        _, _, term, _, info = venv.step(np.stack([rng.integers(0, 12, 16), rng.integers(0, 12, 16)], axis=1))
        if not term.any():
            assert "design" not in info
            continue
        rows = np.flatnonzero(term)
        assert all(np.array_equal(info["_" + k], term) for k in ("design", "config", "fitness", "overshoot", "area"))
        ev = problem.evaluate(info["design"][rows])
        np.testing.assert_array_equal(info["fitness"][rows], ev.fitness)
        np.testing.assert_array_equal(info["objective"][rows], ev.objective)
        np.testing.assert_array_equal(info["feasible"][rows], ev.feasible)
        np.testing.assert_array_equal(info["latency_cycles"][rows], ev.metrics["latency_cycles"])
        assert info["config"][rows[0]] == problem.to_config(info["design"][rows[0]])
        ended += rows.size
    assert ended >= 16


def test_problem_contract_names_units_label_and_options():
    p = ResourceAssignmentProblem(workload=WORKLOAD, dataflow="shi", objective="energy", constraint="power:0.3")
    L = p.num_layers
    assert p.space.names[:2] == ("pe_0", "pe_1") and p.space.names[L] == "buffer_0" and p.space.size == 2 * L
    assert (p.objective.name, p.objective.unit, p.objective.direction) == ("energy", "pJ", "min")
    assert p.label == "cfx/alexnet|shi|energy|power:0.3"
    assert p.options == {"workload": WORKLOAD, "dataflow": "shi", "objective": "energy", "constraint": "power:0.3"}
    assert ResourceAssignmentProblem(**p.options).label == p.label
    assert ResourceAssignmentProblem(workload=WORKLOAD, constraint="area", constraint_ratio=0.25).label.endswith("|area:0.25")
    ev = p.evaluate(p.space.sample(np.random.default_rng(0), 4))
    assert ev.units["latency_cycles"] == "cycles" and ev.units["edp"] == "cycles*pJ" and ev.units["budget_used"] == ev.units["power"]
    np.testing.assert_array_equal(ev.metrics["budget_used"], ev.metrics["power"])
    np.testing.assert_array_equal(ev.objective, ev.metrics["energy_pj"])


def test_one_grid_indexing_round_trips_and_matches_the_cost_table(problem):
    rng = np.random.default_rng(0)
    designs = problem.space.sample(rng, 50)
    actions = problem.layer_actions(designs)
    np.testing.assert_array_equal(problem.design_of(actions), designs)
    L = problem.num_layers
    layer = np.arange(L)
    table = problem.table.runtime_cycles[layer, designs[:, :L], designs[:, L:]]
    np.testing.assert_array_equal(problem.latency[layer, actions], table)
    np.testing.assert_array_equal(problem.evaluate(designs).metrics["latency_cycles"], table.sum(axis=1))


def test_to_config_and_the_exact_optimum(problem):
    optimum = problem.optimum()
    assert optimum is problem.optimum()  # solved once
    config = problem.to_config(optimum.design)
    assert config["pe"][:5] == [4, 32, 32, 16, 96] and config["buffer"][:5] == [8, 1, 8, 12, 1]
    ev = problem.evaluate(optimum.design[None, :])
    assert ev.feasible[0] and ev.objective[0] == optimum.objective == 20_513_969.0
    rng = np.random.default_rng(0)
    sample = problem.evaluate(problem.space.sample(rng, 20_000))
    assert sample.feasible.any() and sample.objective[sample.feasible].min() >= optimum.objective


@pytest.mark.parametrize("bad", [np.zeros((1, 3), dtype=np.int64), np.full((1, 10), 12), np.zeros((1, 10))])
def test_bad_designs_are_refused(bad):
    with pytest.raises(ValueError, match="expected"):
        ResourceAssignmentProblem(workload=WORKLOAD).evaluate(bad)
