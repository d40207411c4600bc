"""What every native vector env must do, checked on all five: ``make_vec`` builds it, it agrees
step for step with gymnasium's ``SyncVectorEnv`` over the single env (NEXT_STEP and SAME_STEP
autoreset: observations, rewards, terminations, info, action masks, final info), and it
guards ``num_envs`` and ``step()`` before ``reset()``; the one-step envs also agree with their
single env row by row."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import codesign_gym.envs  # noqa: F401  (registers the ids)
from codesign_gym.costmodels.naas.design import RESNET_INDEX
from codesign_gym.costmodels.workloads import nb201
from codesign_gym.envs.batch_size_power_limit import BatchSizePowerLimitVectorEnv
from codesign_gym.envs.early_exit_dvfs import EarlyExitDVFSEnv, EarlyExitDVFSProblem, EarlyExitDVFSVectorEnv
from codesign_gym.envs.nas_accelerator import NASAcceleratorEnv, NASAcceleratorProblem, NASAcceleratorVectorEnv
from codesign_gym.envs.patch_inference import PatchInferenceEnv, PatchInferenceProblem, PatchInferenceVectorEnv
from codesign_gym.envs.resource_assignment import ResourceAssignmentVectorEnv

PATCH_SPACE = dict(widths=(0.35, 0.5), resolutions=(96, 128), grids=(1, 2, 4))


def _design_indices(rng: np.random.Generator, venv: gym.vector.VectorEnv, n: int) -> np.ndarray:
    nvec = venv.unwrapped.problem.design_nvec
    return rng.integers(0, nvec, size=(n, nvec.size))


def _zeus_actions(mode: str) -> Callable[[np.random.Generator, Any, int], np.ndarray]:
    def actions(rng, venv, n):
        bs = rng.integers(5, 10, n)
        return bs if mode == "jit" else np.stack([bs, rng.integers(0, 7, n)], axis=1)

    return actions


@dataclass(frozen=True)
class Case:
    """One env's settings for the shared checks. ``sync`` options run the agreement with gymnasium's
    ``SyncVectorEnv`` (``steps`` steps of ``actions(rng, venv, n)``, ``info_key`` compared under
    its mask); ``exact``: equal to the bit, else ``allclose``."""

    env_id: str
    vector_class: type
    options: dict
    obs_shape: tuple[int, ...]
    sync: dict
    steps: int
    actions: Callable[[np.random.Generator, Any, int], np.ndarray]
    info_key: str
    exact: bool = False
    seed: int = 0
    id: str = field(default="", compare=False)


CASES = [
    Case("codesign/ResourceAssignment-v0", ResourceAssignmentVectorEnv, dict(workload="cfx/alexnet"), (15,),
         dict(workload="cfx/alexnet"), 12,  # crosses episode ends (5 layers) and autoresets
         lambda rng, venv, n: np.stack([rng.integers(0, 12, n), rng.integers(0, 12, n)], axis=1), "latency_cycles",
         id="ResourceAssignment"),
    Case("codesign/BatchSizePowerLimit-v0", BatchSizePowerLimitVectorEnv, dict(workload="sentiment140", gpu="v100", recurrences=4),
         (119,), dict(workload="cifar100", gpu="v100", recurrences=3, power_limit="choose"), 25, _zeus_actions("choose"), "ETA",
         exact=True, seed=7, id="BatchSizePowerLimit-choose"),
    Case("codesign/BatchSizePowerLimit-v0", BatchSizePowerLimitVectorEnv, dict(workload="sentiment140", gpu="v100", recurrences=4),
         (119,), dict(workload="cifar100", gpu="v100", recurrences=3, power_limit="jit"), 25, _zeus_actions("jit"), "ETA",
         exact=True, seed=7, id="BatchSizePowerLimit-jit"),
    Case("codesign/PatchInference-v0", PatchInferenceVectorEnv, PATCH_SPACE, (2,), PATCH_SPACE, 5, _design_indices, "macs",
         id="PatchInference"),
    Case("codesign/EarlyExitDVFS-v0", EarlyExitDVFSVectorEnv, {}, (7,), dict(mode="two_level"), 6, _design_indices, "energy_mj",
         id="EarlyExitDVFS-two_level"),
    Case("codesign/NASAccelerator-v0", NASAcceleratorVectorEnv, dict(search="network"), (3,),
         dict(mode="sequential", search="network", objective="constrained"), 15, lambda rng, venv, n: rng.integers(0, 5, size=n),
         "edp", id="NASAccelerator-sequential"),
]
IDS = [c.id for c in CASES]
# the checks that do not depend on the sync options run once per env
ENV_CASES = [c for c in CASES if c.id != "BatchSizePowerLimit-jit"]


@pytest.mark.parametrize("case", ENV_CASES, ids=[c.id for c in ENV_CASES])
def test_make_vec_uses_native_vector_env(case):
    venv = gym.make_vec(case.env_id, num_envs=4, vectorization_mode="vector_entry_point", **case.options)
    env = gym.make(case.env_id, **case.options).unwrapped
    native = venv.unwrapped
    assert isinstance(native, case.vector_class) and native.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert native.single_action_space == env.action_space and native.single_observation_space == env.observation_space
    obs, _ = venv.reset(seed=0)
    assert env.observation_space.shape == case.obs_shape and obs.shape == (4,) + case.obs_shape
    assert obs in native.observation_space
    venv.close()


def _close(a, b, exact: bool) -> None:
    (np.testing.assert_array_equal if exact else np.testing.assert_allclose)(a, b)


def _agree_masked(ia: dict, ib: dict, key: str, n: int, exact: bool) -> None:
    """``info[key]`` of the native and the sync env agree under gymnasium's ``_key`` masks."""
    none = np.zeros(n, dtype=bool)
    mask = ib.get("_" + key, none)
    np.testing.assert_array_equal(ia.get("_" + key, none), mask, err_msg=key)
    if mask.any():
        _close(np.asarray(ia[key])[mask], np.asarray(ib[key])[mask], exact)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP], ids=["next_step", "same_step"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_native_vector_env_agrees_with_sync_vector_env(case, mode):
    n = 3
    native = gym.make_vec(case.env_id, num_envs=n, vectorization_mode="vector_entry_point", autoreset_mode=mode, **case.sync)
    sync = gym.make_vec(case.env_id, num_envs=n, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}, **case.sync)
    assert native.metadata["autoreset_mode"] == mode
    a, ia = native.reset(seed=case.seed)
    b, ib = sync.reset(seed=case.seed)
    _close(a, b, case.exact)
    _agree_masked(ia, ib, "action_mask", n, True)
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(case.steps):
        act = case.actions(rng, native, n)
        oa, ra, ta, tra, ia = native.step(act)
        ob, rb, tb, trb, ib = sync.step(act)
        _close(oa, ob, case.exact)
        _close(ra, rb, case.exact)
        np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(tra, trb)
        _agree_masked(ia, ib, case.info_key, n, case.exact)
        _agree_masked(ia, ib, "action_mask", n, True)  # the mask of the state each observation describes
        if mode == AutoresetMode.SAME_STEP:
            np.testing.assert_array_equal(ia.get("_final_info", np.zeros(n, bool)), ib.get("_final_info", np.zeros(n, bool)))
            if tb.any():
                ended += int(tb.sum())
                for key in (case.info_key, "fitness", "design"):
                    _agree_masked(ia["final_info"], ib["final_info"], key, n, case.exact)
                for i in np.flatnonzero(tb):
                    _close(ia["final_obs"][i], ib["final_obs"][i], case.exact)
    if mode == AutoresetMode.SAME_STEP:
        assert ended > 0


@pytest.mark.parametrize("case", ENV_CASES, ids=[c.id for c in ENV_CASES])
def test_num_envs_must_be_a_positive_integer(case):
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match=re.escape(f"num_envs={bad!r}; expected a positive integer")):
            case.vector_class(bad, **case.options)


@pytest.mark.parametrize("case", ENV_CASES, ids=[c.id for c in ENV_CASES])
def test_step_before_reset_raises(case):
    venv = case.vector_class(2, **case.options)
    env = gym.make(case.env_id, **case.options).unwrapped
    with pytest.raises(RuntimeError, match=re.escape("call reset() before step()")):
        venv.step(venv.action_space.sample())
    with pytest.raises(RuntimeError, match=re.escape("call reset() before step()")):
        env.step(env.action_space.sample())


# ---------------------------------------------------------------- one-step envs against their single env
RESNET_CODES = nb201.edge_ops()[RESNET_INDEX].tolist()
NAAS_HW = [4, 3, 1, 6, 3] + [0, 0, 1, 1, 3, 2]  # within the eyeriss cap


@dataclass(frozen=True)
class OneStep:
    """``rel``: relative tolerance of rewards and ``info_key`` (0: equal); ``idle_info``: what ``info``
    holds for ``info_key`` on a step where no episode ends (``absent`` or ``masked``: all False);
    ``negative``: every reward is below 0."""

    problem: Callable[[], Any]
    single_class: type
    vector_class: type
    actions: Callable[[Any, int], np.ndarray]
    info_key: str
    rel: float
    idle_info: str
    negative: bool = False
    id: str = field(default="", compare=False)


def _random_designs(problem, n: int) -> np.ndarray:
    return np.random.default_rng(1).integers(0, problem.design_nvec, size=(n, problem.design_nvec.size))


ONE_STEP = [
    OneStep(EarlyExitDVFSProblem, EarlyExitDVFSEnv, EarlyExitDVFSVectorEnv, lambda p: _random_designs(p, 5), "energy_mj", 1e-12,
            "absent", id="EarlyExitDVFS"),
    OneStep(lambda: PatchInferenceProblem(sram_kib=256), PatchInferenceEnv, PatchInferenceVectorEnv, lambda p: _random_designs(p, 5),
            "macs", 0.0, "masked", negative=True, id="PatchInference"),
    OneStep(lambda: NASAcceleratorProblem(action="multidiscrete"), NASAcceleratorEnv, NASAcceleratorVectorEnv,
            lambda p: np.array([RESNET_CODES + NAAS_HW, [1] * 6 + NAAS_HW, [4] * 6 + NAAS_HW, [2, 3, 4, 0, 1, 2] + NAAS_HW]),
            "edp", 1e-12, "absent", id="NASAccelerator"),
]


@pytest.mark.parametrize("case", ONE_STEP, ids=[c.id for c in ONE_STEP])
def test_one_step_vector_env_autoreset_next_step_and_agrees_with_single(case):
    problem = case.problem()
    act = case.actions(problem)
    n, key = len(act), case.info_key
    venv = case.vector_class(num_envs=n, problem=problem)
    venv.reset(seed=1)
    obs, rew, term, trunc, info = venv.step(act)
    assert term.all() and not trunc.any() and info["_" + key].all()
    np.testing.assert_array_equal(info["design"], act)
    for i in range(n):
        env = case.single_class(problem=problem)
        env.reset(seed=1)
        o, r, t, _, inf = env.step(act[i])
        np.testing.assert_array_equal(o, obs[i])
        assert t and r == pytest.approx(rew[i], rel=case.rel, abs=0) and inf[key] == pytest.approx(info[key][i], rel=case.rel, abs=0)
    first = rew
    _, rew, term, _, info = venv.step(act)  # the reset step: actions ignored
    assert (rew == 0).all() and not term.any()
    if case.idle_info == "absent":
        assert key not in info
    else:
        assert not info["_" + key].any()
    _, rew, term, _, _ = venv.step(act)
    assert term.all()
    np.testing.assert_array_equal(rew, first)
    assert (rew < 0).all() or not case.negative
