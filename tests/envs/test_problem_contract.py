"""Every registered environment's Problem follows the one contract (envs/problem.py) and every
env's final ``info`` carries the same keys (envs/episode_info.py)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from codesign_gym.envs import ENV_IDS, problem_class
from codesign_gym.envs.episode_info import FINAL_INFO_KEYS
from codesign_gym.envs.problem import DIRECTIONS, Evaluation, Problem

#: Small options per env so an episode is short (the defaults otherwise).
SMALL = {"codesign/BatchSizePowerLimit-v0": {"recurrences": 2}}


def _problem(env_id: str) -> Problem:
    return problem_class(env_id)(**SMALL.get(env_id, {}))


@pytest.fixture(scope="module", params=ENV_IDS)
def env_id(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def problem(env_id) -> Problem:
    return _problem(env_id)


def test_problem_declares_space_objective_and_env(env_id, problem):
    assert isinstance(problem, Problem)
    assert problem.env_id == env_id
    assert len(problem.space.names) == problem.space.size == problem.design_nvec.size
    assert problem.objective.direction in DIRECTIONS and problem.objective.unit and problem.objective.name
    assert problem.label and isinstance(problem.options, dict)
    if problem.multi_objective:
        names = [o.name for o in problem.objectives]
        assert len(set(names)) == len(names) and all(o.direction in DIRECTIONS for o in problem.objectives)


def test_evaluate_gives_shaped_scores_and_metrics_with_units(problem):
    designs = problem.space.sample(np.random.default_rng(0), 7)
    ev = problem.evaluate(designs)
    assert isinstance(ev, Evaluation) and len(ev) == 7
    for arr in (ev.fitness, ev.objective, ev.feasible, ev.overshoot):
        assert np.asarray(arr).shape == (7,)
    assert np.all(np.asarray(ev.overshoot)[np.asarray(ev.feasible)] == 0)
    assert ev.metrics, "a problem reports its raw numbers as metrics"
    for key, value in ev.metrics.items():
        assert isinstance(value, np.ndarray) and value.shape[0] == 7, key
        assert isinstance(ev.units[key], str) and ev.units[key], key
    # the same designs price the same (deterministic, batch-independent)
    again = problem.evaluate(designs[3:5])
    np.testing.assert_array_equal(np.asarray(again.fitness), np.asarray(ev.fitness)[3:5])


def test_infeasible_designs_rank_below_feasible_ones(problem):
    ev = problem.evaluate(problem.space.sample(np.random.default_rng(1), 64))
    feasible, fitness = np.asarray(ev.feasible), np.asarray(ev.fitness)
    if feasible.any() and (~feasible).any():
        assert fitness[feasible].max() < fitness[~feasible].min()


def test_to_config_is_json_and_known_points_fit_the_space(problem):
    import json

    design = problem.space.sample(np.random.default_rng(2), 1)[0]
    json.dumps(problem.to_config(design))
    for point in (problem.reference(), problem.optimum()):
        if point is not None and point.design is not None:
            assert problem.space.check(np.asarray(point.design)[None, :]).shape == (1, problem.space.size)


def test_bad_designs_are_refused_with_the_space_named(problem):
    bad = np.array([problem.design_nvec]) if problem.space.size else np.zeros((1, 1))
    with pytest.raises(ValueError, match="nvec"):
        problem.evaluate(bad.astype(np.int64))


def _final_info_single(env_id: str) -> dict:
    env = gym.make(env_id, **SMALL.get(env_id, {}))
    env.action_space.seed(0)
    env.reset(seed=0)
    for _ in range(100_000):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        if terminated or truncated:
            return info
    raise AssertionError(f"{env_id}: no episode end within 100000 random steps")


def test_final_info_of_single_env_has_the_common_keys(env_id, problem):
    info = _final_info_single(env_id)
    missing = set(FINAL_INFO_KEYS) - set(info)
    assert not missing, f"{env_id} final info lacks {missing}"
    metric_keys = set(problem.evaluate(problem.space.sample(np.random.default_rng(0), 1)).metrics)
    assert metric_keys <= set(info), f"{env_id} final info lacks metrics {metric_keys - set(info)}"
    assert np.asarray(info["design"]).shape == (problem.space.size,)
    assert isinstance(info["config"], dict)


def test_final_info_of_vector_env_has_the_common_keys(env_id):
    env = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point", **SMALL.get(env_id, {}))
    env.action_space.seed(0)
    env.reset(seed=0)
    for _ in range(100_000):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        if np.any(terminated | truncated):
            missing = set(FINAL_INFO_KEYS) - set(info)
            assert not missing, f"{env_id} vector final info lacks {missing}"
            assert all(("_" + k) in info for k in FINAL_INFO_KEYS)
            return
    raise AssertionError(f"{env_id}: no episode end within 100000 random steps")
