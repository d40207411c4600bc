"""The Zeus experiment's own report, from ``results.csv`` and the runs' archives only.

- :func:`json_summary`: the JSON summary of ``run zeus --output`` (schema of the Zeus issue):
  one object per workload with ``gpu, dataset, workload, eta, beta, maxpower`` (W), ``default``
  and ``oracle`` (``bs, pl`` (W), ``ETA`` (J), ``TTA`` (s), ``cost`` (J)) and ``runs``: per
  finished method x seed ``seed, method, final_bs, final_pl, ETA_last10, TTA_last10, cum_cost,
  cum_cost_default, cum_regret_vs_oracle``.
- ``energy_vs_default.md`` (:func:`vs_default_table`): "Energy vs Default" of a run is its mean
  energy per recurrence over the last 10 recurrences (failed tries included) over the Default
  configuration's ETA (mean over the runs that reach the target), minus 1; the table gives mean
  and standard deviation over seeds, with Zeus's own V100 figures beside ``zeus``.
- ``regret_<gpu>.png`` (:func:`plot_regret`): cumulative regret vs Oracle per recurrence.

A run's record is its archive ``archives/<problem>/<method>-seed<k>.json``
(:func:`codesign_gym.agents.zeus.run_record`), for the runs ``results.csv`` marks finished.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from codesign_gym.experiments.runner.recorder import archive_path
from codesign_gym.experiments.runner.results import read_results
from codesign_gym.experiments.runner.tables import render_table

#: Zeus's trace-driven simulator on these traces (V100, eta 0.5, beta 2, 10 seeds): energy vs Default, %.
ZEUS_REFERENCE_V100 = {"cifar100": -74.1, "imagenet": -19.4, "squad": -18.9, "librispeech": -38.5, "movielens": -65.6, "sentiment140": -20.9}
#: The keys of each run in the JSON summary.
RUN_KEYS = ("seed", "method", "final_bs", "final_pl", "ETA_last10", "TTA_last10", "cum_cost", "cum_cost_default", "cum_regret_vs_oracle")


def read_runs(output_dir: str | Path) -> dict[str, dict[str, dict[int, dict]]]:
    """``{problem label: {method: {seed: record}}}`` of the finished runs, methods in the order
    they ran, each record its archived JSON plus ``seed`` and ``method``."""
    runs: dict[str, dict[str, dict[int, dict]]] = {}
    for row in read_results(output_dir):
        if row["final"] != 1:
            continue
        problem, method, seed = str(row["problem"]), str(row["method"]), int(row["seed"])
        path = archive_path(output_dir, problem, method, seed, ".json")
        if path.exists():
            runs.setdefault(problem, {}).setdefault(method, {})[seed] = {**json.loads(path.read_text()), "seed": seed, "method": method}
    return runs


def _entry_head(options, workload: str, records: list[dict]) -> dict:
    """gpu .. oracle of one workload, from a run's record (or from its problem if none ran)."""
    if records:
        rec = records[0]
        dataset, maxpower, reference = rec["dataset"], rec["maxpower"], rec["reference"]
    else:
        from codesign_gym.agents.zeus import reference_values
        from codesign_gym.envs.batch_size_power_limit import BatchSizePowerLimitProblem

        problem = BatchSizePowerLimitProblem(workload=workload, gpu=options.gpu, eta=options.eta, beta=options.beta)
        dataset, maxpower, reference = problem.trace.spec.dataset, problem.trace.max_power, reference_values(problem)
    return {"gpu": options.gpu, "dataset": dataset, "workload": workload, "eta": options.eta, "beta": options.beta,
            "maxpower": maxpower, "default": reference["default"], "oracle": reference["oracle"]}


def json_summary(output_dir: str | Path, options) -> list[dict]:
    """The JSON summary (see the module docstring): workloads in ``options.workloads`` order,
    runs by method (in the order they ran) and seed."""
    from codesign_gym.envs.batch_size_power_limit import problem_label

    runs = read_runs(output_dir)
    out = []
    for workload in options.workloads:
        by_method = runs.get(problem_label(workload, options.gpu, options.eta, options.beta), {})
        records = [rec for seeds in by_method.values() for _, rec in sorted(seeds.items())]
        out.append({**_entry_head(options, workload, records), "runs": [{k: rec[k] for k in RUN_KEYS} for rec in records]})
    return out


def vs_default_table(summary: list[dict]) -> list[dict]:
    """Rows (workload, method): energy and time vs Default in %, mean and std over seeds."""
    rows = []
    for entry in summary:
        for method in dict.fromkeys(r["method"] for r in entry["runs"]):
            runs = [r for r in entry["runs"] if r["method"] == method]
            e = np.array([r["ETA_last10"] / entry["default"]["ETA"] - 1 for r in runs]) * 100
            t = np.array([r["TTA_last10"] / entry["default"]["TTA"] - 1 for r in runs]) * 100
            ref = ZEUS_REFERENCE_V100.get(entry["workload"]) if method == "zeus" and entry["gpu"] == "v100" else None
            rows.append({"workload": entry["workload"], "gpu": entry["gpu"], "method": method, "seeds": len(runs),
                         "energy_vs_default_%": f"{e.mean():+.1f} +- {e.std():.1f}", "time_vs_default_%": f"{t.mean():+.1f} +- {t.std():.1f}",
                         "zeus_reference_%": "-" if ref is None else f"{ref:+.1f}",
                         "_energy": float(e.mean()), "_time": float(t.mean())})
    return rows


def plot_regret(output_dir: str | Path, gpu: str, runs: dict[str, dict[str, dict[int, dict]]]) -> Path:
    """Cumulative regret vs recurrence (mean over seeds, min-max band) per method, one panel per workload."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = sorted(runs)
    cols = min(3, max(len(problems), 1))
    nrows = max((len(problems) + cols - 1) // cols, 1)
    fig, axes = plt.subplots(nrows, cols, figsize=(5 * cols, 3.6 * nrows), squeeze=False)
    for ax, problem in zip(axes.ravel(), problems):
        for method in sorted(runs[problem]):
            curves = [np.array(rec["regret_curve"]) for rec in runs[problem][method].values()]
            n = min(len(c) for c in curves)
            c = np.stack([x[:n] for x in curves])
            x = np.arange(1, n + 1)
            ax.plot(x, c.mean(axis=0), label=method)
            if len(curves) > 1:
                ax.fill_between(x, c.min(axis=0), c.max(axis=0), alpha=0.15)
        ax.set_title(problem.split("|")[0])
        ax.set_xlabel("recurrence")
        ax.set_ylabel("cumulative regret vs oracle (J-eq.)")
        ax.legend(fontsize=7)
    for ax in axes.ravel()[len(problems):]:
        ax.axis("off")
    fig.tight_layout()
    path = Path(output_dir) / f"regret_{gpu}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def render(output_dir: str | Path, options) -> list[Path]:
    """Write the JSON summary (``options.output``, default ``<output_dir>/zeus.json``),
    ``energy_vs_default.md`` and ``regret_<gpu>.png``; returns their paths."""
    output_dir = Path(output_dir)
    summary = json_summary(output_dir, options)
    json_path = Path(options.output) if options.output else output_dir / "zeus.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(summary, indent=1))
    visible = [{k: v for k, v in r.items() if not k.startswith("_")} for r in vs_default_table(summary)]
    table = output_dir / "energy_vs_default.md"
    table.write_text(f"# Energy and time vs Default ({options.gpu}, eta {options.eta:g}, beta {options.beta}, mean +- std over seeds)\n\n"
                     + render_table(visible, markdown=True) + "\n")
    return [json_path, table, plot_regret(output_dir, options.gpu, read_runs(output_dir))]
