"""Contract and semantics tests of codesign/EarlyExitDVFS-v0 (single and native vector env)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import codesign_gym.envs  # noqa: F401  (registers the ids)
from codesign_gym.envs.early_exit_dvfs import EarlyExitDVFSEnv, EarlyExitDVFSProblem

ENV_ID = "codesign/EarlyExitDVFS-v0"


@pytest.fixture(scope="module")
def problem() -> EarlyExitDVFSProblem:
    return EarlyExitDVFSProblem()


@pytest.mark.parametrize("options", [{}, {"mode": "two_level"}, {"policy": "oracle", "power_mode": "MODE_15W"}])
def test_single_env_passes_gymnasium_and_sb3_checkers(options):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    gym_check_env(gym.make(ENV_ID, **options).unwrapped, skip_render_check=True)
    sb3_check_env(EarlyExitDVFSEnv(**options), warn=True)


def test_step_reports_the_cost_model_and_reward(problem):
    env = EarlyExitDVFSEnv(problem=problem)
    env.reset(seed=0)
    E = problem.max_exits
    action = np.array([0] + [1] * E + [8, 13, 28, 8])  # a0, every exit, threshold 0.8, highest levels
    _, reward, terminated, truncated, info = env.step(action)
    r = problem.space.evaluate([0], np.arange(E)[None, :] < 12, "threshold", 0.8)
    assert terminated and not truncated and info["backbone"] == "a0" and info["exits"] == list(range(1, 13))
    assert info["energy_mj"] == pytest.approx(r.energy_mj[0]) and info["accuracy"] == pytest.approx(r.accuracy[0])
    assert info["exit_model"] == "threshold (modelled)" and info["exit_share"].shape == (E + 1,)
    assert reward == pytest.approx(info["accuracy"] / 100 - info["energy_mj"] / problem.energy_ref_mj)
    assert info["gpu_mhz"] == 1377.0 and info["emc_mhz"] == 2133.0 and info["cpu_mhz"] == 2265.6


def test_two_level_reads_the_backbone_first_then_the_rest(problem):
    env = EarlyExitDVFSEnv(mode="two_level")
    obs, _ = env.reset(seed=0)
    assert obs[0] == 0
    act = np.zeros(env.problem.design_nvec.size, dtype=np.int64)
    act[0] = 2
    obs, reward, terminated, _, info = env.step(act)
    assert not terminated and reward == 0 and obs[0] == 1 and obs[1 + 2] == 1 and info["backbone"] == "a2"
    act[0] = 0  # ignored at the second step
    _, reward, terminated, _, info = env.step(act)
    assert terminated and info["backbone"] == "a2" and reward != 0


def test_constrained_objective_ranks_infeasible_below_feasible():
    p = EarlyExitDVFSProblem(objective="constrained", policy="oracle", accuracy_target=86.0, deadline_ms=6.0)
    rng = np.random.default_rng(0)
    designs = rng.integers(0, p.design_nvec, size=(400, p.design_nvec.size))
    designs[0] = [1] + [0] * p.max_exits + [13, 28, 8]  # a1 static at the highest levels: 86.5%, ~6.2 ms
    designs[1] = [0] + [1] * p.max_exits + [13, 28, 8]  # a0 with every exit: 89.95%, ~3.9 ms
    m = p.evaluate_designs(designs)
    ok = (m["accuracy"] >= 86.0) & (m["latency_ms"] <= 6.0)
    np.testing.assert_array_equal(m["feasible"], ok)
    assert ok.any() and (~ok).any()
    assert m["objective"][~ok].min() > m["objective"][ok].max()
    assert (m["energy_mj"] <= p.energy_max_mj + 1e-9).all()


def test_power_mode_limits_the_levels():
    p = EarlyExitDVFSProblem(power_mode="MODE_10W")
    assert p.levels["gpu"][-1] == 522.75 and p.tpc_fraction == 0.5 and p.levels["emc"][-1] == 1065.6


@pytest.mark.parametrize(
    "options, match",
    [(dict(policy="greedy"), "'greedy'"), (dict(objective="latency"), "'latency'"), (dict(mode="three_level"), "'three_level'"),
     (dict(thresholds=(0.5, 1.2)), "1.2"), (dict(objective="constrained"), "needs accuracy_target"),
     (dict(accuracy_target=120.0), "accuracy_target=120.0"), (dict(deadline_ms=-1.0), "deadline_ms=-1.0"),
     (dict(power_mode="TURBO"), "'TURBO'"), (dict(backbones=("a9",)), "'a9'"), (dict(dataset="mnist"), "'mnist'"),
     (dict(accuracy_weight=0.0, energy_weight=0.0), "both 0")],
)
def test_bad_options_raise_clear_errors(options, match):
    with pytest.raises(ValueError, match=match):
        EarlyExitDVFSProblem(**options)


def test_actions_outside_the_space_are_rejected(problem):
    env = EarlyExitDVFSEnv(problem=problem)
    env.reset(seed=0)
    bad = np.zeros(problem.design_nvec.size, dtype=np.int64)
    bad[0] = problem.num_backbones
    with pytest.raises(ValueError, match="outside the action space"):
        env.step(bad)
    with pytest.raises(ValueError, match="outside the action space"):
        env.step(np.zeros(3, dtype=np.int64))
