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
    rl = benches.add_parser("rllib", help="RLlib PPO sampling throughput with 1 and 2 env runners")
    rl.add_argument("--workload", default="cfx/mobilenet_v2")
    rl.add_argument("--env-runners", type=int, nargs="+", default=[1, 2])
    rl.add_argument("--envs-per-runner", type=int, default=16)
    rl.add_argument("--address", default=None, help="Ray cluster (default: $RAY_ADDRESS, else embedded local Ray)")
    rl.add_argument("--markdown", action="store_true")
    rl.set_defaults(handler=run_rllib_bench)


def run_costmodel_bench(args: argparse.Namespace) -> int:
    from codesign_gym.costmodels.dataflow.bench import run_benchmark
    from codesign_gym.experiments.tables import render_table

    rows = run_benchmark(batch_sizes=tuple(args.batch_sizes), backends=tuple(args.backends), dataflows=tuple(args.dataflows))
    for row in rows:
        row["evals_per_s"] = round(row["evals_per_s"])
        row["peak_mem_MB"] = round(row.pop("peak_mem_bytes") / 2**20, 1)
    print(render_table(rows, markdown=args.markdown))
    return 0


def run_env_bench(args: argparse.Namespace) -> int:
    from codesign_gym.experiments.env_bench import bench_env
    from codesign_gym.experiments.tables import render_table

    rows = bench_env(workload=args.workload, num_envs=tuple(args.num_envs), min_seconds=args.seconds, sync=not args.no_sync)
    for row in rows:
        row["steps_per_s"] = round(row["steps_per_s"])
    print(render_table(rows, columns=["env", "num_envs", "steps_per_s", "vector_speedup"], markdown=args.markdown))
    return 0


def run_rllib_bench(args: argparse.Namespace) -> int:
    from codesign_gym.experiments.env_bench import bench_rllib
    from codesign_gym.experiments.tables import render_table

    rows = bench_rllib(workload=args.workload, env_runners=tuple(args.env_runners), envs_per_runner=args.envs_per_runner, address=args.address)
    for row in rows:
        row["sample_steps_per_s"] = round(row["sample_steps_per_s"])
    print(render_table(rows, markdown=args.markdown))
    return 0
