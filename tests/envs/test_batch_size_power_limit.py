"""Contract and semantics tests of codesign/BatchSizePowerLimit-v0 (its Problem, single and vector env)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import codesign_gym.envs  # noqa: F401  (registers the ids)
from codesign_gym.costmodels.zeus import config_statistics, load_trace
from codesign_gym.envs.batch_size_power_limit import (
    BatchSizePowerLimitEnv,
    BatchSizePowerLimitProblem,
    BatchSizePowerLimitVectorEnv,
)
from codesign_gym.envs.episode_info import FINAL_INFO_KEYS

ENV_ID = "codesign/BatchSizePowerLimit-v0"
SMALL = dict(workload="sentiment140", gpu="v100", recurrences=4)


@pytest.mark.parametrize("mode", ["choose", "jit"])
def test_single_env_passes_gymnasium_checker(mode):
    gym_check_env(gym.make(ENV_ID, power_limit=mode, **SMALL).unwrapped, skip_render_check=True)


@pytest.mark.parametrize("mode", ["choose", "jit"])
def test_single_env_passes_sb3_checker(mode):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    sb3_check_env(BatchSizePowerLimitEnv(power_limit=mode, **SMALL), warn=True)


def _grid(problem):
    return np.array([(b, p) for b in range(problem.num_batch_sizes) for p in range(problem.num_power_limits)])


def test_problem_prices_the_expected_recurrence_cost():
    problem = BatchSizePowerLimitProblem(workload="cifar100", gpu="v100", eta=0.3)
    assert problem.evaluation_unit == "recurrence" and problem.space.names == ("batch_size", "power_limit")
    assert problem.objective.name == "cost" and problem.objective.unit == "J" and problem.label == "cifar100|v100|eta=0.3|beta=2"
    stats = config_statistics(load_trace("cifar100", "v100"), 0.3)
    designs = _grid(problem)
    ev = problem.evaluate(designs)
    b, p = designs.T
    np.testing.assert_array_equal(ev.feasible, stats.all_reach[b, p])
    np.testing.assert_allclose(ev.objective[ev.feasible], stats.mean_cost[b, p][ev.feasible], rtol=1e-12)
    np.testing.assert_allclose(ev.fitness[ev.feasible], ev.objective[ev.feasible] / problem.default_cost)
    assert np.isnan(ev.objective[~ev.feasible]).all() and (~ev.feasible).sum() == 14  # 2 batch sizes never reach the target
    assert (ev.overshoot[~ev.feasible] == 1).all() and ev.fitness[~ev.feasible].min() > ev.fitness[ev.feasible].max()
    np.testing.assert_allclose(ev.metrics["eta_j"], stats.eta_j[b, p])
    assert set(ev.units) == set(ev.metrics) and ev.units["tta_s"] == "s"
    ref, opt = problem.reference(), problem.optimum()
    assert ref.objective == problem.default_cost and tuple(ref.design) == problem.default
    assert problem.evaluate(ref.design[None]).fitness[0] == 1.0
    # the Oracle is the exact optimum: the lowest fitness of the whole grid
    assert tuple(opt.design) == problem.oracle == tuple(designs[np.argmin(ev.fitness)]) and opt.objective == np.nanmin(ev.objective)
    assert problem.to_config(opt.design) == {"batch_size": int(problem.trace.batch_sizes[problem.oracle[0]]),
                                             "power_limit_w": int(problem.trace.power_limits[problem.oracle[1]])}
    assert BatchSizePowerLimitProblem(**problem.options).label == problem.label


def test_partial_reach_and_unmeasured_configurations_are_infeasible():
    partial = BatchSizePowerLimitProblem(workload="movielens", gpu="v100")
    ev = partial.evaluate(_grid(partial))
    frac = ev.metrics["reach_fraction"]
    some = (frac > 0) & (frac < 1)
    assert some.any() and not ev.feasible[some].any()
    np.testing.assert_allclose(ev.overshoot[some], 1 - frac[some])
    order = np.argsort(ev.overshoot[~ev.feasible])  # a smaller overshoot ranks higher
    assert np.all(np.diff(ev.fitness[~ev.feasible][order]) >= 0)
    gaps = BatchSizePowerLimitProblem(workload="movielens", gpu="rtx6000")
    ev = gaps.evaluate(_grid(gaps))
    missing = ~ev.metrics["measured"]
    assert missing.any() and not ev.feasible[missing].any() and (ev.overshoot[missing] == 1).all()
    assert np.isnan(ev.metrics["mean_try_cost"][missing]).all()
    with pytest.raises(ValueError, match="outside the design space"):
        gaps.evaluate(np.array([[0, gaps.num_power_limits]]))


@pytest.mark.parametrize("mode", ["choose", "jit"])
def test_final_info_prices_the_last_try(mode):
    env = BatchSizePowerLimitEnv(power_limit=mode, **SMALL)
    env.reset(seed=0)
    actions = [1, 2, 3, 2] if mode == "jit" else [np.array([1, 5]), np.array([2, 0]), np.array([3, 3]), np.array([2, 4])]
    for a in actions:
        _, _, done, _, info = env.step(a)
        if done:
            break
    assert done and set(FINAL_INFO_KEYS) <= set(info)
    design = info["design"]
    assert design[0] == env.problem.trace.batch_size_index(info["batch_size"])
    assert design[1] == env.problem.trace.power_limit_index(info["power_limit"])
    ev = env.problem.evaluate(design[None])
    assert info["fitness"] == ev.fitness[0] and info["feasible"] == ev.feasible[0] and info["eta_j"] == ev.metrics["eta_j"][0]
    assert info["config"] == {"batch_size": info["batch_size"], "power_limit_w": info["power_limit"]}


def test_reward_info_and_recurrence_logic():
    problem = BatchSizePowerLimitProblem(workload="cifar100", gpu="v100", beta=1.2, recurrences=3)
    env = BatchSizePowerLimitEnv(problem=problem)
    env.reset(seed=0)
    b0, p0 = problem.default
    _, r, done, _, info = env.step(np.array([b0, p0]))
    assert info["reached"] and info["recurrence_done"] and info["recurrence"] == 0 and not done
    assert r == pytest.approx(-info["cost"] / problem.default_cost)
    assert info["cost"] == pytest.approx(0.5 * info["ETA"] + 0.5 * 250 * info["TTA"])
    assert info["min_cost"] == info["cost"]
    # bs 4096 is slow to converge: with beta=1.2 the cap is floor(1.2 * min_cost / per-epoch cost) < 100 epochs
    big = int(problem.trace.batch_size_index(4096))
    _, r, _, _, info2 = env.step(np.array([big, p0]))
    assert not info2["reached"] and info2["ran"] and info2["recurrence"] == 1 and info2["try"] == 1
    per_epoch = 0.5 * problem.trace.energy_per_epoch[big, p0] + 0.5 * 250 * problem.trace.time_per_epoch[big, p0]
    assert info2["epochs"] == np.floor(1.2 * info["min_cost"] / per_epoch) < 100
    _, _, _, _, info3 = env.step(np.array([b0, p0]))
    assert info3["try"] == 2 and info3["recurrence_cost"] == pytest.approx(info2["cost"] + info3["cost"])


def test_unaffordable_try_is_not_run_and_told_100_beta_min_cost():
    # movielens bs 4 never reaches the target and is slow: after b0 sets min_cost, 1.01 * min_cost buys 0 epochs
    problem = BatchSizePowerLimitProblem(workload="movielens", gpu="v100", beta=1.01, recurrences=3)
    env = BatchSizePowerLimitEnv(problem=problem)
    env.reset(seed=0)
    _, _, _, _, first = env.step(np.array(problem.default))
    per_epoch = 0.5 * problem.trace.energy_per_epoch[0, 0] + 0.5 * 250 * problem.trace.time_per_epoch[0, 0]
    assert 1.01 * first["min_cost"] < per_epoch
    _, r, _, _, info = env.step(np.array([0, 0]))
    assert not info["ran"] and info["cost"] == 0 and info["ETA"] == 0
    assert info["feedback_cost"] == pytest.approx(100 * 1.01 * first["min_cost"])
    assert r == pytest.approx(-info["feedback_cost"] / problem.default_cost)


def test_jit_mode_profiles_once_per_batch_size():
    problem = BatchSizePowerLimitProblem(workload="cifar100", gpu="v100", power_limit="jit", recurrences=3)
    env = BatchSizePowerLimitEnv(problem=problem)
    env.reset(seed=1)
    b = problem.trace.default_index
    infos = [env.step(b)[4] for _ in range(2)]
    assert [i["profiled"] for i in infos] == [True, False]
    assert infos[0]["power_limit"] == 175
    assert infos[0]["ETA"] == pytest.approx(problem.jit.first_epoch_energy_j[b] + (infos[0]["epochs"] - 1) * problem.trace.energy_per_epoch[b, problem.jit.power_limit_index[b]])


def _episode(env, seed, actions):
    env.reset(seed=seed)
    out = []
    for a in actions:
        obs, r, done, _, info = env.step(a)
        out.append((obs, r, info["batch_size"], info["ETA"]))
        if done:
            break
    return out


def test_same_seed_same_episode_and_seeds_differ():
    env = BatchSizePowerLimitEnv(**SMALL, power_limit="jit")
    acts = [3, 4, 2, 4, 4, 1, 0, 4]
    a, b = _episode(env, 5, acts), _episode(env, 5, acts)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x[0], y[0])
        assert x[1:] == y[1:]
    env2 = BatchSizePowerLimitEnv(workload="cifar100", gpu="v100", recurrences=30, power_limit="jit")
    eta = [[s[3] for s in _episode(env2, seed, [7] * 30)] for seed in (0, 1)]
    assert eta[0] != eta[1]  # runs are drawn from the trace


def test_vector_autoreset_next_step():
    venv = BatchSizePowerLimitVectorEnv(num_envs=2, power_limit="jit", **{**SMALL, "recurrences": 2})
    venv.reset(seed=0)
    b0 = venv.problem.trace.default_index
    _, _, term, _, _ = venv.step(np.array([b0, b0]))
    assert not term.any()
    _, _, term, _, _ = venv.step(np.array([b0, b0]))
    assert term.all()  # b0 always reaches on sentiment140: one try per recurrence
    obs, rew, term, _, info = venv.step(np.array([b0, b0]))
    np.testing.assert_array_equal(rew, [0.0, 0.0])
    assert not term.any() and not info["_ETA"].any() and (info["ETA"] == 0).all()  # as gymnasium fills masked rows
    assert (obs[:, 0] == 0).all()  # fresh episodes: no last try
    _, rew, _, _, info = venv.step(np.array([b0, b0]))
    assert (rew < 0).all() and info["_ETA"].all() and (info["recurrence"] == 0).all()
    assert "design" not in info  # the final keys come with an episode's end only


def test_vector_final_info_is_masked_to_the_episodes_that_end():
    venv = BatchSizePowerLimitVectorEnv(num_envs=2, **{**SMALL, "recurrences": 1})
    venv.reset(seed=0)
    b0, p0 = venv.problem.default
    _, _, term, _, info = venv.step(np.array([[b0, p0], [0, 0]]))
    np.testing.assert_array_equal(term, info["_design"])
    assert term[0] and set(FINAL_INFO_KEYS) <= set(info)
    assert tuple(info["design"][0]) == (b0, p0) and info["config"][0] == venv.problem.to_config(np.array([b0, p0]))
    assert info["fitness"][0] == 1.0 and info["objective"][0] == venv.problem.default_cost and info["feasible"][0]


@pytest.mark.parametrize(
    "options, fragment",
    [
        (dict(workload="mnist"), "workload 'mnist' is not known; expected one of"),
        (dict(gpu="h100"), "gpu 'h100' is not known; expected one of ['v100'"),
        (dict(eta=-0.1), "eta -0.1 is outside [0, 1]"),
        (dict(beta=0.5), "beta 0.5: expected a number > 1"),
        (dict(power_limit="auto"), "power_limit 'auto' is not known; expected one of ('choose', 'jit')"),
        (dict(recurrences=0), "recurrences 0: expected a positive integer"),
        (dict(default_bs=48), "default batch size 48 is not in the Zeus trace"),
    ],
)
def test_bad_options(options, fragment):
    with pytest.raises(ValueError) as err:
        BatchSizePowerLimitEnv(**{**SMALL, **options})
    assert fragment in str(err.value)


def test_bad_actions():
    env = BatchSizePowerLimitEnv(**SMALL)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"outside the action space; expected 0..4 \(batch sizes \[8, 16, 32, 64, 128\]\)"):
        env.step(np.array([5, 0]))
    movielens = BatchSizePowerLimitEnv(workload="movielens", gpu="rtx6000", recurrences=2)
    movielens.reset(seed=0)
    measured = movielens.problem.trace.measured
    b, p = map(int, np.argwhere(~measured)[0])
    with pytest.raises(ValueError, match="is not in the Zeus trace for batch size .* expected one of"):
        movielens.step(np.array([b, p]))
    assert BatchSizePowerLimitEnv(beta=None, **SMALL).problem.beta is None
