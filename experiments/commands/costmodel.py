"""``codesign-gym costmodel ...``: the dataflow cost model from the command line.

``memory`` (:mod:`.memory`) gives the peak SRAM and MACs of layer-by-layer or
patch-based inference. ``demo`` prices every layer of a workload on each built-in dataflow at one hardware point and
prints one row per dataflow (whole-network totals). ``predict`` prices a CSV of MAESTRO-style
cases and writes the results beside the inputs.
"""

from __future__ import annotations

import argparse

import numpy as np

#: Demo hardware: a 256-PE array with MAESTRO's usual reference NoC and off-chip bandwidths.
DEMO_HARDWARE = dict(num_pes=256, ktile=4, noc_bw=64, offchip_bw=70000, noc_latency=1)


def add_parser(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("costmodel", help="run the dataflow cost model (MAESTRO semantics)")
    commands = group.add_subparsers(dest="costmodel_command", required=True, metavar="SUBCOMMAND")

    demo = commands.add_parser("demo", help="print a whole-network table for a workload on the built-in dataflows")
    demo.add_argument("--workload", default="mobilenet_v2", help="zoo name, cfx/<name>, or a layer-table CSV (default: mobilenet_v2)")
    demo.add_argument("--num-pes", type=int, default=DEMO_HARDWARE["num_pes"], help="processing elements (default: 256)")
    demo.add_argument("--ktile", type=int, default=DEMO_HARDWARE["ktile"], help="KTileSz of the cfx_* dataflows (default: 4)")
    demo.add_argument("--noc-bw", type=int, default=DEMO_HARDWARE["noc_bw"], help="NoC bandwidth, elements/cycle (default: 64)")
    demo.add_argument("--offchip-bw", type=int, default=DEMO_HARDWARE["offchip_bw"], help="off-chip bandwidth, elements/cycle (default: 70000)")
    demo.add_argument("--noc-latency", type=int, default=DEMO_HARDWARE["noc_latency"], help="NoC latency, cycles (default: 1)")
    demo.add_argument("--dataflows", nargs="+", default=None, help="dataflows to compare (default: every built-in one)")
    demo.add_argument("--per-layer", action="store_true", help="also print one row per layer for the first dataflow")
    demo.set_defaults(handler=run_demo)

    predict = commands.add_parser("predict", help="price a CSV of cases (MAESTRO's input columns) and write the results")
    predict.add_argument("cases", help="input CSV: name,type,K,C,Y,X,R,S,stride,dataflow,ktile,num_pes,noc_bw_cstr,offchip_bw_cstr,noc_latency")
    predict.add_argument("-o", "--output", required=True, help="output CSV path")
    predict.set_defaults(handler=run_predict)

    from codesign_gym.experiments.commands.memory import add_memory_parser

    add_memory_parser(commands)

    from codesign_gym.experiments.commands.xavier import add_xavier_parser

    add_xavier_parser(commands)

    from codesign_gym.experiments.commands.loopnest import add_loopnest_parser

    add_loopnest_parser(commands)

    from codesign_gym.experiments.commands.nb201 import add_nb201_parser

    add_nb201_parser(commands)


def demo_rows(workload: str, hardware: dict, dataflows: list[str] | None = None) -> list[dict[str, object]]:
    """Whole-network totals per dataflow: one dict row each (cycles, MACs, pJ, MAESTRO area/power).

    Area and power are those of an accelerator that fits the largest per-layer buffer
    requirement, i.e. the maximum over layers; runtime, MACs and energy are sums over layers.
    """
    from codesign_gym.costmodels.dataflow import DATAFLOWS, Hardware, evaluate
    from codesign_gym.costmodels.workloads import get_workload

    table = get_workload(workload)
    hw = Hardware(**hardware)
    rows = []
    for name in dataflows or list(DATAFLOWS):
        res = evaluate(table, hw, name)
        rows.append(
            {
                "dataflow": name,
                "layers": len(table),
                "runtime_cycles": int(np.sum(res.runtime_cycles)),
                "macs": int(np.sum(res.macs)),
                "macs_ideal": int(np.sum(res.macs_ideal)),
                "utilization": float(np.sum(res.macs_ideal) / (np.sum(res.runtime_cycles) * hardware["num_pes"])),
                "energy_uJ": float(np.sum(res.energy_pj) * 1e-6),
                "l1_bytes_max": int(np.max(res.l1_bytes_required)),
                "l2_bytes_max": int(np.max(res.l2_bytes_required)),
                "area_max": float(np.max(res.area)),
                "power_max": float(np.max(res.power)),
            }
        )
    return rows


def run_demo(args: argparse.Namespace) -> int:
    from codesign_gym.experiments.runner.tables import render_table

    hardware = dict(num_pes=args.num_pes, ktile=args.ktile, noc_bw=args.noc_bw, offchip_bw=args.offchip_bw, noc_latency=args.noc_latency)
    rows = demo_rows(args.workload, hardware, args.dataflows)
    print(f"workload {args.workload}: {rows[0]['layers']} layers, {rows[0]['macs_ideal']:,} MACs; hardware {hardware}")
    print("runtime/MACs/energy summed over layers; L1/L2/area/power: max over layers (MAESTRO's units)\n")
    print(render_table(rows))
    if args.per_layer:
        _print_per_layer(args.workload, hardware, rows[0]["dataflow"])
    return 0


def _print_per_layer(workload: str, hardware: dict, dataflow: str) -> None:
    from codesign_gym.costmodels.dataflow import Hardware, evaluate
    from codesign_gym.costmodels.workloads import LayerType, get_workload
    from codesign_gym.experiments.runner.tables import render_table

    table = get_workload(workload)
    res = evaluate(table, Hardware(**hardware), dataflow)
    rows = [
        {
            "layer": table.layer_names[i],
            "type": LayerType(int(table.type[i])).name,
            "runtime_cycles": int(res.runtime_cycles[i]),
            "macs": int(res.macs[i]),
            "energy_pJ": float(res.energy_pj[i]),
            "l1_bytes": int(res.l1_bytes_required[i]),
            "l2_bytes": int(res.l2_bytes_required[i]),
        }
        for i in range(len(table))
    ]
    print(f"\nper layer, dataflow {dataflow}:\n")
    print(render_table(rows))


def run_predict(args: argparse.Namespace) -> int:
    from codesign_gym.costmodels.dataflow.predict import predict_csv

    rows = predict_csv(args.cases, args.output)
    print(f"wrote {len(rows)} rows to {args.output}")
    return 0
