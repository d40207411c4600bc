"""``codesign-gym costmodel xavier``: latency, energy, power and accuracy per inference of one
HADAS design (AttentiveNAS backbone, early exits, exit policy, DVFS) on the Jetson AGX Xavier model.

    codesign-gym costmodel xavier --backbone a0 --dataset cifar-100 [--exits none|all|1,4,...]
        [--policy oracle|threshold] [--threshold T] [--gpu-mhz F --emc-mhz F --cpu-mhz F | --power-mode NAME]
        [--energy-scope module|gpu_rail] --json

Without frequencies it runs at MAXN (every domain at its highest level). With ``--power-mode``
the highest levels under that mode's caps are used (and its powered GPU TPCs); given frequencies
must be real levels at or below the mode's caps. Exits are numbered as in HADAS's exit_perf files
(1 = the first exit position). ``--exits none`` prices the static backbone, which needs no exit
accuracies (every backbone a0..a6); its accuracy is the final classifier's from the exit file that
has it (``accuracy_from``; ``null`` where none does). ``--energy-scope``: ``module`` (every module
rail, comparable with HADAS's measurements; default) or ``gpu_rail`` (the GPU rail alone, what the
measured perf_prediction power rows are).
"""

from __future__ import annotations

import argparse

from codesign_gym.experiments.runner.tables import print_report


def add_xavier_parser(commands: argparse._SubParsersAction) -> None:
    x = commands.add_parser("xavier", help="HADAS on the Jetson AGX Xavier: latency, energy, power, accuracy of one design")
    x.add_argument("--backbone", default="a0", help="AttentiveNAS backbone a0..a6 (default: a0)")
    x.add_argument("--dataset", default="cifar-100", help="cifar-100|tiny-imagenet (default: cifar-100)")
    x.add_argument("--exit-set", default="current", help="current|old_res exit head data (default: current; a6 needs old_res)")
    x.add_argument("--exits", default="none", help="none, all, or exit numbers like 1,4,7 (default: none)")
    x.add_argument("--policy", default="oracle", help="oracle (upper bound) | threshold (modelled) (default: oracle)")
    x.add_argument("--threshold", type=float, default=0.8, help="confidence threshold in [0, 1] of the threshold policy (default: 0.8)")
    x.add_argument("--gpu-mhz", type=float, default=None, help="GPU level in MHz (default: the highest allowed)")
    x.add_argument("--emc-mhz", type=float, default=None, help="EMC (memory) level in MHz (default: the highest allowed)")
    x.add_argument("--cpu-mhz", type=float, default=None, help="CPU level in MHz (default: the highest allowed)")
    x.add_argument("--power-mode", default=None, help="nvpmodel mode: MAXN, MODE_10W, MODE_15W, MODE_30W_ALL, ... (default: none, MAXN levels)")
    x.add_argument("--energy-scope", default="module",
                   help="module (every module rail, as HADAS measured) | gpu_rail (the GPU rail alone) (default: module)")
    x.add_argument("--json", action="store_true", help="print one JSON object")
    x.set_defaults(handler=run_xavier)


def parse_exits(text: str, num_exits: int, backbone: str) -> list[int]:
    """``none`` -> [], ``all`` -> 1..E, ``1,4`` -> [1, 4]; ValueError for a number outside 1..E."""
    t = text.strip().lower()
    if t == "none":
        return []
    if t == "all":
        return list(range(1, num_exits + 1))
    try:
        out = sorted({int(v) for v in t.split(",") if v.strip()})
    except ValueError:
        raise ValueError(f"--exits {text!r}: expected none, all, or comma-separated exit numbers like 1,4,7") from None
    bad = [v for v in out if not 1 <= v <= num_exits]
    if bad or not out:
        raise ValueError(f"--exits {text!r}: exit {bad[0] if bad else text} is beyond backbone {backbone}'s exits; expected numbers in 1..{num_exits}")
    return out


def xavier_report(backbone: str, dataset: str = "cifar-100", exits: str = "none", policy: str = "oracle", threshold: float = 0.8,
                  gpu_mhz: float | None = None, emc_mhz: float | None = None, cpu_mhz: float | None = None,
                  power_mode: str | None = None, exit_set: str = "current", energy_scope: str = "module") -> dict[str, object]:
    """The JSON fields for one design: ``latency_ms``, ``energy_mj``, ``power_w`` and ``accuracy`` (%)
    per inference, and the design with its exit shares."""
    import numpy as np

    from codesign_gym.costmodels.xavier import POLICIES, POLICY_LABELS, XavierSpace, load_board
    from codesign_gym.costmodels.xavier.backbones import check_backbone, check_dataset, load_backbone
    from codesign_gym.costmodels.xavier.evaluate import final_accuracy, static_backbone
    from codesign_gym.costmodels.xavier.exits import EXIT_SETS, check_threshold
    from codesign_gym.costmodels.xavier.model import check_scope

    if policy not in POLICIES:
        raise ValueError(f"--policy {policy!r}: expected one of {list(POLICIES)}")
    if exit_set not in EXIT_SETS:
        raise ValueError(f"exit_set {exit_set!r} is not known; expected one of {EXIT_SETS}")
    check_threshold(threshold)
    check_scope(energy_scope)
    check_dataset(dataset)
    check_backbone(backbone)
    board = load_board()
    mode = board.mode(power_mode) if power_mode is not None else None
    freqs = {}
    for dom, val in (("gpu", gpu_mhz), ("emc", emc_mhz), ("cpu", cpu_mhz)):
        if val is None:
            freqs[dom] = float(board.allowed_levels(dom, power_mode)[-1])
        else:
            board.level_index(dom, val, power_mode)
            freqs[dom] = float(val)
    tpc = 1.0 if mode is None else mode.active_tpc_fraction
    chosen = parse_exits(exits, load_backbone(backbone, dataset).config.num_exits, backbone)
    common = {"backbone": backbone, "dataset": dataset, "exits": chosen, "gpu_mhz": freqs["gpu"], "emc_mhz": freqs["emc"],
              "cpu_mhz": freqs["cpu"], "power_mode": power_mode or "MAXN", "energy_scope": energy_scope}
    if not chosen:  # the static backbone: no exit accuracies needed
        r = static_backbone(backbone, dataset, freqs["gpu"], freqs["emc"], freqs["cpu"], tpc, energy_scope)
        acc, source = final_accuracy(backbone, dataset, exit_set)
        return {"latency_ms": float(r["latency_ms"]), "energy_mj": float(r["energy_mj"]), "power_w": float(r["power_w"]), "accuracy": acc,
                **common, "accuracy_from": source, "policy": "static (no exits)", "threshold": None, "exit_share": [1.0],
                "static_energy_mj": float(r["energy_mj"]), "gpu_rail_energy_mj": float(r["gpu_rail_energy_mj"])}
    space = XavierSpace(dataset, exit_set, backbones=(backbone,), scope=energy_scope)
    mask = np.zeros((1, space.max_exits), dtype=bool)
    mask[0, np.array(chosen, dtype=np.int64) - 1] = True
    r = space.evaluate([0], mask, policy, threshold, freqs["gpu"], freqs["emc"], freqs["cpu"], tpc)
    return {
        "latency_ms": float(r.latency_ms[0]), "energy_mj": float(r.energy_mj[0]), "power_w": float(r.power_w[0]),
        "accuracy": float(r.accuracy[0]), **common, "accuracy_from": exit_set, "policy": POLICY_LABELS[policy],
        "threshold": threshold if policy == "threshold" else None,
        "exit_share": [round(float(v), 6) for v in r.exit_share[0, list(np.array(chosen) - 1) + [-1]]],
        "static_energy_mj": float(r.static_energy_mj[0]),
    }


def run_xavier(args: argparse.Namespace) -> int:
    report = xavier_report(args.backbone, args.dataset, args.exits, args.policy, args.threshold, args.gpu_mhz, args.emc_mhz,
                           args.cpu_mhz, args.power_mode, args.exit_set, args.energy_scope)
    return print_report(report, args.json, key_width=18)
