"""Contract and semantics tests of codesign/EarlyExitDVFS-v0: the problem (evaluate, to_config,
reference, options), the single env and the native vector env."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import codesign_gym.envs  # noqa: F401  (registers the ids)
from codesign_gym.envs.early_exit_dvfs import ACCURACY, ENERGY, SCALARIZED, EarlyExitDVFSEnv, EarlyExitDVFSProblem, EarlyExitDVFSVectorEnv
from codesign_gym.envs.episode_info import FINAL_INFO_KEYS

ENV_ID = "codesign/EarlyExitDVFS-v0"
TOP = [13, 28, 8]  # highest GPU / CPU / EMC level indices without a power mode


@pytest.fixture(scope="module")
def problem() -> EarlyExitDVFSProblem:
    return EarlyExitDVFSProblem()


@pytest.fixture(scope="module")
def constrained() -> EarlyExitDVFSProblem:
    return EarlyExitDVFSProblem(objective="constrained", policy="oracle", accuracy_target=86.0, deadline_ms=6.0)


@pytest.mark.parametrize("options", [{}, {"mode": "two_level"}, {"policy": "oracle", "power_mode": "MODE_15W"}])
def test_single_env_passes_gymnasium_and_sb3_checkers(options):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    gym_check_env(gym.make(ENV_ID, **options).unwrapped, skip_render_check=True)
    sb3_check_env(EarlyExitDVFSEnv(**options), warn=True)


def test_problem_declares_its_space_objectives_label_and_options(problem, constrained):
    E = problem.max_exits
    assert problem.space.names == ("backbone", *(f"exit{j + 1}" for j in range(E)), "threshold", "gpu", "cpu", "emc")
    assert problem.space.nvec.tolist() == [6] + [2] * E + [11, 14, 29, 9]
    assert problem.objectives == (ENERGY, ACCURACY) and problem.multi_objective
    assert problem.objective == SCALARIZED and constrained.objective == ENERGY
    assert problem.label == "cifar-100|current|threshold" and constrained.label == "cifar-100|current|oracle"
    json.dumps(constrained.options)
    rebuilt = EarlyExitDVFSProblem(**constrained.options)
    designs = constrained.space.sample(np.random.default_rng(4), 6)
    np.testing.assert_array_equal(rebuilt.evaluate(designs).fitness, constrained.evaluate(designs).fitness)


def test_fitness_is_the_old_score_seeded(problem, constrained):
    """The fitness methods minimise, seeded (values of the per-rail cost model, module scope)."""
    designs = np.random.default_rng(0).integers(0, problem.design_nvec, size=(5, problem.design_nvec.size))
    np.testing.assert_allclose(problem.evaluate(designs).fitness,
                               [0.1978990456529648, 1.1881965683628042, -0.36585096431898184, 0.02829765108489113, -0.2307038806628381], rtol=1e-12)
    designs = np.random.default_rng(0).integers(0, constrained.design_nvec, size=(5, constrained.design_nvec.size))
    designs[0] = [0] + [1] * constrained.max_exits + TOP
    ev = constrained.evaluate(designs)
    np.testing.assert_allclose(ev.fitness, [0.3544038813727868, 13.011000973891203, 0.45884967037691693, 17.417389583263414, 13.061619512570273],
                               rtol=1e-12)
    assert ev.feasible.tolist() == [True, False, True, False, False]


def test_evaluate_metrics_have_units_and_shapes(problem):
    n, E = 5, problem.max_exits
    ev = problem.evaluate(problem.space.sample(np.random.default_rng(1), n))
    assert set(ev.metrics) == set(ev.units)
    assert ev.metrics["exit_share"].shape == (n, E + 1) and ev.metrics["attached"].shape == (n, E)
    np.testing.assert_allclose(ev.metrics["exit_share"].sum(axis=1), 1.0)
    assert ev.units["energy_mj"] == "mJ" and ev.units["accuracy"] == "%" and ev.units["gpu_mhz"] == "MHz"
    np.testing.assert_allclose(ev.metrics["energy_ratio"], ev.metrics["energy_mj"] / problem.energy_ref_mj)
    np.testing.assert_array_equal(ev.objective, ev.fitness)
    assert ev.feasible.all() and (ev.overshoot == 0).all()
    oracle = EarlyExitDVFSProblem(policy="oracle")
    assert np.isnan(oracle.evaluate(oracle.space.sample(np.random.default_rng(1), 2)).metrics["threshold"]).all()


def test_to_config_and_reference(problem):
    E = problem.max_exits
    design = np.array([0] + [1] * E + [8] + TOP)
    config = problem.to_config(design)
    assert config == {"backbone": "a0", "exits": list(range(1, 13)), "threshold": 0.8, "gpu_mhz": 1377.0, "cpu_mhz": 2265.6,
                      "emc_mhz": 2133.0}
    ref = problem.reference()
    assert ref.design.tolist() == [5] + [0] * E + [0] + TOP and "a5" in ref.label
    ev = problem.evaluate(ref.design[None, :])
    assert ev.metrics["energy_mj"][0] == pytest.approx(problem.energy_ref_mj, rel=1e-12)
    assert ref.objective == pytest.approx(1.0 - ev.metrics["accuracy"][0] / 100)


def test_step_reports_the_cost_model_and_reward(problem):
    env = EarlyExitDVFSEnv(problem=problem)
    env.reset(seed=0)
    E = problem.max_exits
    action = np.array([0] + [1] * E + [8] + TOP)  # a0, every exit, threshold 0.8, highest levels
    _, reward, terminated, truncated, info = env.step(action)
    r = problem.xavier.evaluate([0], np.arange(E)[None, :] < 12, "threshold", 0.8)
    assert terminated and not truncated and set(FINAL_INFO_KEYS) <= set(info)
    assert info["backbone"] == 0 and info["config"]["backbone"] == "a0" and info["config"]["exits"] == list(range(1, 13))
    assert info["energy_mj"] == pytest.approx(r.energy_mj[0]) and info["accuracy"] == pytest.approx(r.accuracy[0])
    assert info["exit_share"].shape == (E + 1,) and info["attached"].shape == (E,)
    assert reward == pytest.approx(info["accuracy"] / 100 - info["energy_mj"] / problem.energy_ref_mj) == -info["fitness"]
    assert info["gpu_mhz"] == 1377.0 and info["emc_mhz"] == 2133.0 and info["cpu_mhz"] == 2265.6
    np.testing.assert_array_equal(info["design"], action)


def test_two_level_reads_the_backbone_first_then_the_rest():
    env = EarlyExitDVFSEnv(mode="two_level")
    obs, _ = env.reset(seed=0)
    assert obs[0] == 0
    act = np.zeros(env.problem.design_nvec.size, dtype=np.int64)
    act[0] = 2
    obs, reward, terminated, _, info = env.step(act)
    assert not terminated and reward == 0 and obs[0] == 1 and obs[1 + 2] == 1 and info["backbone"] == 2
    act[0] = 0  # ignored at the second step
    _, reward, terminated, _, info = env.step(act)
    assert terminated and info["backbone"] == 2 and info["config"]["backbone"] == "a2" and info["design"][0] == 2 and reward != 0


def test_vector_env_final_info_matches_the_single_env(problem):
    designs = problem.space.sample(np.random.default_rng(2), 3)
    venv = EarlyExitDVFSVectorEnv(num_envs=3, problem=problem)
    venv.reset(seed=0)
    _, reward, terminated, _, info = venv.step(designs)
    assert terminated.all() and all(info["_" + k].all() for k in FINAL_INFO_KEYS)
    for i in range(3):
        env = EarlyExitDVFSEnv(problem=problem)
        env.reset(seed=0)
        _, r, _, _, single = env.step(designs[i])
        assert r == reward[i] and single["config"] == info["config"][i] and single["objective"] == info["objective"][i]
        np.testing.assert_array_equal(single["exit_share"], info["exit_share"][i])


def test_constrained_objective_ranks_infeasible_below_feasible(constrained):
    p = constrained
    designs = np.random.default_rng(0).integers(0, p.design_nvec, size=(400, p.design_nvec.size))
    designs[0] = [1] + [0] * p.max_exits + TOP  # a1 static at the highest levels: 86.5%, ~6.2 ms
    designs[1] = [0] + [1] * p.max_exits + TOP  # a0 with every exit: 89.95%, ~3.9 ms
    ev = p.evaluate(designs)
    m = ev.metrics
    ok = (m["accuracy"] >= 86.0) & (m["latency_ms"] <= 6.0)
    np.testing.assert_array_equal(ev.feasible, ok)
    assert ok.any() and (~ok).any()
    assert ev.fitness[~ok].min() > ev.fitness[ok].max() and (ev.overshoot[~ok] > 0).all() and (ev.overshoot[ok] == 0).all()
    np.testing.assert_array_equal(ev.objective, m["energy_mj"])
    assert (m["energy_mj"] <= p.energy_max_mj + 1e-9).all()


def test_energy_scope_option(problem):
    """``energy_scope``: every module rail (default, comparable with HADAS) or the GPU rail alone;
    same latency and accuracy, the label and options carry a non-default scope."""
    gpu = EarlyExitDVFSProblem(energy_scope="gpu_rail")
    assert problem.energy_scope == "module" and problem.options["energy_scope"] == "module"
    assert gpu.label == "cifar-100|current|threshold|gpu_rail" and EarlyExitDVFSProblem(**gpu.options).energy_scope == "gpu_rail"
    designs = problem.space.sample(np.random.default_rng(1), 8)
    a, b = problem.evaluate(designs).metrics, gpu.evaluate(designs).metrics
    np.testing.assert_allclose(a["latency_ms"], b["latency_ms"]) and np.testing.assert_allclose(a["accuracy"], b["accuracy"])
    assert (b["energy_mj"] < a["energy_mj"]).all() and (b["power_w"] < 20).all() and (a["power_w"] > 10).all()
    env = EarlyExitDVFSEnv(energy_scope="gpu_rail")
    assert env.problem.energy_scope == "gpu_rail"


def test_power_mode_limits_the_levels():
    p = EarlyExitDVFSProblem(power_mode="MODE_10W")
    assert p.levels["gpu"][-1] == 522.75 and p.tpc_fraction == 0.5 and p.levels["emc"][-1] == 1065.6


@pytest.mark.parametrize(
    "options, match",
    [(dict(policy="greedy"), "'greedy'"), (dict(objective="latency"), "'latency'"), (dict(mode="three_level"), "'three_level'"),
     (dict(thresholds=(0.5, 1.2)), "1.2"), (dict(thresholds=()), "non-empty"), (dict(objective="constrained"), "needs accuracy_target"),
     (dict(accuracy_target=120.0), "accuracy_target=120.0"), (dict(deadline_ms=-1.0), "deadline_ms=-1.0"),
     (dict(power_mode="TURBO"), "'TURBO'"), (dict(backbones=("a9",)), "'a9'"), (dict(dataset="mnist"), "'mnist'"),
     (dict(accuracy_weight=0.0, energy_weight=0.0), "both 0"), (dict(energy_weight=-1), "energy_weight=-1"),
     (dict(energy_scope="wall"), "'wall'")],
)
def test_bad_options_raise_clear_errors(options, match):
    with pytest.raises(ValueError, match=match):
        EarlyExitDVFSProblem(**options)


def test_bad_designs_and_actions_are_rejected(problem):
    env = EarlyExitDVFSEnv(problem=problem)
    env.reset(seed=0)
    bad = np.zeros(problem.design_nvec.size, dtype=np.int64)
    bad[0] = problem.num_backbones
    with pytest.raises(ValueError, match="outside the design space"):
        env.step(bad)
    with pytest.raises(ValueError, match="outside the action space"):
        env.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="nvec"):
        problem.evaluate(bad[None, :])
    with pytest.raises(ValueError, match=r"expected integers of shape \(N, 21\)"):
        problem.evaluate(np.zeros((2, 3), dtype=np.int64))
