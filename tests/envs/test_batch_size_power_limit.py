"""Contract and semantics tests of codesign/BatchSizePowerLimit-v0 (single and vector env)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import codesign_gym.envs  # noqa: F401  (registers the ids)
from codesign_gym.envs.batch_size_power_limit import (
    BatchSizePowerLimitEnv,
    BatchSizePowerLimitProblem,
    BatchSizePowerLimitVectorEnv,
)

ENV_ID = "codesign/BatchSizePowerLimit-v0"
SMALL = dict(workload="sentiment140", gpu="v100", recurrences=4)


@pytest.mark.parametrize("mode", ["choose", "jit"])
def test_single_env_passes_gymnasium_checker(mode):
    gym_check_env(gym.make(ENV_ID, power_limit=mode, **SMALL).unwrapped, skip_render_check=True)


@pytest.mark.parametrize("mode", ["choose", "jit"])
def test_single_env_passes_sb3_checker(mode):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    sb3_check_env(BatchSizePowerLimitEnv(power_limit=mode, **SMALL), warn=True)


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
