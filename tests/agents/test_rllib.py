"""RLlib methods (agents/rllib): REINFORCE and PPO as Methods through the one adapter and the one
callback, checkpoint resume, TensorBoard, the ``after_training`` hook and ConfuciuX's RL+GA.
One embedded Ray for the file; budgets are a few batches (these are the suite's slowest tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from codesign_gym.agents.method import Trace, TracePoint  # noqa: E402
from codesign_gym.agents.registry import make_method  # noqa: E402
from codesign_gym.agents.rllib.callback import DesignCallback  # noqa: E402
from codesign_gym.agents.rllib.method import RLlibMethod, RLThenGA  # noqa: E402
from codesign_gym.agents.rllib.run_options import RLlibOptions, checkpoint_progress  # noqa: E402
from codesign_gym.agents.rllib.training import build_algorithm_config  # noqa: E402
from codesign_gym.envs.patch_inference import PatchInferenceProblem  # noqa: E402
from codesign_gym.envs.resource_assignment import ResourceAssignmentProblem  # noqa: E402

PACKAGE = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def embedded_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


class CountingProblem:
    """Wraps a problem and keeps every design it prices (as the runner's ArchivingProblem does)."""

    def __init__(self, problem):
        self.problem, self.designs = problem, []

    def evaluate(self, designs):
        self.designs.extend(np.asarray(designs).tolist())
        return self.problem.evaluate(designs)

    def __getattr__(self, name):
        if name == "problem":
            raise AttributeError(name)
        return getattr(self.problem, name)


def _check_trace(trace, problem, budget: int) -> None:
    evals = [p.evals for p in trace.points]
    assert evals == sorted(evals) and trace.evals >= budget
    last = trace.last
    assert last.feasible and last.best_design is not None
    again = problem.evaluate(last.best_design[None, :])
    assert again.fitness[0] == pytest.approx(last.best_fitness) and again.objective[0] == pytest.approx(last.best_objective)


def test_reinforce_prices_every_finished_episode_through_the_problem():
    """REINFORCE (MLP) on one-step PatchInference episodes: every episode's design is priced once
    through the problem handed in, and the trace's best re-evaluates to its recorded numbers."""
    problem = CountingProblem(PatchInferenceProblem(sram_kib=256.0))
    seen = []
    method = make_method("reinforce", episode_length=1, envs_per_runner=8, episodes_per_batch=16)
    trace = method.run(problem, 40, seed=0, on_progress=lambda t: seen.append(t.last.evals))
    _check_trace(trace, problem.problem, 40)
    assert trace.method == "reinforce" and seen == [16, 32, 48]
    assert len(problem.designs) == trace.evals  # one evaluation per finished episode, none twice


def test_ppo_on_multi_step_resource_assignment_episodes():
    """PPO (MLP) on ResourceAssignment episodes of one step per layer; RL+GA below runs the LSTM."""
    problem = ResourceAssignmentProblem(workload="cfx/alexnet", dataflow="dla")
    method = RLlibMethod("ppo", episode_length=problem.num_layers, envs_per_runner=8, episodes_per_batch=8)
    trace = method.run(problem, 16, seed=0)
    _check_trace(trace, problem, 16)
    assert [p.evals for p in trace.points] == [8, 16]


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


def test_checkpoint_resume_and_tensorboard(tmp_path):
    """A second run with the same checkpoint_dir continues the first: evaluations, time and the
    best design are not reset. TensorBoard events go to <tensorboard_dir>/<name>-seed<k>/."""
    problem = PatchInferenceProblem(sram_kib=256.0)
    rllib = RLlibOptions(checkpoint_dir=str(tmp_path / "ckpt"), checkpoint_every=1, tensorboard_dir=str(tmp_path / "tb"))
    method = RLlibMethod("reinforce", episode_length=1, envs_per_runner=8, episodes_per_batch=16, rllib=rllib)
    first = method.run(problem, 16, seed=3)
    record = checkpoint_progress(tmp_path / "ckpt" / "reinforce-seed3")
    assert record["episodes"] == record["evals"] == first.evals == 16
    second = method.run(problem, 48, seed=3)
    resumed = second.points[0]
    assert resumed.evals == 16 and resumed.wall_s >= first.last.wall_s
    assert resumed.best_fitness == first.last.best_fitness and np.array_equal(resumed.best_design, first.last.best_design)
    assert [p.evals for p in second.points[1:]] == [32, 48] and second.last.best_fitness <= first.last.best_fitness
    assert list((tmp_path / "tb" / "reinforce-seed3").glob("events.out.tfevents.*"))
    with pytest.raises(ValueError, match="checkpoint_dir"):
        method.run(PatchInferenceProblem(sram_kib=320.0), 64, seed=3)  # another problem's checkpoint is not resumed


def test_after_training_hook_gets_the_trained_algorithm():
    calls = []

    def hook(algo, problem, budget, seed, on_progress):
        calls.append((budget, seed, algo.metrics.peek(("env_runners", "num_episodes_lifetime"))))
        return Trace("greedy", [TracePoint(budget, 0.0, 1.0, 1.0, True, np.zeros(problem.space.size, dtype=np.int64))])

    method = RLlibMethod("reinforce", episode_length=1, envs_per_runner=8, episodes_per_batch=8, train_episodes=16, after_training=hook)
    trace = method.run(PatchInferenceProblem(sram_kib=256.0), 5, seed=1)
    assert trace.method == "greedy" and calls == [(5, 1, 16)]


def test_rl_then_ga_continues_one_trace_to_the_budget():
    """ConfuciuX's two stages: REINFORCE for its share of the budget (here one batch), then the
    fine-tuning GA, seeded with REINFORCE's best design, to exactly the budget."""
    problem = CountingProblem(ResourceAssignmentProblem(workload="cfx/alexnet", dataflow="dla"))
    method = RLThenGA(module="lstm", episode_length=problem.num_layers, envs_per_runner=8, episodes_per_batch=8, batch_size=8)
    assert method.rl_episodes(48) == 4  # 48 * 2 // (2 + 20): one batch of 8 episodes
    trace = method.run(problem, 48, seed=0)
    _check_trace(trace, problem.problem, 48)
    assert trace.method == "rl_ga" and [p.evals for p in trace.points] == [8, 16, 24, 32, 40, 48]
    assert len(problem.designs) == 48
    # the GA's first children are small changes of REINFORCE's best design
    rl_best = trace.points[0].best_design
    children = np.array(problem.designs[8:16])
    assert rl_best is not None and trace.points[0].feasible
    assert np.any(children != rl_best) and np.all(np.count_nonzero(children != rl_best, axis=1) <= 5)  # 3 mutations, 1 swap
    optimum = problem.optimum()
    assert optimum is None or trace.last.best_objective >= optimum.objective * (1 - 1e-12)


def test_rl_then_ga_splits_the_budget_as_confuciux_and_checks_its_ga_options():
    """ConfuciuX's 500 epochs: 333 REINFORCE episodes, then 167 GA generations of 20 designs = 3,673 evaluations."""
    method = RLThenGA()
    assert method.rl_episodes(3673) == 333 and 3673 - 333 == 167 * 20
    assert method.ga == {"parents": 4} and RLThenGA(ga={"parents": 8}).ga == {"parents": 8}
    assert RLThenGA(ga={"population": 10}).rl_episodes(600) == 600 * 2 // 12
    with pytest.raises(ValueError, match="crossover"):
        RLThenGA(ga={"crossover": 0.5})
    with pytest.raises(ValueError, match="population=1"):
        RLThenGA(ga={"population": 1})


def test_design_callback_is_the_only_rllib_callback():
    """One callback class in the package, installed by every config; no private attributes
    (the old ``_codesign_*`` slots) are set on RLlib objects."""
    config = build_algorithm_config("reinforce", {"workload": "cfx/alexnet"}, seed=0)
    assert config.callbacks_class is DesignCallback
    sources = {p.relative_to(PACKAGE).as_posix(): p.read_text() for folder in ("agents", "envs", "experiments", "costmodels")
               for p in (PACKAGE / folder).rglob("*.py")}
    assert [path for path, text in sources.items() if "(RLlibCallback)" in text] == ["agents/rllib/callback.py"]
    assert [path for path, text in sources.items() if "_codesign_" in text] == []


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="'dqn'"):
        build_algorithm_config("dqn", {}, seed=0)
    with pytest.raises(ValueError, match="'transformer'"):
        build_algorithm_config("ppo", {}, seed=0, module="transformer")
    with pytest.raises(ValueError, match="'dqn'"):
        RLlibMethod("dqn")
    with pytest.raises(ValueError, match="episodes_per_batch=0"):
        RLlibMethod("ppo", episodes_per_batch=0)
    with pytest.raises(ValueError, match="both or neither"):
        RLlibMethod("ppo", train_episodes=10)


def test_rllib_options_override_the_method_arguments():
    rllib = RLlibOptions(num_env_runners=3, envs_per_runner=8, num_learners=2, num_gpus_per_learner=0.5, lr=0.01,
                         num_cpus_per_env_runner=0.5, episodes_per_batch=12)
    config = RLlibMethod("reinforce", envs_per_runner=4, episodes_per_batch=16, lr=0.1, rllib=rllib).algorithm_config(
        PatchInferenceProblem(sram_kib=256.0), seed=0)
    assert (config.num_env_runners, config.num_envs_per_env_runner, config.num_learners) == (3, 8, 2)
    assert (config.num_gpus_per_learner, config.lr, config.num_cpus_per_env_runner, config.episodes_per_batch) == (0.5, 0.01, 0.5, 12)
    assert config.restart_failed_env_runners and config.env == "codesign_gym.envs:codesign/PatchInference-v0"
    assert config.env_config == {**PatchInferenceProblem(sram_kib=256.0).options}
