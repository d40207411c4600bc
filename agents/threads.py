"""Thread settings for processes that train small policies: one torch/BLAS thread per core given.

The policies here are small MLPs and LSTMs trained on batches of a few thousand steps. torch's
default (one intra-op thread per core of the machine) makes them slower, not faster: each op is
too small to split, the threads spin and contend with the env runners and each other. On the
2-core machine SB3 PPO on ResourceAssignment took 187 s with the default and 6 s with one thread,
and RLlib PPO's learner in the driver stalled. So a training process uses as many threads as
cores it was given (RLlib: ``num_cpus_for_main_process`` for the driver, ``num_cpus_per_env_runner``
for each env runner; default 1), never more than it may run on.
"""

from __future__ import annotations

import os

#: Environment variables that size the BLAS / OpenMP pools of processes started from here.
THREAD_VARIABLES: tuple[str, ...] = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def thread_count(cores: float | int | None = 1) -> int:
    """Threads for a process given ``cores`` CPUs (a Ray reservation may be fractional): at least
    1, at most :func:`usable_cores`.

    Raises:
        ValueError: ``cores`` is not a positive number.
    """
    if cores is None:
        cores = 1
    if isinstance(cores, bool) or not isinstance(cores, (int, float)) or not cores > 0:
        raise ValueError(f"cores={cores!r}; expected a positive number of CPUs")
    return max(1, min(int(cores), usable_cores()))


def thread_environment(cores: float | int | None = 1) -> dict[str, str]:
    """The :data:`THREAD_VARIABLES` for a process given ``cores`` CPUs (for Ray's worker env vars)."""
    return {name: str(thread_count(cores)) for name in THREAD_VARIABLES}


def limit_threads(cores: float | int | None = 1) -> int:
    """Size torch's intra-op pool for ``cores`` CPUs in this process and set :data:`THREAD_VARIABLES`
    (when unset) for the processes it starts; returns the thread count. Call before training."""
    import torch

    threads = thread_count(cores)
    torch.set_num_threads(threads)
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))
    return threads


__all__ = ["THREAD_VARIABLES", "limit_threads", "thread_count", "thread_environment", "usable_cores"]
