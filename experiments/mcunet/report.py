"""MCUNetV2's schedule table: every patch-based schedule of the network, from the cost model.

The table is a property of the network, not of the runs: :func:`schedule_table` prices
layer-by-layer inference and every valid split layer x grid with
:func:`~codesign_gym.costmodels.patch_memory.patch_memory`; :func:`write_report` writes
``schedules.csv`` (all), ``schedules.md`` (the fewest-MACs schedule under 256/320/512 KiB and the
run's budget, and the Pareto front of peak SRAM vs MACs) and ``peak_vs_extra_macs.png``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import numpy as np

from codesign_gym.costmodels.patch_memory import NO_SPLIT, patch_memory, valid_split_layers
from codesign_gym.experiments.mcunet import GRIDS, problems
from codesign_gym.experiments.runner.tables import render_table

#: SRAM sizes of common microcontrollers (KiB) that the schedule table always reports.
MCU_SRAM_KIB = (256, 320, 512)


def schedule_table(table, grids: Sequence[int] = GRIDS) -> list[dict[str, object]]:
    """Every schedule of the layer table: layer by layer, then each valid split x grid (grids
    larger than the split's map dropped), priced in one cost-model call. Sizes in KiB (int8
    activations), MACs as integers, ``extra_macs_pct`` in % of layer by layer."""
    splits = valid_split_layers(table)
    side = np.minimum(table.out_rows[splits], table.out_cols[splits])
    s, g = np.meshgrid(splits, np.asarray(grids), indexing="ij")
    keep = g <= side[:, None]
    split = np.concatenate([[NO_SPLIT], s[keep]])
    grid = np.concatenate([[1], g[keep]])
    res = patch_memory(table, split, grid)
    base = int(res.macs[0])
    rows = []
    for i in range(split.size):
        rows.append({
            "split_layer": int(split[i]),
            "split_name": "-" if split[i] < 0 else table.layer_names[int(split[i])],
            "grid": 0 if split[i] < 0 else int(grid[i]),
            "split_output_hwc": "-" if split[i] < 0 else "x".join(str(int(v)) for v in res.split_output_shape[i]),
            "peak_kib": float(res.peak_bytes[i]) / 1024,
            "patch_stage_peak_kib": float(res.patch_stage_peak_bytes[i]) / 1024,
            "rest_peak_kib": float(res.rest_peak_bytes[i]) / 1024,
            "macs": int(res.macs[i]),
            "extra_macs": int(res.extra_macs[i]),
            "extra_macs_pct": 100.0 * int(res.extra_macs[i]) / base,
        })
    return rows


def pareto_front(rows: list[dict]) -> list[dict]:
    """Schedules no other beats on both peak SRAM and MACs, by ascending peak."""
    front, best_macs = [], None
    for r in sorted(rows, key=lambda r: (r["peak_kib"], r["macs"])):
        if best_macs is None or r["macs"] < best_macs:
            front.append(r)
            best_macs = r["macs"]
    return front


def best_under(rows: list[dict], sram_kib: float) -> dict | None:
    """The fewest-MACs schedule whose peak fits ``sram_kib`` KiB (ties: lower peak), or None."""
    fits = [r for r in rows if r["peak_kib"] <= sram_kib]
    return min(fits, key=lambda r: (r["macs"], r["peak_kib"])) if fits else None


def schedules_markdown(rows: list[dict], sram_kib: float, title: str) -> str:
    """``schedules.md``: the fewest-MACs schedule under each SRAM budget and the Pareto front."""
    budgets = sorted(set(MCU_SRAM_KIB) | {float(sram_kib)})
    best = [{"sram_kib": b, **(best_under(rows, b) or {"split_name": "none fits"})} for b in budgets]
    fmt = lambda rs: [{k: (f"{v:.2f}" if isinstance(v, float) else v) for k, v in r.items()} for r in rs]  # noqa: E731
    return (
        f"# {title}: patch-based schedules\n\nLayer by layer: peak {rows[0]['peak_kib']:.1f} KiB, {rows[0]['macs']:,} MACs. "
        f"{len(rows) - 1} patch schedules (every valid split layer x grid {GRIDS[0]}..{GRIDS[-1]}).\n\n"
        f"## Fewest MACs under each SRAM budget\n\n{render_table(fmt(best))}\n\n"
        f"## Pareto front (peak SRAM vs MACs)\n\n{render_table(fmt(pareto_front(rows)))}\n"
    )


def write_report(output_dir: str | Path, options) -> list[Path]:
    """``schedules.csv``, ``schedules.md`` and ``peak_vs_extra_macs.png`` of ``options``' network
    (``width``, ``resolution``) and SRAM budget (``sram_kib``) in ``output_dir``, titled with the
    problem's label."""
    from codesign_gym.costmodels.mobilenet_space import mobilenet_v2_variant

    output_dir = Path(output_dir)
    title = problems(options)[0][0].label
    rows = schedule_table(mobilenet_v2_variant(options.width, options.resolution))
    paths = [output_dir / "schedules.csv", output_dir / "schedules.md", output_dir / "peak_vs_extra_macs.png"]
    with paths[0].open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    paths[1].write_text(schedules_markdown(rows, options.sram_kib, title))
    _plot(rows, paths[2], options.sram_kib, title)
    return paths


def _plot(rows: list[dict], path: Path, sram_kib: float, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    patched = rows[1:]
    sc = ax.scatter([r["extra_macs_pct"] for r in patched], [r["peak_kib"] for r in patched], c=[r["grid"] for r in patched],
                    cmap="viridis", s=14, label="split x grid")
    fig.colorbar(sc, ax=ax, label="grid (patches per side)")
    front = pareto_front(rows)
    ax.plot([r["extra_macs_pct"] for r in front], [r["peak_kib"] for r in front], "r.-", label="Pareto front")
    ax.axhline(rows[0]["peak_kib"], color="gray", ls=":", label=f"layer by layer ({rows[0]['peak_kib']:.0f} KiB)")
    ax.axhline(sram_kib, color="k", ls="--", label=f"SRAM budget {sram_kib:g} KiB")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set(xlim=(0, None), yscale="log", xlabel="extra MACs (% of layer by layer)", ylabel="peak SRAM (KiB, int8)", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
