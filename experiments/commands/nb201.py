"""``codesign-gym costmodel nb201``: every NAS-Bench-201 network priced on a named accelerator."""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path


def add_nb201_parser(commands: argparse._SubParsersAction) -> None:
    from codesign_gym.costmodels.naas.network_cost import DEFAULT_ROUNDS, DEFAULT_SAMPLES

    cmd = commands.add_parser("nb201", help="price all 15,625 NAS-Bench-201 networks on a named accelerator (loop-nest model)")
    cmd.add_argument("--accelerator", default="eyeriss", help="eyeriss|nvdla256|nvdla1024|shidiannao (default: eyeriss)")
    cmd.add_argument("--dataset", default="cifar10", help="cifar10|cifar100|ImageNet16-120 (default: cifar10)")
    cmd.add_argument("-o", "--output", required=True, help="output CSV path")
    cmd.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, help=f"inner mapping search: random mappings per layer (default: {DEFAULT_SAMPLES})")
    cmd.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help=f"inner mapping search: refinement rounds (default: {DEFAULT_ROUNDS})")
    cmd.set_defaults(handler=run_nb201)


COLUMNS = ("index", "arch_str", "accuracy", "latency_cycles", "latency_ms", "energy_pj", "edp_pj_cycles")


def run_nb201(args: argparse.Namespace) -> int:
    from codesign_gym.costmodels.naas.accelerators import baseline
    from codesign_gym.costmodels.naas.network_cost import price_space
    from codesign_gym.costmodels.workloads import nb201

    accelerator = baseline(args.accelerator)
    dataset = nb201.canonical_dataset(args.dataset)
    start = time.perf_counter()
    costs = price_space(accelerator, dataset, samples=args.samples, rounds=args.rounds)
    seconds = time.perf_counter() - start
    arch_str = nb201.load_accuracies().arch_str
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for i in range(costs.index.size):
            writer.writerow([int(costs.index[i]), arch_str[i], f"{costs.accuracy[i]:.4f}", int(costs.latency_cycles[i]),
                             f"{costs.latency_ms[i]:.6f}", f"{costs.energy_pj[i]:.1f}", f"{costs.edp[i]:.6e}"])
    best = int(costs.edp.argmin())
    print(f"{costs.index.size} networks on {accelerator.name} ({dataset}) priced in {seconds:.2f} s; wrote {out}")
    print(f"lowest EDP: index {best} {arch_str[best]} accuracy {costs.accuracy[best]:.2f}% "
          f"latency {costs.latency_ms[best]:.3f} ms energy {costs.energy_pj[best] * 1e-6:.1f} uJ")
    return 0
