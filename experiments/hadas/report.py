"""The HADAS report: ``hadas.md`` and ``pareto.png`` from ``results.csv`` and the archives.

- Hypervolume per method (mean +- 95% CI over seeds) of each run's archive, every design it
  evaluated, in (energy / ``E_ref``, top-1 error / 100) against (1, 1) (:mod:`.pareto`);
- the energy-reduction table vs the static backbone at the highest levels, at equal or better
  accuracy, under both exit-policy models, with the exit sets on the runs' Pareto fronts among
  the candidates (:func:`.table.reduction_rows`);
- the model against HADAS's measured a0/a6 energies (:func:`.table.measured_comparison`);
- ``pareto.png``: accuracy vs energy per inference, each method's front over its seeds, and the
  static backbones at the highest levels.

The problem is rebuilt from the options only for ``E_ref`` and the cost-model tables.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign_gym.experiments.hadas.pareto import hypervolume, pareto_mask
from codesign_gym.experiments.runner.recorder import archive_path, read_archive
from codesign_gym.experiments.runner.report import mean_ci95
from codesign_gym.experiments.runner.results import read_results
from codesign_gym.experiments.runner.tables import render_table


def load_archives(output_dir: Path, problem_label: str) -> dict[str, list[dict[str, np.ndarray]]]:
    """method -> the archives (:func:`read_archive`) of its finished runs on ``problem_label``, in seed order."""
    finals = sorted((str(r["method"]), int(r["seed"])) for r in read_results(output_dir) if r["final"] == 1 and r["problem"] == problem_label)
    out: dict[str, list[dict[str, np.ndarray]]] = {}
    for method, seed in finals:
        path = archive_path(output_dir, problem_label, method, seed)
        if path.exists():
            archive = read_archive(path)
            if archive:
                out.setdefault(method, []).append(archive)
    return out


def archive_hypervolume(archive: dict[str, np.ndarray], energy_ref_mj: float) -> float:
    """Hypervolume (:func:`.pareto.hypervolume`) of every design in one run's archive."""
    return hypervolume(archive["energy_mj"], 100.0 - archive["accuracy"], energy_ref_mj)


def hypervolume_rows(archives: dict[str, list[dict[str, np.ndarray]]], energy_ref_mj: float) -> list[dict[str, object]]:
    """One row per method: seeds, mean archive size and hypervolume (mean +- 95% CI)."""
    rows = []
    for method, parts in sorted(archives.items()):
        mean, half = mean_ci95([archive_hypervolume(p, energy_ref_mj) for p in parts])
        rows.append({"method": method, "seeds": len(parts), "evals": int(np.mean([len(p["accuracy"]) for p in parts])),
                     "hypervolume": f"{mean:.4f} +- {half:.2g}"})
    return rows


def front_exit_masks(archives: dict[str, list[dict[str, np.ndarray]]], max_exits: int) -> dict[int, list[np.ndarray]]:
    """backbone index -> the exit masks (E,) of every design on a run's Pareto front."""
    extra: dict[int, list[np.ndarray]] = {}
    for parts in archives.values():
        for p in parts:
            keep = pareto_mask(p["energy_mj"], 100.0 - p["accuracy"])
            for d in p["design"][keep]:
                extra.setdefault(int(d[0]), []).append(d[1 : 1 + max_exits] == 1)
    return extra


def plot_pareto(problem, archives: dict[str, list[dict[str, np.ndarray]]], path: Path, title: str) -> None:
    """``pareto.png``: each method's front over its seeds and the static backbones at the highest levels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method, parts in sorted(archives.items()):
        acc = np.concatenate([p["accuracy"] for p in parts])
        en = np.concatenate([p["energy_mj"] for p in parts])
        keep = pareto_mask(en, 100.0 - acc)
        order = np.argsort(en[keep])
        hv = np.mean([archive_hypervolume(p, problem.energy_ref_mj) for p in parts])
        ax.step(en[keep][order], acc[keep][order], where="post", marker=".", label=f"{method} (HV {hv:.3f}, {len(parts)} seeds)")
    space = problem.xavier
    none = np.zeros((len(space.backbones), space.max_exits), dtype=bool)
    top = [problem.levels[d][-1] for d in ("gpu", "emc", "cpu")]
    static = space.evaluate(np.arange(len(space.backbones)), none, "oracle", 0.0, *top, tpc_fraction=problem.tpc_fraction)
    ax.scatter(static.energy_mj, static.accuracy, c="k", marker="x", zorder=3, label="static backbones, highest levels")
    for name, e, a in zip(space.backbones, static.energy_mj, static.accuracy):
        ax.annotate(name, (e, a), fontsize=7, xytext=(3, -8), textcoords="offset points")
    ax.set_xlabel("energy per inference (mJ, model)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(output_dir: str | Path, options) -> list[Path]:
    """``hadas.md`` and ``pareto.png`` in ``output_dir`` (module docstring); returns their paths."""
    from codesign_gym.costmodels.xavier import stored_fit
    from codesign_gym.experiments.hadas import problems
    from codesign_gym.experiments.hadas.table import measured_comparison, reduction_rows

    output_dir = Path(output_dir)
    problem = problems(options)[0][0]
    archives = load_archives(output_dir, problem.label)
    png = output_dir / "pareto.png"
    plot_pareto(problem, archives, png, f"HADAS on the Xavier model: {problem.label}")
    hv_rows = hypervolume_rows(archives, problem.energy_ref_mj)
    evals = min((int(r["evals"]) for r in hv_rows), default=0)  # RL may run past the budget to the end of a batch
    fit = stored_fit()["errors"]
    held = ", ".join(f"{s} {fit['latency'][s]['mape_pct']:.1f}% / {fit['power'][s]['mape_pct']:.1f}%" for s in ("test_dim1", "test_dim2", "test_dim3"))
    text = (
        f"# HADAS on the Jetson AGX Xavier model: {problem.label}\n\n"
        f"Budget {evals} design evaluations per method and seed; hypervolume of each run's archive in (energy / "
        f"{problem.energy_ref_mj:.3f} mJ, top-1 error) against (1, 1), a fraction of the unit box (higher is better).\n\n"
        f"## Hypervolume per method (mean +- 95% CI over seeds)\n\n{render_table(hv_rows)}\n\n"
        "## Energy reduction vs the static backbone at the highest levels, at equal or better accuracy\n\n"
        "Oracle: an input leaves at the first attached exit that is right (upper bound). Threshold: it leaves at the first attached "
        "exit whose modelled confidence reaches the threshold (modelled, realizable).\n\n"
        f"{render_table(reduction_rows(problem, front_exit_masks(archives, problem.max_exits)))}\n\n"
        f"Energy scope of the runs: {problem.energy_scope}.\n\n"
        "## The model vs HADAS's measurements (CIFAR-100, older exit head for a6)\n\n"
        "Module scope (every rail). HADAS's static a0 energy calibrates the one model number no shipped measurement "
        "determines (the non-GPU rails' power at the highest levels); a6 is the check. `model_base_gpu_rail_mJ`: the GPU rail "
        "alone, the rail the fitted perf_prediction rows measure.\n\n"
        f"{render_table(measured_comparison())}\n\n"
        f"Held-out error of the fitted model on the perf_prediction test splits (MAPE latency / GPU-rail power): {held}.\n"
    )
    md = output_dir / "hadas.md"
    md.write_text(text)
    return [md, png]
