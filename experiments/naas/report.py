"""The NAAS report: ``naas.md`` and ``pareto.png`` from ``results.csv`` and the archives.

- Per search and method: the EDP reduction vs the baseline running the ResNet cell at equal or
  better accuracy (reference EDP / the least EDP among a run's archived designs within the caps
  that reach the accuracy target; mean +- 95% CI over seeds and the best seed), that design's
  accuracy, and the hypervolume of each run's (EDP / reference, top-1 error) designs against (1, 1);
- the best design per search over methods and seeds: its numbers from the archive, its cell and
  hardware from the run's final ``best_config``;
- ``pareto.png``: accuracy vs EDP, each (search, method)'s front over its seeds, all 15,625 cells
  on the baseline and the reference.

The reference (the baseline's numbers) and the 15,625 cells on the baseline (plot background)
are cost-model data, read from the :class:`~codesign_gym.costmodels.naas.design.NAASSpace` of the
options; every searched design comes from the archives.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from codesign_gym.experiments.hadas.pareto import hypervolume, pareto_mask
from codesign_gym.experiments.runner.recorder import archive_path, read_archive
from codesign_gym.experiments.runner.report import mean_ci95
from codesign_gym.experiments.runner.results import RUN_CONFIG_FILE, read_results
from codesign_gym.experiments.runner.tables import render_table

#: Archives of one (search, method): [(seed, archive, the run's final results row)] in seed order.
Runs = list[tuple[int, dict[str, np.ndarray], dict]]


def load_runs(output_dir: Path, prefix: str) -> dict[tuple[str, str], Runs]:
    """(search, method) -> its finished runs whose problem label starts with ``prefix``
    (``accelerator|dataset|``), in the order of ``results.csv`` (run order)."""
    out: dict[tuple[str, str], Runs] = {}
    for row in read_results(output_dir):
        label = str(row["problem"])
        if row["final"] != 1 or not label.startswith(prefix):
            continue
        path = archive_path(output_dir, label, str(row["method"]), int(row["seed"]))
        archive = read_archive(path) if path.exists() else {}
        if archive:
            out.setdefault((label[len(prefix):], str(row["method"])), []).append((int(row["seed"]), archive, row))
    for runs in out.values():
        runs.sort(key=lambda r: r[0])
    return out


def archive_stats(archive: dict[str, np.ndarray], ref_edp: float, accuracy_target: float) -> dict:
    """One run's archive: ``evals``; the best EDP reduction at accuracy >= ``accuracy_target``
    among designs within the caps (``reduction``, its ``accuracy`` and archive row ``row``, None
    if none); the ``hypervolume`` of (EDP / ``ref_edp``, error / 100) against (1, 1)."""
    valid = (archive["valid"] == 1) & np.isfinite(archive["edp"])
    ok = valid & (archive["accuracy"] >= accuracy_target - 1e-9)
    out = {"evals": int(archive["accuracy"].size), "reduction": float("nan"), "accuracy": float("nan"), "row": None}
    if ok.any():
        i = int(np.flatnonzero(ok)[int(np.argmin(archive["edp"][ok]))])
        out.update(reduction=ref_edp / float(archive["edp"][i]), accuracy=float(archive["accuracy"][i]), row=i)
    out["hypervolume"] = hypervolume(archive["edp"][valid], 100.0 - archive["accuracy"][valid], ref_edp) if valid.any() else 0.0
    return out


def table_rows(accelerator: str, space, accuracy_target: float, runs: dict[tuple[str, str], Runs]) -> list[dict]:
    """One row per (search, method), after the reference's (module docstring)."""
    rows = [{"search": "reference", "method": f"{accelerator} + ResNet cell", "seeds": "-", "evals": "-",
             "edp_reduction_x": "1.00", "best_seed_x": "1.00", "found": "-", "accuracy_%": f"{space.ref_accuracy:.2f}", "hypervolume": "-"}]
    for (search, method), parts in runs.items():
        stats = [archive_stats(a, space.ref_edp, accuracy_target) for _, a, _ in parts]
        finite = [st["reduction"] for st in stats if math.isfinite(st["reduction"])]
        mean, half = mean_ci95(finite)
        hv, hv_half = mean_ci95([st["hypervolume"] for st in stats])
        acc = [st["accuracy"] for st in stats if math.isfinite(st["accuracy"])]
        rows.append({"search": search, "method": method, "seeds": len(parts), "evals": int(np.mean([st["evals"] for st in stats])),
                     "edp_reduction_x": f"{mean:.2f} +- {half:.2f}" if finite else "-",
                     "best_seed_x": f"{max(finite):.2f}" if finite else "-", "found": f"{len(finite)}/{len(parts)}",
                     "accuracy_%": f"{np.mean(acc):.2f}" if acc else "-", "hypervolume": f"{hv:.4f} +- {hv_half:.2g}"})
    return rows


def best_designs(space, accuracy_target: float, runs: dict[tuple[str, str], Runs]) -> list[dict]:
    """The best design found per search (over methods and seeds, first found on ties), described."""
    from codesign_gym.costmodels.workloads import nb201

    best: dict[str, tuple] = {}
    for (search, method), parts in runs.items():
        for seed, archive, row in parts:
            st = archive_stats(archive, space.ref_edp, accuracy_target)
            if math.isfinite(st["reduction"]) and (search not in best or st["reduction"] > best[search][0]["reduction"]):
                best[search] = (st, archive, row, f"{method} seed {seed}")
    out = []
    for search, (st, a, row, where) in best.items():
        i = st["row"]
        same = row["best_design"] is not None and list(row["best_design"]) == a["design"][i].tolist()
        cfg = row["best_config"] if same and isinstance(row["best_config"], dict) else {}
        out.append({"search": search, "found_by": where, "edp_reduction_x": round(st["reduction"], 3), "accuracy_%": float(a["accuracy"][i]),
                    "cell": nb201.arch_from_index(int(a["arch_index"][i])), "hardware": cfg.get("hardware", "-"),
                    "num_pes": int(a["num_pes"][i]), "onchip_bytes": int(a["onchip_bytes"][i]), "area_mm2": round(float(a["area_mm2"][i]), 4),
                    "latency_ms": round(float(a["latency_ms"][i]), 4), "energy_uJ": round(float(a["energy_pj"][i]) / 1e6, 3)})
    return out


def plot_pareto(options, space, runs: dict[tuple[str, str], Runs], path: Path) -> None:
    """``pareto.png``: accuracy vs EDP / reference, fronts per (search, method) over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    base = space.baseline_costs()
    ax.scatter(base.edp / space.ref_edp, base.accuracy, s=2, c="0.8", label=f"all 15,625 cells on {options.accelerator}", zorder=1)
    styles = {"joint": "-", "nested": "-.", "hardware": "--", "network": ":"}
    for (search, method), parts in sorted(runs.items()):
        edp = np.concatenate([a["edp"] for _, a, _ in parts])
        acc = np.concatenate([a["accuracy"] for _, a, _ in parts])
        ok = np.concatenate([a["valid"] == 1 for _, a, _ in parts]) & np.isfinite(edp)
        if not ok.any():
            continue
        e, a = edp[ok] / space.ref_edp, acc[ok]
        keep = pareto_mask(e, 100.0 - a)
        order = np.argsort(e[keep])
        ax.step(e[keep][order], a[keep][order], where="post", ls=styles.get(search, "-"), marker=".", ms=3, label=f"{search}/{method}", zorder=2)
    ax.scatter([1.0], [space.ref_accuracy], c="r", marker="*", s=150, zorder=3, label=f"{options.accelerator} + ResNet cell (reference)")
    ax.axhline(space.ref_accuracy, color="r", lw=0.5, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("EDP / reference EDP (log)")
    ax.set_ylabel(f"test accuracy on {options.dataset} (%)")
    ax.set_ylim(max(0.0, space.ref_accuracy - 15), min(100.0, space.ref_accuracy + 3))
    ax.set_title(f"NAAS on NB201: {options.accelerator}, {options.dataset} (fronts over all seeds)", fontsize=9)
    ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


_SCOPE_TEXT = {"total": "DRAM traffic, buffers, scratchpads and MACs.",
               "onchip": "on chip only (buffers, scratchpads, MACs; DRAM energy left out of every mapping and cost, "
                         "MAESTRO's scope as in NAAS; DRAM bandwidth still limits cycles)."}


def _budget(output_dir: Path, runs: dict[tuple[str, str], Runs]) -> int:
    """The run's ``--budget`` (``run_config.json``), else the largest archive."""
    config = output_dir / RUN_CONFIG_FILE
    if config.exists() and "budget" in json.loads(config.read_text()):
        return int(json.loads(config.read_text())["budget"])
    return max((len(a["accuracy"]) for parts in runs.values() for _, a, _ in parts), default=0)


def write_report(output_dir: str | Path, options) -> list[Path]:
    """``naas.md`` and ``pareto.png`` in ``output_dir`` (module docstring); returns their paths."""
    from codesign_gym.envs.nas_accelerator import shared_space

    output_dir = Path(output_dir)
    s = shared_space(options.accelerator, options.dataset, options.samples, options.rounds, 0, options.energy_scope)
    target = s.ref_accuracy if options.accuracy_target is None else float(options.accuracy_target)
    runs = load_runs(output_dir, f"{options.accelerator}|{options.dataset}|")
    png = output_dir / "pareto.png"
    plot_pareto(options, s, runs, png)
    best = best_designs(s, target, runs)
    text = (
        f"# NAAS on NAS-Bench-201: {options.accelerator}, {options.dataset}, {options.energy_scope} energy\n\n"
        f"Reference: **{options.accelerator} running the ResNet cell** (NB201 index 11472): {s.ref_accuracy:.2f}% test accuracy, "
        f"{s.ref_latency_cycles:,} cycles, {s.ref_energy_pj / 1e6:.2f} uJ, EDP {s.ref_edp:.4g} pJ x cycles. Every design and the "
        f"reference are mapped by the same inner search ({options.samples} samples, {options.rounds} refinement round(s)). "
        f"Caps: {s.max_pes} PEs, {s.max_onchip_bytes:,} on-chip bytes, {s.max_dram_words_per_cycle:g} DRAM words/cycle. "
        f"Energy: {_SCOPE_TEXT[options.energy_scope]} Budget {_budget(output_dir, runs)} design evaluations per run. Accuracy is "
        f"NAS-Bench-201's **test** accuracy, so a search that selects on it leaks test data.\n\n"
        f"## EDP reduction vs the reference at accuracy >= {target:.2f}% (mean +- 95% CI over seeds)\n\n"
        f"`edp_reduction_x`: reference EDP / the least EDP found at equal or better accuracy within the caps; `found`: seeds "
        f"that found such a design; `hypervolume`: of (EDP / reference, top-1 error) against (1, 1). Searches: `joint` (cell and "
        f"accelerator in one design vector), `nested` (joint search in NAAS's two-level form: the method picks the accelerator "
        f"and the best cell on it is found exactly; one accelerator pricing per evaluation, as in `hardware`), `hardware` "
        f"(cell fixed to the ResNet cell), `network` (hardware fixed to {options.accelerator}).\n\n"
        f"{render_table(table_rows(options.accelerator, s, target, runs), markdown=True)}\n\n"
        f"## Best design per search\n\n{render_table(best, markdown=True) if best else '(none)'}\n\n![pareto](pareto.png)\n"
    )
    md = output_dir / "naas.md"
    md.write_text(text)
    return [md, png]
