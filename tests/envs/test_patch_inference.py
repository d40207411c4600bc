"""Contract and semantics tests of codesign/PatchInference-v0 (single and vector env)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import codesign_gym.envs  # noqa: F401  (registers the ids)
from codesign_gym.costmodels.patch_memory import patch_memory
from codesign_gym.costmodels.workloads import get_workload
from codesign_gym.envs.patch_inference import PatchInferenceEnv, PatchInferenceProblem

ENV_ID = "codesign/PatchInference-v0"
SPACE = dict(widths=(0.35, 0.5), resolutions=(96, 128), grids=(1, 2, 4))


@pytest.fixture(scope="module")
def problem() -> PatchInferenceProblem:
    return PatchInferenceProblem(sram_kib=256)


def test_single_env_passes_gymnasium_checker():
    gym_check_env(gym.make(ENV_ID, **SPACE).unwrapped, skip_render_check=True)


def test_single_env_passes_sb3_checker():
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    sb3_check_env(PatchInferenceEnv(**SPACE), warn=True)


def test_the_papers_schedule_is_feasible_at_256_kib_and_matches_the_cost_model(problem):
    env = PatchInferenceEnv(problem=problem)
    env.reset(seed=0)
    # split after block 4 (stem = block 0: layer 11, 28x28x32), 4x4 grid, width 1.0, 224
    _, reward, terminated, truncated, info = env.step(np.array([5, 3, 0, 0]))
    assert terminated and not truncated
    ref = patch_memory(get_workload("mobilenet_v2"), 11, 4)
    assert info["split_layer"] == 11 and info["grid"] == 4
    assert info["peak_sram_kib"] == 171.5 and info["layerwise_peak_kib"] == 1372.0
    assert info["macs"] == int(ref.macs) and info["extra_macs"] == int(ref.extra_macs)
    assert info["feasible"] and info["top1"] == 71.8
    assert reward == pytest.approx(-info["macs"] / problem.macs_norm, rel=1e-12)


def test_layer_by_layer_is_infeasible_at_256_kib_and_ranks_below_every_feasible_design(problem):
    nvec = problem.design_nvec
    designs = np.stack(np.meshgrid(*[np.arange(k) for k in nvec], indexing="ij"), axis=-1).reshape(-1, nvec.size)
    ev = problem.score(designs)
    m = problem.evaluate_designs(designs)
    none = designs[:, 0] == 0
    assert not ev.feasible[none].any() and (m["peak_sram_kib"][none] == 1372.0).all()
    assert ev.feasible.any() and ev.fitness[~ev.feasible].min() > ev.fitness[ev.feasible].max()
    assert ev.fitness[ev.feasible].min() >= 1.0  # macs_norm is a lower bound
    assert m["macs"].max() <= problem.macs_max


def test_grid_is_clamped_to_the_feature_map():
    p = PatchInferenceProblem(sram_kib=512, resolutions=(96,), grids=(8,))
    m = p.evaluate_designs(np.array([[p.num_splits - 1, 0, 0, 0]]))  # after block 17: 3x3 at 96 px
    assert m["grid"][0] == 3


def test_flash_budget_constrains_wide_networks():
    from codesign_gym.costmodels.mobilenet_space import mobilenet_v2_variant

    p = PatchInferenceProblem(sram_kib=2048, flash_kib=2048, widths=(0.35, 1.0))
    m = p.evaluate_designs(np.array([[0, 0, 0, 0], [0, 0, 1, 0]]))
    small = mobilenet_v2_variant(0.35, 224)
    assert m["flash_kib"][0] == (int(small.weights.sum()) + 4 * int(small.K.sum())) / 1024  # int8 weights, int32 biases
    assert m["flash_feasible"].tolist() == [True, False] and m["sram_feasible"].all()
    assert m["feasible"].tolist() == [True, False]


def test_accuracy_objective_uses_published_numbers_only():
    p = PatchInferenceProblem(sram_kib=256, objective="accuracy", **SPACE)
    m = p.evaluate_designs(np.array([[5, 2, 1, 1]]))  # width 0.5, 128 px
    assert m["top1"][0] == 57.7 and m["objective"][0] == pytest.approx(100 - 57.7)
    with pytest.raises(ValueError, match="published top-1"):
        PatchInferenceProblem(objective="accuracy", widths=(0.6,))


def test_per_block_choices_extend_the_action():
    p = PatchInferenceProblem(sram_kib=256, kernel_choices=(3, 5, 7), expansion_choices=(3, 4, 6), resolutions=(128,))
    assert p.design_nvec.size == 4 + 17 + 16
    rng = np.random.default_rng(0)
    designs = rng.integers(0, p.design_nvec, size=(16, p.design_nvec.size))
    m = p.evaluate_designs(designs)
    assert np.isnan(m["top1"]).all() and (m["macs"] <= p.macs_max).all() and (m["macs"] >= p.macs_norm).all()


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
    with pytest.raises(ValueError, match="outside the action space|expected integers"):
        env.step(np.array(action))
