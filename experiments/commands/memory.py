"""``codesign-gym costmodel memory``: peak SRAM and MACs of layer-by-layer or patch-based inference.

    codesign-gym costmodel memory --model mobilenet_v2 --resolution 224 [--patch-grid N --split-layer I] [--json]

Prints ``peak_kib_layerwise``, ``peak_kib``, ``macs``, ``extra_macs`` and ``split_output_shape``
([H, W, C] of layer I's output) and a few more fields (see :func:`memory_report`).
"""

from __future__ import annotations

import argparse

from codesign_gym.experiments.runner.tables import print_report


def add_memory_parser(commands: argparse._SubParsersAction) -> None:
    mem = commands.add_parser("memory", help="peak SRAM (int8 activations) and MACs of layer-by-layer or patch-based inference (MCUNetV2)")
    mem.add_argument("--model", default="mobilenet_v2", help="zoo name of a single-path network (mobilenet_v2, mnasnet) or a layer-table CSV (default: mobilenet_v2)")
    mem.add_argument("--resolution", type=int, default=None, help="input side in pixels for a zoo model (default: the model's, 224)")
    mem.add_argument("--width", type=float, default=None, help="width multiplier (mobilenet_v2 only; default 1.0)")
    mem.add_argument("--patch-grid", type=int, default=None, help="patches per side of the n x n grid (with --split-layer)")
    mem.add_argument("--split-layer", type=int, default=None, help="last layer (0-based, inclusive) of the patch stage (with --patch-grid)")
    mem.add_argument("--bytes-per-element", type=int, default=1, help="activation bytes per element (default: 1, int8)")
    mem.add_argument("--json", action="store_true", help="print one JSON object")
    mem.set_defaults(handler=run_memory)


def load_network(model: str, resolution: int | None = None, width: float | None = None):
    """The layer table for ``model`` at ``resolution`` (zoo models) and ``width`` (mobilenet_v2)."""
    import math

    from codesign_gym.costmodels.mobilenet_space import mobilenet_v2_variant
    from codesign_gym.costmodels.workloads import ZOO
    from codesign_gym.experiments.commands.workloads import load_named

    if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1):
        raise ValueError(f"--resolution {resolution!r}: expected a positive number of pixels")
    if width is not None and (isinstance(width, bool) or not isinstance(width, (int, float)) or not math.isfinite(width) or width <= 0):
        raise ValueError(f"--width {width!r}: expected a positive finite width multiplier")
    if width is not None and model != "mobilenet_v2":
        raise ValueError(f"--width applies to mobilenet_v2 only; got --model {model!r}")
    if model == "mobilenet_v2":
        return mobilenet_v2_variant(1.0 if width is None else width, 224 if resolution is None else resolution)
    if model in ZOO:
        return ZOO[model]() if resolution is None else ZOO[model](image_size=resolution)
    if resolution is not None:
        raise ValueError(f"--resolution applies to zoo models; {model!r} is a layer file with fixed sizes")
    return load_named(model)


def memory_report(table, split_layer: int | None, grid: int | None, bytes_per_element: int = 1) -> dict[str, object]:
    """The JSON fields for one schedule (sizes in KiB = 1024 bytes, MACs as integers)."""
    from codesign_gym.costmodels.patch_memory import NO_SPLIT, patch_memory

    if (split_layer is None) != (grid is None):
        raise ValueError("--patch-grid and --split-layer go together; expected both (patch-based) or neither (layer by layer)")
    if split_layer is not None and not 0 <= split_layer < len(table):
        raise ValueError(f"--split-layer: split_layer={split_layer}; expected a layer index in 0..{len(table) - 1} of {table.name!r} with --patch-grid; "
                         f"for layer-by-layer inference (no split) give neither --split-layer nor --patch-grid")
    if grid is not None and grid < 1:
        raise ValueError(f"--patch-grid {grid}: expected a positive number of patches per side")
    split = NO_SPLIT if split_layer is None else split_layer
    res = patch_memory(table, split, 1 if grid is None else grid, bytes_per_element=bytes_per_element)
    macs, extra = int(res.macs), int(res.extra_macs)
    base = macs - extra
    return {
        "model": table.name,
        "resolution": int(table.Y[0]),
        "split_layer": None if split_layer is None else int(split_layer),
        "patch_grid": None if grid is None else int(grid),
        "peak_kib_layerwise": float(res.layerwise_peak_bytes) / 1024.0,
        "peak_kib": float(res.peak_bytes) / 1024.0,
        "patch_stage_peak_kib": float(res.patch_stage_peak_bytes) / 1024.0,
        "rest_peak_kib": float(res.rest_peak_bytes) / 1024.0,
        "macs": macs,
        "extra_macs": extra,
        "extra_macs_pct": 100.0 * extra / base,
        "input_patch": [int(res.input_patch_rows), int(res.input_patch_cols)],
        "split_output_shape": None if split_layer is None else [int(v) for v in res.split_output_shape],
    }


def run_memory(args: argparse.Namespace) -> int:
    table = load_network(args.model, args.resolution, args.width)
    report = memory_report(table, args.split_layer, args.patch_grid, args.bytes_per_element)
    return print_report(report, args.json, key_width=22)
