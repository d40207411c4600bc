"""Scale-out benchmarks: RLlib sampling throughput per env-runner count and vectorization mode,
and sweep throughput (trials per minute) on 1 vs N loopback Ray nodes.

Printed by ``codesign-gym bench rllib`` and ``codesign-gym bench sweep``; never asserted in tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from codesign_gym.agents.registry import make_method
from codesign_gym.agents.rllib.run_options import RLlibOptions

#: gymnasium vectorization modes RLlib can drive: our native VectorEnv, or a SyncVectorEnv of single envs.
VECTORIZE_MODES = ("vector_entry_point", "sync")


def _confuciux_problem(workload: str):
    """ConfuciuX's problem on ``workload`` and the options of its RL methods, with an MLP policy
    and 64 episodes per batch (what the figures in docs/cluster.md were measured with)."""
    from codesign_gym.experiments.registry import get_experiment

    exp = get_experiment("confuciux")
    options = exp.options(model=workload)
    problem = exp.problems(options)[0][0]
    opts = dict(exp.method_options(options, problem)) if exp.method_options else {}
    return problem, {**opts, "module": "mlp", "episodes_per_batch": 64}


def bench_rllib_scaling(workload: str = "cfx/mobilenet_v2", env_runners=(1, 2, 4), envs_per_runner: int = 16,
                        modes=VECTORIZE_MODES, iterations: int = 5, steps_per_call: int = 4096, address: str | None = None) -> list[dict]:
    """RLlib PPO sampling throughput: env steps/s of ``EnvRunner.sample`` on all remote env runners
    in parallel (policy forward passes included, learner updates excluded), after a warm-up, for
    each vectorization mode x number of env runners. An embedded Ray gets at least as many
    logical CPUs as the largest runner count (each runner reserves one), so on a machine with
    fewer cores the runners share them: the figures then show what oversubscription costs."""
    from codesign_gym.experiments.runner.ray_session import ray_session

    for mode in modes:
        if mode not in VECTORIZE_MODES:
            raise ValueError(f"vectorize mode {mode!r}: expected one of {VECTORIZE_MODES}")
    if not env_runners or min(env_runners) < 1:
        raise ValueError(f"env_runners {env_runners!r}: expected counts >= 1")
    problem, method_opts = _confuciux_problem(workload)
    rows = []
    with ray_session(address, num_cpus=max(max(env_runners), os.cpu_count() or 1)):
        for mode in modes:
            for runners in env_runners:
                method = make_method("ppo", **method_opts, rllib=RLlibOptions(num_env_runners=runners, envs_per_runner=envs_per_runner))
                config = method.algorithm_config(problem, seed=0).env_runners(gym_env_vectorize_mode=mode)
                algo = config.build_algo()

                def sample(runner) -> int:
                    return sum(len(ep) for ep in runner.sample(num_timesteps=steps_per_call, random_actions=False))

                algo.env_runner_group.foreach_env_runner(sample, local_env_runner=False)  # warm-up
                t0 = time.perf_counter()
                steps = sum(sum(algo.env_runner_group.foreach_env_runner(sample, local_env_runner=False)) for _ in range(iterations))
                secs = time.perf_counter() - t0
                algo.stop()
                rows.append({"vectorize_mode": mode, "env_runners": runners, "envs_per_runner": envs_per_runner, "sample_steps_per_s": steps / secs})
    base = {r["env_runners"]: r["sample_steps_per_s"] for r in rows if r["vectorize_mode"] == "sync"}
    for r in rows:
        r["speedup_vs_1_runner"] = r["sample_steps_per_s"] / next(x["sample_steps_per_s"] for x in rows if x["vectorize_mode"] == r["vectorize_mode"])
        if r["vectorize_mode"] == "vector_entry_point" and r["env_runners"] in base:
            r["vector_vs_sync"] = r["sample_steps_per_s"] / base[r["env_runners"]]
    return rows


def _bench_sweep_file(trials: int, budget: int, method: str) -> str:
    return json.dumps({"name": "bench", "problems": [{"experiment": "confuciux", "model": "cfx/mobilenet_v2", "dataflow": "dla"}],
                       "methods": [method], "seeds": trials, "budget": budget, "resources": {"cpus_per_trial": 1, "custom": {"slot": 1}},
                       "max_failures": 0})


def bench_sweep(nodes=(1, 2), trials: int = 24, budget: int = 5000, method: str = "annealing", cpus_per_node: int = 1) -> list[dict]:
    """Trials per minute of one small sweep (``trials`` seeds of ``method`` on ConfuciuX's
    MobileNetV2, ``budget`` evaluations each: about 1.4 s per trial for annealing's default, set-up included) on a
    loopback cluster of each size in ``nodes`` (every node ``cpus_per_node`` CPUs and as many
    trial slots), driven by the real command line (``codesign-gym sweep --address``).

    Columns: ``trials_per_min`` counts from the first trial's start to the last trial's end (the
    scheduling and execution throughput); ``end_to_end_per_min`` includes the driver's start-up
    (Python, Ray connection, Tune set-up), which a large sweep amortises.
    """
    from codesign_gym.agents.search import SEARCH_METHODS
    from codesign_gym.experiments.sweep.cluster import LocalCluster
    from codesign_gym.experiments.sweep.trials import read_done

    if method not in SEARCH_METHODS:
        raise ValueError(f"method {method!r}: expected one of {sorted(SEARCH_METHODS)}")
    if not nodes or min(nodes) < 1 or trials < 1 or budget < 1 or cpus_per_node < 1:
        raise ValueError(f"nodes={nodes}, trials={trials}, budget={budget}, cpus_per_node={cpus_per_node}: expected positive values")
    rows = []
    for n in nodes:
        with LocalCluster() as cluster:
            cluster.start_head(num_cpus=cpus_per_node, resources={"slot": cpus_per_node})
            for i in range(1, n):
                cluster.add_node(f"w{i}", num_cpus=cpus_per_node, resources={"slot": cpus_per_node})
            sweep = cluster.root / "bench.yaml"
            sweep.write_text(_bench_sweep_file(trials, budget, method))
            results = cluster.root / "results"
            log = cluster.root / "driver.log"
            t0 = time.time()
            with log.open("w") as fh:
                done = subprocess.run([sys.executable, "-m", "codesign_gym.experiments.cli", "sweep", str(sweep), "--output-dir", str(results),
                                       "--address", cluster.address], env=cluster.driver_env, stdout=fh, stderr=subprocess.STDOUT)
            wall = time.time() - t0
            if done.returncode != 0:
                raise RuntimeError(f"benchmark sweep on {n} node(s) failed:\n{log.read_text()[-3000:]}")
            records = [read_done(results, p.name) for p in (results / "trials").iterdir()]
            span = max(r["finished"] for r in records) - min(r["started"] for r in records)
            rows.append({"nodes": n, "cpus_per_node": cpus_per_node, "trials": len(records), "method": method, "budget": budget,
                         "trials_per_min": 60 * len(records) / span, "end_to_end_per_min": 60 * len(records) / wall,
                         "mean_trial_s": sum(r["attempt_s"] for r in records) / len(records)})
    for r in rows:
        r["speedup"] = r["trials_per_min"] / rows[0]["trials_per_min"]
    return rows
