"""``codesign-gym costmodel loopnest`` and ``codesign-gym bench loopnest``: the loop-nest model
(Timeloop semantics) on a Timeloop v0.4 input, and its throughput."""

from __future__ import annotations

import argparse
import json


def add_loopnest_parser(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser("loopnest", help="price a Timeloop v0.4 input with the loop-nest model (Timeloop semantics)")
    cmd.add_argument("--spec", required=True, help="Timeloop input, e.g. a case's parsed-processed-input.yaml")
    cmd.add_argument("--mapping", default=None, help="mapping YAML (Timeloop map.yaml); default: the input's own mapping section")
    cmd.add_argument("--ert", default=None, help="energy reference table (*.ERT.yaml); default: the one beside the input, "
                                                  "else energies from the shipped Accelergy tables")
    cmd.add_argument("--json", action="store_true", help="print a JSON object instead of the text summary")
    cmd.set_defaults(handler=run_loopnest)


def add_loopnest_bench_parser(benches: argparse._SubParsersAction) -> None:
    bench = benches.add_parser("loopnest", help="loop-nest model: mappings/s on a 4-level architecture per batch size")
    bench.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 1_000, 10_000, 100_000])
    bench.add_argument("--seconds", type=float, default=1.0, help="minimum CPU time per row")
    bench.add_argument("--markdown", action="store_true")
    bench.set_defaults(handler=run_loopnest_bench)


def run_loopnest(args: argparse.Namespace) -> int:
    from codesign_gym.costmodels.loopnest import evaluate, read_spec, summary_dict, summary_text

    spec = read_spec(args.spec, args.mapping, args.ert)
    if spec.mapping is None:
        raise ValueError(f"{args.spec} has no mapping; pass --mapping MAP.yaml (e.g. the map.yaml Timeloop's mapper wrote)")
    result = evaluate(spec.problem, spec.architecture, spec.mapping, strict=True)
    if args.json:
        print(json.dumps(summary_dict(spec.problem, spec.architecture, result), indent=2))
    else:
        print(summary_text(spec.problem, spec.architecture, result))
    return 0


def run_loopnest_bench(args: argparse.Namespace) -> int:
    from codesign_gym.costmodels.loopnest.bench import run_benchmark
    from codesign_gym.experiments.runner.tables import render_table

    if any(b < 1 for b in args.batch_sizes):
        raise ValueError(f"--batch-sizes {args.batch_sizes}: expected positive batch sizes")
    rows = run_benchmark(batch_sizes=tuple(args.batch_sizes), min_seconds=args.seconds)
    for row in rows:
        row["mappings_per_s"] = round(row["mappings_per_s"])
        row["valid_fraction"] = round(row["valid_fraction"], 4)
    print("loop-nest model, 4-level architecture (DRAM, 128 KiB buffer, 256 PEs x (scratchpad, registers)), "
          "3x3 conv C=M=64 P=Q=56; mappings per CPU-second of this process (use OMP_NUM_THREADS=1 for one core)")
    print(render_table(rows, markdown=args.markdown))
    return 0
