"""Search baselines on a Ray cluster: each batch of designs is priced by Ray tasks.

:class:`DistributedProblem` wraps any :class:`~codesign_gym.envs.problem.Problem`:
``evaluate(designs)`` splits the batch into up to ``num_tasks`` chunks (each at least
``min_chunk`` designs), prices every chunk in its own Ray task (the problem is shipped to the
object store once) and concatenates the results in order. The search method's ask/tell loop
stays in the caller, so a distributed run gives exactly the trace of a local one with the same
seed; only the cost-model calls fan out. It pays off when one batch costs much more than a
task's overhead (about a millisecond): large batches (random search, GA populations, ``--batch-size``)
on big workloads, or slow problems. Every other attribute is the wrapped problem's.

    ray.init(address="auto")
    trace = Search("random", batch_size=65_536, eval_tasks=32).run(problem, budget=1_000_000, seed=0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from codesign_gym.envs.problem import Evaluation, Problem, concat_evaluations


def _evaluate_chunk(problem: Problem, designs: np.ndarray) -> Evaluation:
    return problem.evaluate(designs)


class DistributedProblem:
    """``problem`` whose :meth:`evaluate` runs as Ray tasks, one per chunk of the batch.

    Args:
        problem: the problem to wrap (picklable; sent to the object store once).
        num_tasks: most tasks per batch (>= 1); a batch of N designs becomes
            ``min(num_tasks, ceil(N / min_chunk))`` tasks of near-equal size.
        min_chunk: fewest designs per task (>= 1), so small batches are not split into tasks
            that cost more than they save.
        num_cpus: CPUs each task reserves.
        task_options: further ``ray.remote`` options (e.g. ``resources``, ``scheduling_strategy``).

    Raises:
        ValueError: ``num_tasks`` or ``min_chunk`` below 1, or a negative ``num_cpus``.
        RuntimeError: Ray is not initialised (call ``ray.init`` first).
    """

    def __init__(self, problem: Problem, num_tasks: int = 8, min_chunk: int = 256, num_cpus: float = 1.0,
                 task_options: dict[str, Any] | None = None):
        import ray

        if num_tasks < 1 or min_chunk < 1 or num_cpus < 0:
            raise ValueError(f"num_tasks={num_tasks}, min_chunk={min_chunk}, num_cpus={num_cpus}: expected num_tasks >= 1, min_chunk >= 1, num_cpus >= 0")
        if not ray.is_initialized():
            raise RuntimeError("DistributedProblem needs a running Ray: call ray.init(...) (or use codesign_gym.experiments.runner.ray_session) first")
        self.problem = problem
        self.num_tasks = int(num_tasks)
        self.min_chunk = int(min_chunk)
        self._ref = ray.put(problem)
        self._remote = ray.remote(_evaluate_chunk).options(num_cpus=num_cpus, **(task_options or {}))
        #: Ray tasks launched so far (for progress reports and tests).
        self.tasks_launched = 0

    def chunks(self, n: int) -> list[slice]:
        """The slices a batch of ``n`` designs is split into (near-equal, in order)."""
        k = max(1, min(self.num_tasks, -(-n // self.min_chunk)))
        bounds = np.linspace(0, n, k + 1).round().astype(int)
        return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]

    def evaluate(self, designs: np.ndarray) -> Evaluation:
        """Score designs (N, D) with one Ray task per chunk; same result as the wrapped problem's."""
        import ray

        designs = np.asarray(designs)
        parts = self.chunks(len(designs))
        if len(parts) == 1:  # one chunk: no task is worth its overhead
            return self.problem.evaluate(designs)
        refs = [self._remote.remote(self._ref, designs[s]) for s in parts]
        self.tasks_launched += len(refs)
        return concat_evaluations(ray.get(refs))

    def __getattr__(self, name: str) -> Any:
        # design_nvec, num_layers, table, ...: the wrapped problem's (only called for names not found here)
        if name == "problem":
            raise AttributeError(name)
        return getattr(self.problem, name)
