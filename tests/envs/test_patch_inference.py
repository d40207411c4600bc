"""Contract and semantics tests of codesign/PatchInference-v0: the Problem (evaluate, to_config,
optimum, label, options) and its single and vector envs."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import codesign_gym.envs  # noqa: F401  (registers the ids)
from codesign_gym.costmodels.patch_memory import patch_memory
from codesign_gym.costmodels.workloads import get_workload
from codesign_gym.envs.episode_info import FINAL_INFO_KEYS
from codesign_gym.envs.patch_inference import (
    ACCURACY_TIE_BREAK,
    CONFIG_KEYS,
    METRIC_UNITS,
    PatchInferenceEnv,
    PatchInferenceProblem,
    PatchInferenceVectorEnv,
)

ENV_ID = "codesign/PatchInference-v0"
SPACE = dict(widths=(0.35, 0.5), resolutions=(96, 128), grids=(1, 2, 4))
PAPER = np.array([5, 3, 0, 0])  # split after block 4 (stem = block 0: layer 11, 28x28x32), 4x4 grid, width 1.0, 224 px


@pytest.fixture(scope="module")
def problem() -> PatchInferenceProblem:
    return PatchInferenceProblem(sram_kib=256)


def test_single_env_passes_gymnasium_checker():
    gym_check_env(gym.make(ENV_ID, **SPACE).unwrapped, skip_render_check=True)


def test_single_env_passes_sb3_checker():
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    sb3_check_env(PatchInferenceEnv(**SPACE), warn=True)


def test_problem_declares_space_objective_label_and_options(problem):
    assert problem.space.names == ("split", "grid", "width", "resolution") and problem.design_nvec.tolist() == [19, 8, 1, 1]
    assert (problem.objective.name, problem.objective.unit, problem.objective.direction) == ("macs", "MACs", "min")
    assert problem.label == "mobilenet_v2@224x1|sram256KiB"  # the results' problem column, as before
    assert PatchInferenceProblem(sram_kib=320, flash_kib=2048).label == "mobilenet_v2@224x1|sram320KiB|flash2048KiB"
    rebuilt = PatchInferenceProblem(**json.loads(json.dumps(problem.options)))
    assert rebuilt.label == problem.label and rebuilt.design_nvec.tolist() == problem.design_nvec.tolist()


def test_the_papers_schedule_is_feasible_at_256_kib_and_matches_the_cost_model(problem):
    env = PatchInferenceEnv(problem=problem)
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(PAPER)
    assert terminated and not truncated
    assert set(FINAL_INFO_KEYS) <= set(info) and set(METRIC_UNITS) <= set(info)
    ref = patch_memory(get_workload("mobilenet_v2"), 11, 4)
    assert info["split_layer"] == 11 and info["grid"] == 4
    assert info["peak_sram_kib"] == 171.5 and info["layerwise_peak_kib"] == 1372.0
    assert info["macs"] == int(ref.macs) and info["extra_macs"] == int(ref.extra_macs)
    assert info["feasible"] and info["sram_feasible"] and info["top1"] == 71.8 and info["overshoot"] == 0
    assert info["objective"] == info["macs"] and info["design"].tolist() == PAPER.tolist()
    assert info["config"] == problem.to_config(PAPER)
    assert reward == pytest.approx(-info["macs"] / problem.macs_norm, rel=1e-12) and reward == -info["fitness"]


def test_evaluate_metrics_carry_units_and_to_config_the_schedule(problem):
    ev = problem.evaluate(np.stack([PAPER, [0, 0, 0, 0]]))
    assert dict(ev.units) == METRIC_UNITS and all(np.asarray(v).shape == (2,) for v in ev.metrics.values())
    assert ev.feasible.tolist() == [True, False] and ev.overshoot[1] == pytest.approx(1372.0 / 256 - 1)
    config = problem.to_config(PAPER)
    assert tuple(config) == CONFIG_KEYS and json.loads(json.dumps(config)) == config
    assert config == {"split_layer": 11, "grid": 4, "width": 1.0, "resolution": 224, "peak_sram_kib": 171.5,
                      "flash_kib": config["flash_kib"], "macs": int(ev.metrics["macs"][0]), "extra_macs": int(ev.metrics["extra_macs"][0])}


def test_layer_by_layer_is_infeasible_at_256_kib_and_ranks_below_every_feasible_design(problem):
    designs = problem.all_designs()
    ev = problem.evaluate(designs)
    none = designs[:, 0] == 0
    assert not ev.feasible[none].any() and (ev.metrics["peak_sram_kib"][none] == 1372.0).all()
    assert ev.feasible.any() and ev.fitness[~ev.feasible].min() > ev.fitness[ev.feasible].max()
    assert ev.fitness[ev.feasible].min() >= 1.0  # macs_norm is a lower bound
    assert ev.metrics["macs"].max() <= problem.macs_max


def test_optimum_enumerates_the_default_space_exactly(problem):
    opt = problem.optimum()
    ev = problem.evaluate(problem.all_designs())
    assert opt.objective == 318882624.0 == ev.objective[ev.feasible].min()
    assert opt.design.tolist() == [5, 2, 0, 0] and "152 designs" in opt.label  # layer 11, 3x3 grid: 246.0 KiB
    assert problem.to_config(opt.design)["peak_sram_kib"] == 245.984375
    assert PatchInferenceProblem(sram_kib=1).optimum() is None  # nothing fits
    assert PatchInferenceProblem(kernel_choices=(3, 5)).optimum() is None  # 2^17 x ... designs: too many to enumerate


def test_grid_is_clamped_to_the_feature_map():
    p = PatchInferenceProblem(sram_kib=512, resolutions=(96,), grids=(8,))
    ev = p.evaluate(np.array([[p.num_splits - 1, 0, 0, 0]]))  # after block 17: 3x3 at 96 px
    assert ev.metrics["grid"][0] == 3


def test_flash_budget_constrains_wide_networks():
    from codesign_gym.costmodels.mobilenet_space import mobilenet_v2_variant

    p = PatchInferenceProblem(sram_kib=2048, flash_kib=2048, widths=(0.35, 1.0))
    ev = p.evaluate(np.array([[0, 0, 0, 0], [0, 0, 1, 0]]))
    small = mobilenet_v2_variant(0.35, 224)
    assert ev.metrics["flash_kib"][0] == (int(small.weights.sum()) + 4 * int(small.K.sum())) / 1024  # int8 weights, int32 biases
    assert ev.metrics["flash_feasible"].tolist() == [True, False] and ev.metrics["sram_feasible"].all()
    assert ev.feasible.tolist() == [True, False] and ev.overshoot[1] == pytest.approx(ev.metrics["flash_kib"][1] / 2048 - 1)


def test_accuracy_objective_is_the_published_top1_maximised():
    p = PatchInferenceProblem(sram_kib=256, objective="accuracy", **SPACE)
    assert (p.objective.name, p.objective.unit, p.objective.direction) == ("top1", "%", "max")
    ev = p.evaluate(np.array([[5, 2, 1, 1]]))  # width 0.5, 128 px
    assert ev.metrics["top1"][0] == 57.7 and ev.objective[0] == 57.7
    assert ev.fitness[0] == pytest.approx((100 - 57.7) / 100 + ACCURACY_TIE_BREAK * ev.metrics["macs"][0] / p.macs_max, rel=1e-12)
    every = p.evaluate(p.all_designs())
    opt = p.optimum()  # the most accurate feasible network, fewest MACs among equals
    assert opt.objective == every.objective[every.feasible].max() == 57.7  # the most accurate choice, 0.5 @ 128 px, fits 256 KiB
    assert opt.design.tolist() == [0, 0, 1, 1]  # layer by layer (224.0 KiB): the fewest MACs of the equally accurate designs
    assert p.label.endswith("|accuracy")
    with pytest.raises(ValueError, match="published top-1"):
        PatchInferenceProblem(objective="accuracy", widths=(0.6,))


def test_per_block_choices_extend_the_design():
    p = PatchInferenceProblem(sram_kib=256, kernel_choices=(3, 5, 7), expansion_choices=(3, 4, 6), resolutions=(128,))
    assert p.design_nvec.size == 4 + 17 + 16 and p.space.names[4] == "kernel_0" and p.space.names[-1] == "expansion_16"
    designs = p.space.sample(np.random.default_rng(0), 16)
    ev = p.evaluate(designs)
    assert np.isnan(ev.metrics["top1"]).all() and (ev.metrics["macs"] <= p.macs_max).all() and (ev.metrics["macs"] >= p.macs_norm).all()
    config = p.to_config(designs[0])
    assert len(config["kernels"]) == 17 and len(config["expansions"]) == 16 and set(config["kernels"]) <= {3, 5, 7}
    assert p.label == "mobilenet_v2@128x1|sram256KiB|k3/5/7|e3/4/6"


def test_vector_env_final_info_carries_the_common_keys_for_ended_episodes(problem):
    venv = PatchInferenceVectorEnv(num_envs=2, problem=problem)
    venv.reset(seed=0)
    act = np.stack([PAPER, [0, 0, 0, 0]])
    _, reward, terminated, _, info = venv.step(act)
    assert terminated.all() and all(info["_" + k].all() for k in FINAL_INFO_KEYS)
    assert info["config"][0] == problem.to_config(PAPER) and info["feasible"].tolist() == [True, False]
    np.testing.assert_array_equal(reward, -problem.evaluate(act).fitness)
    _, reward, terminated, _, info = venv.step(act)  # the reset step: nothing ends, every key masked
    assert not terminated.any() and (reward == 0).all() and not info["_design"].any() and not info["_macs"].any()


@pytest.mark.parametrize(
    "options, match",
    [(dict(sram_kib=0), "sram_kib=0"), (dict(sram_kib=-5), "sram_kib=-5"), (dict(flash_kib=0), "flash_kib=0"),
     (dict(objective="latency"), "latency"), (dict(grids=(0, 2)), "grids"), (dict(widths=()), "widths"),
     (dict(kernel_choices=(4,)), "kernel_choices"), (dict(resolutions=(16,)), "resolutions")],
)
def test_bad_options_raise_clear_errors(options, match):
    with pytest.raises(ValueError, match=match):
        PatchInferenceProblem(**options)


@pytest.mark.parametrize("action", [[19, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0], [1, 2]])
def test_action_outside_space_is_rejected(problem, action):
    env = PatchInferenceEnv(problem=problem)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside the (action|design) space"):
        env.step(np.array(action))


@pytest.mark.parametrize("actions", [np.zeros((3, 4), dtype=np.int64), np.zeros((2, 5), dtype=np.int64), np.zeros((2, 4))])
def test_vector_actions_of_the_wrong_shape_or_dtype_are_rejected(problem, actions):
    venv = PatchInferenceVectorEnv(num_envs=2, problem=problem)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=r"expected integers of shape \(2, 4\)"):
        venv.step(actions)
