"""The single-file examples in ``examples/`` run in-process, learn, and count returns right.

``examples/`` is not a package, so each file is loaded with ``importlib.util.spec_from_file_location``
and its ``main(Args(...))`` called with a small budget:

- ``ppo_masked.py`` (own PPO on the native vector env): learns on ResourceAssignment-Discrete-v0;
  on the one-step PatchInference-Discrete-v0 every episode return is one feasible design's
  reward in both autoreset modes (so the masks are applied and no return is split or merged);
  runs on the two ``sequential`` ids; refuses a MultiDiscrete id.
- ``maskable_ppo.py`` (sb3-contrib MaskablePPO on ``gym.make(id)``): learns on the MultiDiscrete
  ResourceAssignment-v0; on PatchInference-Discrete-v0 it only ever picks feasible designs, which
  it can only do if it found the env's ``action_masks()`` by itself.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import codesign_gym.envs  # noqa: F401  (registers the ids)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str):
    """The module ``examples/<name>.py``."""
    spec = importlib.util.spec_from_file_location(f"codesign_examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PPO = _load("ppo_masked")
MASKABLE = _load("maskable_ppo")


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """``main`` sets torch's thread count; give the rest of the session back what it had."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _problem(env_id: str):
    env = gym.make(env_id)
    try:
        return env.unwrapped.problem
    finally:
        env.close()


def _optimum_return(env_id: str) -> float:
    """The best episode return of ``env_id``: minus the exact optimum's fitness."""
    problem = _problem(env_id)
    return -float(problem.evaluate(problem.optimum().design[None, :]).fitness[0])


def _feasible_returns(env_id: str) -> np.ndarray:
    """Every feasible design's return (minus fitness) of a one-step env, sorted."""
    problem = _problem(env_id)
    ev = problem.evaluate(problem.all_designs())
    return np.sort(-np.asarray(ev.fitness)[np.asarray(ev.feasible)])


def _check_result(result: dict, min_episodes: int) -> None:
    assert result["episodes"] >= min_episodes
    assert len(result["returns"]) == result["episodes"]
    assert np.isfinite(result["returns"]).all()
    assert math.isfinite(result["first_return"]) and math.isfinite(result["last_return"])
    assert result["wall_s"] > 0


def test_ppo_masked_learns_resource_assignment():
    env_id = "codesign/ResourceAssignment-Discrete-v0"
    result = PPO.main(PPO.Args(env_id=env_id, total_timesteps=8192, seed=0, quiet=True))
    _check_result(result, min_episodes=100)
    assert result["steps"] == 8192
    # no return beats the exact optimum (an episode split at a reset would look better than it is)
    assert max(result["returns"]) <= _optimum_return(env_id) + 1e-6
    # about -3.9 -> -1.5 for this seed; a policy that learned nothing stays near -3.9
    assert result["last_return"] > result["first_return"] + 1.0


@pytest.mark.parametrize("mode", ["same_step", "next_step"])
def test_ppo_masked_one_step_returns_are_feasible_designs(mode):
    env_id = "codesign/PatchInference-Discrete-v0"
    result = PPO.main(PPO.Args(env_id=env_id, num_envs=8, num_steps=16, total_timesteps=256, autoreset_mode=mode, quiet=True))
    # one step per episode; next_step spends every other step on a reset
    assert result["episodes"] == (256 if mode == "same_step" else 128)
    _check_result(result, min_episodes=128)
    feasible = _feasible_returns(env_id)
    returns = np.asarray(result["returns"])
    nearest = feasible[np.abs(returns[:, None] - feasible[None, :]).argmin(axis=1)]
    np.testing.assert_allclose(returns, nearest, rtol=0, atol=1e-9)


@pytest.mark.parametrize("env_id", ["codesign/EarlyExitDVFS-Discrete-v0", "codesign/NASAccelerator-Discrete-v0"])
def test_ppo_masked_runs_on_sequential_ids(env_id):
    result = PPO.main(PPO.Args(env_id=env_id, total_timesteps=512, quiet=True))
    _check_result(result, min_episodes=16)


def test_ppo_masked_refuses_a_multidiscrete_id():
    with pytest.raises(ValueError, match="Discrete"):
        PPO.main(PPO.Args(env_id="codesign/ResourceAssignment-v0", total_timesteps=64, quiet=True))


def test_examples_parse_their_command_lines():
    import tyro

    args = tyro.cli(PPO.Args, args=["--env-id", "codesign/PatchInference-Discrete-v0", "--num-envs", "4",
                                    "--autoreset-mode", "next_step", "--no-anneal"])
    assert (args.env_id, args.num_envs, args.autoreset_mode, args.anneal, args.torch_threads) == (
        "codesign/PatchInference-Discrete-v0", 4, "next_step", False, 1)
    with pytest.raises(SystemExit):
        tyro.cli(PPO.Args, args=["--autoreset-mode", "sometimes"])
    args = tyro.cli(MASKABLE.Args, args=["--total-timesteps", "100"])
    assert (args.env_id, args.total_timesteps, args.torch_threads) == ("codesign/ResourceAssignment-v0", 100, 1)


def test_maskable_ppo_learns_resource_assignment():
    env_id = "codesign/ResourceAssignment-v0"
    result = MASKABLE.main(MASKABLE.Args(env_id=env_id, total_timesteps=2048, n_steps=256, batch_size=64, seed=0, quiet=True))
    _check_result(result, min_episodes=30)
    assert result["steps"] == 2048
    assert max(result["returns"]) <= _optimum_return(env_id) + 1e-6
    # about -4.3 -> -1.9 for this seed
    assert result["last_return"] > result["first_return"] + 1.0


def test_maskable_ppo_finds_the_masks_itself():
    env_id = "codesign/PatchInference-Discrete-v0"
    result = MASKABLE.main(MASKABLE.Args(env_id=env_id, total_timesteps=128, n_steps=64, batch_size=32, quiet=True))
    assert result["episodes"] == 128
    _check_result(result, min_episodes=128)
    # 16 of the 152 designs fit the SRAM budget: an unmasked policy would pick infeasible ones
    feasible = _feasible_returns(env_id)
    assert len(feasible) < 152 // 4
    returns = np.asarray(result["returns"])
    assert np.abs(returns[:, None] - feasible[None, :]).min(axis=1).max() <= 1e-5  # Monitor rounds to 6 decimals
