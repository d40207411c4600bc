"""RLlib agents on the resource-assignment env: REINFORCE (custom algorithm) and PPO, with the
ConfuciuX LSTM and the MLP module, plus the RL+GA experiment path. One embedded Ray for the file."""

from __future__ import annotations

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from codesign_gym.agents.rllib.training import build_algorithm_config, train_for_episodes  # noqa: E402
from codesign_gym.envs.resource_assignment import ResourceAssignmentProblem  # noqa: E402

ENV_CONFIG = {"workload": "cfx/alexnet", "dataflow": "dla"}


@pytest.fixture(scope="module", autouse=True)
def embedded_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def _best_design_is_feasible_and_scored(progress):
    problem = ResourceAssignmentProblem(**ENV_CONFIG)
    pe = np.searchsorted(problem.table.pe_levels, progress.best_pe)
    buf = np.searchsorted(problem.table.buffer_levels, progress.best_buffer)
    ev = problem.score(np.concatenate([pe, buf])[None, :])
    assert ev.feasible[0]
    assert ev.objective[0] == pytest.approx(progress.best_objective)


@pytest.mark.parametrize("algorithm, module", [("reinforce", "lstm"), ("reinforce", "mlp"), ("ppo", "lstm")])
def test_training_counts_episodes_and_finds_feasible_designs(algorithm, module):
    config = build_algorithm_config(algorithm, ENV_CONFIG, seed=0, module=module, episode_length=5, envs_per_runner=8, episodes_per_batch=8)
    algo = config.build_algo()
    try:
        seen = []
        progress = train_for_episodes(algo, 24, on_iteration=lambda p: seen.append(p.episodes))
    finally:
        algo.stop()
    assert progress.episodes >= 24 and seen == sorted(seen) and len(seen) >= 2
    assert np.isfinite(progress.best_objective)
    _best_design_is_feasible_and_scored(progress)


def test_reinforce_improves_the_policy():
    """On ConfuciuX's 2-layer example, 40 REINFORCE updates raise the mean episode return."""
    config = build_algorithm_config("reinforce", {"workload": "cfx/example", "dataflow": "dla"}, seed=0, module="mlp",
                                    episode_length=2, envs_per_runner=16, episodes_per_batch=32, lr=3e-3)
    algo = config.build_algo()
    try:
        returns = [algo.train()["env_runners"]["episode_return_mean"] for _ in range(40)]
    finally:
        algo.stop()
    assert np.mean(returns[-5:]) > np.mean(returns[:5])


def test_bad_algorithm_or_module_is_rejected():
    with pytest.raises(ValueError, match="'dqn'"):
        build_algorithm_config("dqn", ENV_CONFIG, seed=0)
    with pytest.raises(ValueError, match="'transformer'"):
        build_algorithm_config("ppo", ENV_CONFIG, seed=0, module="transformer")


def test_rl_ga_experiment_row(tmp_path):
    from codesign_gym.experiments.confuciux import ConfuciuxConfig, run_experiment
    from codesign_gym.experiments.results import read_results

    config = ConfuciuxConfig(model="cfx/alexnet", budget=48, seeds=1, methods=("rl_ga",), batch_size=8)
    run_experiment(config, tmp_path, progress=lambda _: None)
    rows = [r for r in read_results(tmp_path) if r["method"] == "rl_ga"]
    final = [r for r in rows if r["final"] == 1]
    assert len(final) == 1 and final[0]["evals"] >= 48 and final[0]["feasible"]
    assert final[0]["gap_to_opt"] >= -1e-12
    assert [r["evals"] for r in rows] == sorted(r["evals"] for r in rows)
    assert list((tmp_path / "tensorboard" / "rl_ga-seed0").glob("events.out.tfevents.*"))


def test_mcunet_reinforce_row(tmp_path):
    """REINFORCE through RLlib on the PatchInference env, as `run mcunet --methods reinforce` runs it."""
    from codesign_gym.experiments.mcunet import McunetConfig
    from codesign_gym.experiments.mcunet import run_experiment as run_mcunet
    from codesign_gym.experiments.results import read_results

    run_mcunet(McunetConfig(budget=32, seeds=1, methods=("reinforce",)), tmp_path, progress=lambda _: None)
    final = [r for r in read_results(tmp_path) if r["method"] == "reinforce" and r["final"] == 1]
    assert len(final) == 1 and final[0]["evals"] >= 32 and final[0]["feasible"]
    assert final[0]["gap_to_opt"] >= -1e-12
