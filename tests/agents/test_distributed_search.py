"""Search baselines whose batches are priced by Ray tasks give the local run's exact trace."""

from __future__ import annotations

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from codesign_gym.agents.method import BestSoFar  # noqa: E402
from codesign_gym.agents.search import Search, make_search_method, run_search  # noqa: E402
from codesign_gym.agents.search.distributed import DistributedProblem  # noqa: E402
from codesign_gym.envs.resource_assignment import ResourceAssignmentProblem  # noqa: E402


@pytest.fixture(scope="module")
def embedded_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def problem():
    return ResourceAssignmentProblem(workload="cfx/mobilenet_v2", dataflow="dla")


def test_without_ray_is_a_clear_error(problem):
    if ray.is_initialized():
        pytest.skip("Ray is running in this process")
    with pytest.raises(RuntimeError, match="ray.init"):
        DistributedProblem(problem)


@pytest.mark.parametrize("method", ["random", "genetic"])
def test_distributed_trace_equals_local_trace(embedded_ray, problem, method):
    local = Search(method, batch_size=250).run(problem, 1000, seed=3)
    remote_problem = DistributedProblem(problem, num_tasks=4, min_chunk=50)
    remote = run_search(make_search_method(method, problem.design_nvec, seed=3), remote_problem, 1000, 250, BestSoFar(method))
    assert remote.best_objective == local.best_objective and remote.evals == local.evals
    assert [p.best_fitness for p in remote.points] == [p.best_fitness for p in local.points]
    np.testing.assert_array_equal(remote.last.best_design, local.last.best_design)
    assert remote_problem.tasks_launched == 4 * 4  # 4 batches, each split into 4 tasks
    assert remote_problem.num_layers == problem.num_layers  # everything else is the wrapped problem's
    method_on_ray = Search(method, batch_size=250, eval_tasks=2, eval_min_chunk=50)
    assert method_on_ray.needs_ray
    trace = method_on_ray.run(problem, 1000, seed=3)
    assert trace.best_objective == local.best_objective


def test_chunks_cover_the_batch_in_order(embedded_ray, problem):
    p = DistributedProblem(problem, num_tasks=3, min_chunk=10)
    assert p.chunks(5) == [slice(0, 5)]  # too small to split
    parts = p.chunks(100)
    assert len(parts) == 3 and parts[0].start == 0 and parts[-1].stop == 100
    assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))
    with pytest.raises(ValueError, match="num_tasks"):
        DistributedProblem(problem, num_tasks=0)
