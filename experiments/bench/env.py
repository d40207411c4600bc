"""Environment throughput: env steps/s of the single env, the native vector env and a gymnasium
``SyncVectorEnv`` of single envs, with random actions.

Printed by ``codesign-gym bench env``; never asserted in tests. RLlib sampling throughput is
:func:`codesign_gym.experiments.bench.cluster.bench_rllib_scaling` (``codesign-gym bench rllib``).
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np

from codesign_gym.envs.resource_assignment import ResourceAssignmentEnv, ResourceAssignmentProblem, ResourceAssignmentVectorEnv


def time_steps(step, min_seconds: float) -> tuple[int, float]:
    """Call ``step()`` (which returns the number of env steps it took) for at least ``min_seconds``."""
    steps, start = 0, time.perf_counter()
    while True:
        steps += step()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return steps, elapsed


def _cycling_steps(venv, actions: np.ndarray):
    """Reset ``venv`` and return a step function that cycles through ``actions`` (K, num_envs, ...)
    and returns the steps it took (num_envs)."""
    venv.reset(seed=0)
    i = [0]

    def step() -> int:
        venv.step(actions[i[0] % len(actions)])
        i[0] += 1
        return actions.shape[1]

    return step


def bench_env(workload: str = "cfx/mobilenet_v2", dataflow: str = "dla", num_envs=(1, 64, 1024, 4096), min_seconds: float = 1.0, sync: bool = True) -> list[dict]:
    """Rows of env steps/s: ``single``, ``vector`` per ``num_envs`` and (if ``sync``) ``sync_vector``."""
    problem = ResourceAssignmentProblem(workload=workload, dataflow=dataflow)
    rng = np.random.default_rng(0)
    rows = []

    env = ResourceAssignmentEnv(problem=problem)
    env.reset(seed=0)
    pe_hi, buf_hi = problem.num_pe_levels, problem.num_buffer_levels

    def single_step() -> int:
        _, _, term, trunc, _ = env.step(np.array([rng.integers(pe_hi), rng.integers(buf_hi)]))
        if term or trunc:
            env.reset()
        return 1

    steps, secs = time_steps(single_step, min_seconds)
    rows.append({"env": "single", "num_envs": 1, "steps_per_s": steps / secs})

    for n in num_envs:
        actions = np.stack([rng.integers(0, pe_hi, (64, n)), rng.integers(0, buf_hi, (64, n))], axis=-1)
        venv = ResourceAssignmentVectorEnv(num_envs=n, problem=problem)
        steps, secs = time_steps(_cycling_steps(venv, actions), min_seconds)
        rows.append({"env": "vector", "num_envs": n, "steps_per_s": steps / secs})
        if sync:
            svenv = gym.vector.SyncVectorEnv([lambda: ResourceAssignmentEnv(problem=problem) for _ in range(n)], autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP)
            steps, secs = time_steps(_cycling_steps(svenv, actions), min_seconds)
            rows.append({"env": "sync_vector", "num_envs": n, "steps_per_s": steps / secs})
            svenv.close()
    vec = {r["num_envs"]: r["steps_per_s"] for r in rows if r["env"] == "vector"}
    for r in rows:
        if r["env"] == "sync_vector":
            r["vector_speedup"] = vec[r["num_envs"]] / r["steps_per_s"]
    return rows
