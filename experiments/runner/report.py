"""Render a results directory: ``summary.md`` (mean +- 95% CI over seeds) and convergence plots.

``codesign-gym report DIR`` calls :func:`render_report`; every run calls it when it finishes.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

from codesign_gym.experiments.runner.results import RESULTS_FILE, finished, read_table
from codesign_gym.experiments.runner.tables import render_table

GAP_THRESHOLDS = (0.01, 0.05)


def mean_ci95(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% confidence interval (Student's t); half-width 0 for one value."""
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if arr.size == 0:
        return float("nan"), float("nan")
    if arr.size == 1:
        return float(arr[0]), 0.0
    from scipy.stats import t

    half = t.ppf(0.975, arr.size - 1) * arr.std(ddof=1) / math.sqrt(arr.size)
    return float(arr.mean()), float(half)


def _fmt(mean: float, half: float, digits: int = 4) -> str:
    if not math.isfinite(mean):
        return "-"
    return f"{mean:.{digits}g} +- {half:.2g}" if half else f"{mean:.{digits}g}"


def summarise(rows: list[dict]) -> list[dict[str, object]]:
    """One summary row per (problem, method): final best objective and gap (mean +- 95% CI over
    seeds), share of feasible seeds, evaluations to come within 1% and 5% of the optimum."""
    runs: dict[tuple[str, str], dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        runs[(str(r["problem"]), str(r["method"]))][int(r["seed"])].append(r)
    out = []
    for (problem, method), by_seed in sorted(runs.items()):
        finals = [max(rs, key=lambda r: r["evals"]) for rs in by_seed.values()]
        finals = [f if f["feasible"] and f["best_objective"] is not None else {**f, "feasible": 0, "best_objective": None, "gap_to_opt": None}
                  for f in finals]  # a NaN objective is never feasible, and has no gap
        best = mean_ci95([f["best_objective"] for f in finals])
        gap = mean_ci95([f["gap_to_opt"] for f in finals])
        feasible = sum(1 for f in finals if f["feasible"])
        row: dict[str, object] = {
            "problem": problem,
            "method": method,
            "seeds": len(finals),
            "evals": int(np.mean([f["evals"] for f in finals])),
            "best_objective": _fmt(*best) if feasible else "no feasible design",
            "gap_to_opt_%": _fmt(gap[0] * 100, gap[1] * 100, 3) if math.isfinite(gap[0]) else "-",
            "feasible": f"{feasible}/{len(finals)}",
            "wall_s": round(float(np.mean([f["wall_s"] or 0.0 for f in finals])), 2),
        }
        for thr in GAP_THRESHOLDS:
            hits = []
            for rs in by_seed.values():
                reached = [r["evals"] for r in sorted(rs, key=lambda r: r["evals"]) if r["gap_to_opt"] is not None and r["gap_to_opt"] <= thr + 1e-12]
                if reached:
                    hits.append(reached[0])
            label = f"evals_to_{int(thr * 100)}%"
            row[label] = f"{int(np.mean(hits))} ({len(hits)}/{len(by_seed)})" if hits else f"- (0/{len(by_seed)})"
        out.append(row)
    return out


def plot_convergence(rows: list[dict], problem: str, path: Path) -> None:
    """Best feasible objective vs evaluations, mean over seeds with a 95% band, per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    by_method: dict[str, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["problem"] == problem:
            by_method[str(r["method"])][int(r["seed"])].append(r)
    optimum = None
    for method, by_seed in sorted(by_method.items()):
        grid = sorted({r["evals"] for rs in by_seed.values() for r in rs if r["evals"]})
        if not grid:  # e.g. the exact solver (0 evaluations): drawn as the dashed optimum line
            for rs in by_seed.values():
                for r in rs:
                    if r["gap_to_opt"] is not None and r["best_objective"]:
                        optimum = r["best_objective"] / (1 + r["gap_to_opt"])
            continue
        curves = []
        for rs in by_seed.values():
            rs = sorted(rs, key=lambda r: r["evals"])
            ev = np.array([r["evals"] for r in rs])
            val = np.array([r["best_objective"] if r["best_objective"] is not None else np.nan for r in rs])
            idx = np.searchsorted(ev, grid, side="right") - 1
            curves.append(np.where(idx >= 0, val[np.maximum(idx, 0)], np.nan))
            for r in rs:
                if r["gap_to_opt"] is not None and r["best_objective"]:
                    optimum = r["best_objective"] / (1 + r["gap_to_opt"])
        curves = np.array(curves)
        if not np.isfinite(curves).any():  # no seed found a feasible design: nothing to draw (the summary says so)
            continue
        with warnings.catch_warnings():  # grid points where no seed is feasible yet stay NaN (not plotted)
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(curves, axis=0)
            ax.plot(grid, mean, label=method)
            if curves.shape[0] > 1:
                lo, hi = np.nanmin(curves, axis=0), np.nanmax(curves, axis=0)
                ax.fill_between(grid, lo, hi, alpha=0.15)
    if optimum:
        ax.axhline(optimum, color="k", linestyle="--", linewidth=1, label="exact optimum")
    if any(np.isfinite(line.get_ydata()).any() for line in ax.get_lines()):  # a log axis of no finite point fails
        ax.set_xscale("log")
    ax.set_xlabel("whole-design evaluations")
    ax.set_ylabel("best feasible objective")
    ax.set_title(problem)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no feasible design", transform=ax.transAxes, ha="center", va="center")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def render_report(output_dir: str | Path) -> Path:
    """Write ``summary.md`` and one ``convergence_<problem>.png`` per problem; returns the summary path."""
    output_dir = Path(output_dir)
    table = read_table(_results_path(output_dir))
    done = finished(table.rows)
    rows = [r for r in table.rows if (str(r["problem"]), str(r["method"]), int(r["seed"])) in done]
    unfinished = {(str(r["problem"]), str(r["method"]), int(r["seed"])) for r in table.rows} - done
    summary = summarise(rows)
    problems = sorted({str(r["problem"]) for r in rows})
    lines = [f"# Results: {output_dir.name}", ""]
    lines.append(f"Mean +- 95% CI over seeds of the finished runs; version {rows[0]['version'] if rows else '-'}.")
    if unfinished or table.cut:
        cut = "; its last line was cut short (a run killed while writing) and is left out" if table.cut else ""
        lines.append(f"Not shown: {len(unfinished)} unfinished runs (no final row: killed or still running; a resume redoes them){cut}.")
    if any(r["gap_to_opt"] is not None for r in rows):
        lines.append("`gap_to_opt_%`: best feasible objective vs the exact optimum; `evals_to_X%`: mean evaluations until within X% of it (seeds that got there).")
    lines.append("")
    for problem in problems:
        lines += [f"## {problem}", "", render_table([s for s in summary if s["problem"] == problem], markdown=True), ""]
        png = output_dir / f"convergence_{_slug(problem)}.png"
        plot_convergence(rows, problem, png)
        lines += [f"![convergence]({png.name})", ""]
    path = output_dir / "summary.md"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(path)  # whole or the previous one, even if killed while writing
    return path


def _results_path(output_dir: Path) -> Path:
    path = output_dir / RESULTS_FILE
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"{output_dir} is a file; expected a run's output directory (holding {RESULTS_FILE})")
    if not path.exists():
        raise FileNotFoundError(f"no {RESULTS_FILE} in {output_dir}; expected the output directory of a run")
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")
