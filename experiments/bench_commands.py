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


def run_costmodel_bench(args: argparse.Namespace) -> int:
    from codesign_gym.costmodels.dataflow.bench import run_benchmark
    from codesign_gym.experiments.tables import render_table

    rows = run_benchmark(batch_sizes=tuple(args.batch_sizes), backends=tuple(args.backends), dataflows=tuple(args.dataflows))
    print(render_table(rows, markdown=args.markdown))
    return 0
