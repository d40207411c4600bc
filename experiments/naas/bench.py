"""``codesign-gym bench naas``: throughput of the NAAS co-design space and ``codesign/NASAccelerator-v0``.

Rows: the whole NAS-Bench-201 space priced on one new accelerator (inner mapping search
included), and env steps/s with random actions for the single env and the native vector env, in
the joint and nested searches (nearly every step a new accelerator: an inner mapping search of 14
layers; nested adds the exact choice of the best cell on it) and the network-only search (the
baseline's costs are a table: a look-up per step). Printed, never asserted in tests.
"""

from __future__ import annotations

import time

import numpy as np

from codesign_gym.costmodels.naas.design import NAASSpace
from codesign_gym.experiments.bench.env import time_steps
from codesign_gym.envs.nas_accelerator import NASAcceleratorEnv, NASAcceleratorProblem, NASAcceleratorVectorEnv


def bench_naas(accelerator: str = "eyeriss", dataset: str = "cifar10", num_envs=(1, 16, 256), min_seconds: float = 2.0,
               samples: int = 256, rounds: int = 1) -> list[dict]:
    """Rows of ``what, search, num_envs, per_s, unit``; env steps are one-step episodes, i.e.
    whole-design evaluations (the vector env's autoreset steps in between are not counted)."""
    rows = []
    space = NAASSpace(accelerator, dataset, samples=samples, rounds=rounds)
    rng = np.random.default_rng(0)
    every = np.arange(15625)
    designs = [space.hardware([4, 3, int(rng.integers(0, 9)), int(rng.integers(0, 8)), 3], rng.random(6)) for _ in range(8)]
    t0 = time.perf_counter()
    for hw in designs:
        space.evaluate(every, [hw] * every.size)
    secs = (time.perf_counter() - t0) / len(designs)
    rows.append({"what": "all 15,625 networks on a new accelerator (inner search included)", "search": "-", "num_envs": "-",
                 "per_s": 1.0 / secs, "unit": f"spaces/s ({secs:.3f} s each)"})
    for search in ("joint", "nested", "network"):
        problem = NASAcceleratorProblem(dataset=dataset, accelerator=accelerator, objective="constrained", search=search,
                                        samples=samples, rounds=rounds, naas_space=space)
        env = NASAcceleratorEnv(problem=problem)
        env.reset(seed=0)
        env.action_space.seed(0)

        def single() -> int:
            env.step(env.action_space.sample())
            env.reset()
            return 1

        n, secs = time_steps(single, min_seconds)
        rows.append({"what": "single env, random actions", "search": search, "num_envs": 1, "per_s": n / secs, "unit": "env steps/s"})
        for k in num_envs:
            venv = NASAcceleratorVectorEnv(num_envs=k, problem=problem)
            venv.reset(seed=0)
            venv.action_space.seed(0)

            def vector() -> int:  # counts finished one-step episodes: the autoreset steps between them evaluate nothing
                return int(venv.step(venv.action_space.sample())[2].sum())

            n, secs = time_steps(vector, min_seconds)
            rows.append({"what": "native vector env, random actions", "search": search, "num_envs": k, "per_s": n / secs,
                         "unit": "env steps/s (autoreset steps not counted)"})
    return rows
