"""``codesign-gym bench ...``: throughput benchmarks that print their figures.

Performance targets are checked here, never by timed assertions in tests. For one-core
figures run e.g. ``OMP_NUM_THREADS=1 taskset -c 0 codesign-gym bench costmodel``.
"""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("bench", help="throughput benchmarks (print evaluations/s)")
    benches = group.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    cost = benches.add_parser("costmodel", help="dataflow cost model: evaluations/s (layer x design points) per batch size")
    cost.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 1_000, 100_000, 1_000_000])
    cost.add_argument("--backends", nargs="+", default=["numpy", "torch"], choices=["numpy", "torch"])
    cost.add_argument("--dataflows", nargs="+", default=["cfx_dla", "cfx_shi", "cfx_eye", "kcp", "yrp", "xp", "ykp"])
    cost.add_argument("--markdown", action="store_true", help="print a Markdown table")
    cost.set_defaults(handler=run_costmodel_bench)
    env = benches.add_parser("env", help="env steps/s: single env, native vector env and SyncVectorEnv (random actions)")
    env.add_argument("--workload", default="cfx/mobilenet_v2")
    env.add_argument("--num-envs", type=int, nargs="+", default=[1, 64, 1024, 4096])
    env.add_argument("--seconds", type=float, default=1.0, help="minimum timing per row")
    env.add_argument("--no-sync", action="store_true", help="skip the SyncVectorEnv comparison")
    env.add_argument("--markdown", action="store_true")
    env.set_defaults(handler=run_env_bench)
    rl = benches.add_parser("rllib", help="RLlib PPO sampling throughput with 1, 2 and 4 env runners, native vector env vs SyncVectorEnv")
    rl.add_argument("--workload", default="cfx/mobilenet_v2")
    rl.add_argument("--env-runners", type=int, nargs="+", default=[1, 2, 4])
    rl.add_argument("--vectorize-modes", nargs="+", default=["vector_entry_point", "sync"], choices=["vector_entry_point", "sync"],
                    help="gymnasium vectorization of each env runner's envs (default: both)")
    rl.add_argument("--envs-per-runner", type=int, default=16)
    rl.add_argument("--address", default=None, help="Ray cluster (default: $RAY_ADDRESS, else embedded local Ray)")
    rl.add_argument("--markdown", action="store_true")
    rl.set_defaults(handler=run_rllib_bench)
    sweep = benches.add_parser("sweep", help="sweep throughput (trials/min) of a tiny sweep on 1 vs 2 loopback Ray nodes")
    sweep.add_argument("--nodes", type=int, nargs="+", default=[1, 2], help="cluster sizes to compare (default: 1 2)")
    sweep.add_argument("--trials", type=int, default=24, help="trials per sweep (default: 24)")
    sweep.add_argument("--budget", type=int, default=5000, help="design evaluations per trial (default: 5000)")
    sweep.add_argument("--method", default="annealing", help="search method of every trial (default: annealing: about 1.4 s per trial, problem set-up included)")
    sweep.add_argument("--cpus-per-node", type=int, default=1, help="CPUs (and trial slots) per node (default: 1)")
    sweep.add_argument("--markdown", action="store_true")
    sweep.set_defaults(handler=run_sweep_bench)

    from codesign_gym.experiments.commands.loopnest import add_loopnest_bench_parser

    add_loopnest_bench_parser(benches)

    naas = benches.add_parser("naas", help="NAAS co-design: NB201 space on a new accelerator per second, NASAccelerator-v0 env steps/s")
    naas.add_argument("--accelerator", default="eyeriss")
    naas.add_argument("--dataset", default="cifar10")
    naas.add_argument("--num-envs", type=int, nargs="+", default=[1, 16, 256])
    naas.add_argument("--seconds", type=float, default=2.0, help="minimum timing per row")
    naas.add_argument("--markdown", action="store_true")
    naas.set_defaults(handler=run_naas_bench)


def run_costmodel_bench(args: argparse.Namespace) -> int:
    from codesign_gym.costmodels.dataflow.bench import run_benchmark
    from codesign_gym.experiments.runner.tables import render_table

    rows = run_benchmark(batch_sizes=tuple(args.batch_sizes), backends=tuple(args.backends), dataflows=tuple(args.dataflows))
    for row in rows:
        row["evals_per_s"] = round(row["evals_per_s"])
        row["peak_mem_MB"] = round(row.pop("peak_mem_bytes") / 2**20, 1)
    print(render_table(rows, markdown=args.markdown))
    return 0


def run_env_bench(args: argparse.Namespace) -> int:
    from codesign_gym.experiments.bench.env import bench_env
    from codesign_gym.experiments.runner.tables import render_table

    rows = bench_env(workload=args.workload, num_envs=tuple(args.num_envs), min_seconds=args.seconds, sync=not args.no_sync)
    for row in rows:
        row["steps_per_s"] = round(row["steps_per_s"])
    print(render_table(rows, columns=["env", "num_envs", "steps_per_s", "vector_speedup"], markdown=args.markdown))
    return 0


def run_rllib_bench(args: argparse.Namespace) -> int:
    from codesign_gym.experiments.bench.cluster import bench_rllib_scaling
    from codesign_gym.experiments.runner.tables import render_table

    rows = bench_rllib_scaling(workload=args.workload, env_runners=tuple(args.env_runners), envs_per_runner=args.envs_per_runner,
                               modes=tuple(args.vectorize_modes), address=args.address)
    for row in rows:
        row["sample_steps_per_s"] = round(row["sample_steps_per_s"])
        for key in ("speedup_vs_1_runner", "vector_vs_sync"):
            if key in row:
                row[key] = round(row[key], 2)
    print(render_table(rows, markdown=args.markdown))
    return 0


def run_sweep_bench(args: argparse.Namespace) -> int:
    from codesign_gym.experiments.bench.cluster import bench_sweep
    from codesign_gym.experiments.runner.tables import render_table

    rows = bench_sweep(nodes=tuple(args.nodes), trials=args.trials, budget=args.budget, method=args.method, cpus_per_node=args.cpus_per_node)
    for row in rows:
        for key in ("trials_per_min", "end_to_end_per_min", "mean_trial_s", "speedup"):
            row[key] = round(row[key], 2)
    print(render_table(rows, markdown=args.markdown))
    return 0


def run_naas_bench(args: argparse.Namespace) -> int:
    from codesign_gym.experiments.naas.bench import bench_naas
    from codesign_gym.experiments.runner.tables import render_table

    rows = bench_naas(accelerator=args.accelerator, dataset=args.dataset, num_envs=tuple(args.num_envs), min_seconds=args.seconds)
    for row in rows:
        row["per_s"] = round(row["per_s"], 1)
    print(render_table(rows, markdown=args.markdown))
    return 0
