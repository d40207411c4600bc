"""The HADAS experiment: backbone, early exits, exit threshold and DVFS of a Jetson AGX Xavier.

``codesign-gym run hadas --dataset cifar-100 --budget N --seeds S``

1. Runs each method x seed for ``N`` whole-design evaluations on ``codesign/EarlyExitDVFS-v0``'s
   problem: ``hadas`` (nested NSGA-II, :mod:`codesign_gym.agents.hadas`), ``random``, and the RL
   methods ``reinforce``/``ppo`` (scalarized reward, one-step episodes on RLlib). Every evaluated
   design (accuracy, energy, latency) is kept in ``archives/<method>-<seed>.csv``; ``results.csv``
   gets a row per method x seed x checkpoint (every 10% of the budget) whose ``best_objective`` is
   **minus** the hypervolume of the archive so far (:mod:`.hadas_pareto`; lower is better).
2. Writes ``pareto.png`` (accuracy vs energy per inference: each method's front over its seeds,
   the static backbones at the highest levels) and ``hadas.md``: hypervolume per method, the
   energy-reduction table under both exit-policy models (:mod:`.hadas_table`) and the model's
   distance from HADAS's measured a0/a6 energies.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from codesign_gym.experiments.hadas_pareto import hypervolume, pareto_mask
from codesign_gym.experiments.results import check_methods_and_seeds, open_results, pending_seeds, read_results
from codesign_gym.experiments.tables import render_table

EXPERIMENT = "hadas"
SEARCH_METHODS = ("hadas", "random")
RL_METHODS = ("reinforce", "ppo")
DEFAULT_METHODS = ("hadas", "random", "reinforce")
CHECKPOINTS = 10


@dataclasses.dataclass
class HadasConfig:
    """What to run; ``budget`` is whole-design evaluations (RL: one-step episodes)."""

    dataset: str = "cifar-100"
    exit_set: str = "current"
    policy: str = "threshold"
    budget: int = 640
    seeds: int = 3
    methods: Sequence[str] = DEFAULT_METHODS
    outer_population: int = 64
    inner_population: int = 10
    inner_generations: int = 2

    def problem_name(self) -> str:
        return f"{self.dataset}|{self.exit_set}|{self.policy}"

    def env_config(self) -> dict:
        return {"dataset": self.dataset, "exit_set": self.exit_set, "policy": self.policy}

    def validate(self) -> None:
        from codesign_gym.costmodels.xavier import DATASET_CLASSES, EXIT_SETS, POLICIES

        if self.dataset not in DATASET_CLASSES:
            raise ValueError(f"--dataset {self.dataset!r}: expected one of {list(DATASET_CLASSES)}")
        if self.exit_set not in EXIT_SETS:
            raise ValueError(f"--exit-set {self.exit_set!r}: expected one of {list(EXIT_SETS)}")
        if self.policy not in POLICIES:
            raise ValueError(f"--policy {self.policy!r}: expected one of {list(POLICIES)}")
        check_methods_and_seeds(self.methods, set(SEARCH_METHODS) | set(RL_METHODS), self.seeds)
        if self.budget < 1:
            raise ValueError(f"--budget {self.budget}: expected a positive number of design evaluations")


def build_problem(config: HadasConfig):
    from codesign_gym.envs.early_exit_dvfs import EarlyExitDVFSProblem

    return EarlyExitDVFSProblem(**config.env_config())


def _archive_path(output_dir: Path, method: str, seed: int) -> Path:
    return output_dir / "archives" / f"{method}-{seed}.csv"


def write_archive(path: Path, designs, accuracy, energy, latency) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["design", "accuracy", "energy_mj", "latency_ms"])
        for d, a, e, t in zip(designs, accuracy, energy, latency):
            w.writerow([json.dumps(list(map(int, d))), a, e, t])


def read_archive(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {"designs": np.array([json.loads(r["design"]) for r in rows], dtype=np.int64).reshape(len(rows), -1),
            "accuracy": np.array([float(r["accuracy"]) for r in rows]), "energy_mj": np.array([float(r["energy_mj"]) for r in rows]),
            "latency_ms": np.array([float(r["latency_ms"]) for r in rows])}


def _front_config(problem, designs, accuracy, energy) -> dict:
    keep = pareto_mask(energy, 100.0 - np.asarray(accuracy))
    idx = np.flatnonzero(keep)[np.argsort(np.asarray(energy)[keep])]
    return {"hypervolume": hypervolume(energy, 100.0 - np.asarray(accuracy), problem.energy_ref_mj), "front_size": int(idx.size),
            "front": [[round(float(accuracy[i]), 3), round(float(energy[i]), 4), list(map(int, designs[i]))] for i in idx[:40]]}


def _row(config, method, seed, evals, wall_s, hv, best_config, final) -> dict:
    return {"experiment": EXPERIMENT, "problem": config.problem_name(), "method": method, "seed": seed, "evals": evals,
            "layer_queries": "", "wall_s": round(wall_s, 4), "best_objective": -hv, "feasible": True, "gap_to_opt": float("nan"),
            "best_config": best_config if final else "", "final": 1 if final else 0}


def run_search_method(config: HadasConfig, problem, method: str, seed: int, writer, output_dir: Path) -> float:
    from codesign_gym.agents.hadas import NestedNSGA2, random_archive

    step = max(1, config.budget // CHECKPOINTS)
    state = {"next": step}

    def checkpoint(archive) -> None:
        if len(archive) >= state["next"] and len(archive) < config.budget:
            hv = hypervolume(archive.energy_mj, 100.0 - np.asarray(archive.accuracy), problem.energy_ref_mj)
            writer.write([_row(config, method, seed, len(archive), archive.wall_s[-1], hv, None, False)])
            state["next"] += step

    if method == "hadas":
        searcher = NestedNSGA2(problem, seed, config.outer_population, config.inner_population, config.inner_generations)
        archive = searcher.run(config.budget, on_batch=checkpoint)
    else:
        archive = random_archive(problem, config.budget, seed, on_batch=checkpoint)
    write_archive(_archive_path(output_dir, method, seed), archive.designs, archive.accuracy, archive.energy_mj, archive.latency_ms)
    best = _front_config(problem, np.asarray(archive.designs), np.asarray(archive.accuracy), np.asarray(archive.energy_mj))
    writer.write([_row(config, method, seed, len(archive), archive.wall_s[-1], best["hypervolume"], best, True)])
    return best["hypervolume"]


def run_rl_method(config: HadasConfig, problem, method: str, seed: int, writer, output_dir: Path) -> float:
    """REINFORCE or PPO on the env's scalarized reward for ``budget`` one-step episodes."""
    from codesign_gym.experiments.hadas_rl import train_rl_archive

    rows, episodes, wall_s = train_rl_archive(method, config.env_config(), seed, config.budget)
    designs = np.array([r[0] for r in rows], dtype=np.int64).reshape(len(rows), -1)
    acc, en, lat = (np.array([r[i] for r in rows]) for i in (1, 2, 3))
    write_archive(_archive_path(output_dir, method, seed), designs, acc, en, lat)
    best = _front_config(problem, designs, acc, en)
    writer.write([_row(config, method, seed, episodes, wall_s, best["hypervolume"], best, True)])
    return best["hypervolume"]


def measured_comparison() -> list[dict[str, object]]:
    """The model vs HADAS's measured a0/a6 energies (mJ per inference, CIFAR-100): static at the
    highest levels, with every exit (oracle, highest levels), and with exits + the best DVFS."""
    from codesign_gym.costmodels.xavier.fit import motivation_rows
    from codesign_gym.envs.early_exit_dvfs import EarlyExitDVFSProblem
    from codesign_gym.experiments.hadas_table import reduction_rows

    problem = EarlyExitDVFSProblem("cifar-100", "old_res", backbones=("a0", "a6"), policy="oracle")
    measured = motivation_rows()
    space = problem.space
    out = []
    table = {r["backbone"]: r for r in reduction_rows(problem, policies=("oracle",))}
    for k, name in enumerate(space.backbones):
        every = np.zeros((1, space.max_exits), dtype=bool)
        every[0, : space.num_exits[k]] = True
        r = space.evaluate([k], every, "oracle")
        m = measured[name]
        model = {"base": float(r.static_energy_mj[0]), "eex": float(r.energy_mj[0]), "eex_dvfs": float(table[name]["exits_dvfs_mJ"])}
        out.append({"backbone": name, **{f"hadas_{k}_mJ": round(m[f"{k}_energy_mJ"], 1) for k in ("base", "eex", "eex_dvfs")},
                    **{f"model_{k}_mJ": round(v, 2) for k, v in model.items()},
                    "measured/model (base)": round(m["base_energy_mJ"] / model["base"], 2),
                    "hadas_eex_saving_%": round(100 * (1 - m["eex_energy_mJ"] / m["base_energy_mJ"]), 1),
                    "model_eex_saving_%": round(100 * (1 - model["eex"] / model["base"]), 1),
                    "hadas_eex_dvfs_saving_%": round(100 * (1 - m["eex_dvfs_energy_mJ"] / m["base_energy_mJ"]), 1),
                    "model_eex_dvfs_saving_%": round(100 * (1 - model["eex_dvfs"] / model["base"]), 1)})
    return out


def _plot(problem, archives: dict[str, list[dict]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method, parts in sorted(archives.items()):
        acc = np.concatenate([p["accuracy"] for p in parts])
        en = np.concatenate([p["energy_mj"] for p in parts])
        keep = pareto_mask(en, 100.0 - acc)
        order = np.argsort(en[keep])
        hv = np.mean([hypervolume(p["energy_mj"], 100.0 - p["accuracy"], problem.energy_ref_mj) for p in parts])
        ax.step(en[keep][order], acc[keep][order], where="post", marker=".", label=f"{method} (HV {hv:.3f}, {len(parts)} seeds)")
    space = problem.space
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


def write_outputs(config: HadasConfig, problem, output_dir: Path) -> Path:
    """``pareto.png`` and ``hadas.md`` from the archives in ``output_dir``."""
    from codesign_gym.experiments.hadas_table import reduction_rows
    from codesign_gym.experiments.report import mean_ci95

    archives: dict[str, list[dict]] = {}
    for path in sorted((output_dir / "archives").glob("*.csv")):
        method = path.stem.rsplit("-", 1)[0]
        if method in config.methods:
            archives.setdefault(method, []).append(read_archive(path))
    _plot(problem, archives, output_dir / "pareto.png", f"HADAS on the Xavier model: {config.problem_name()}")
    hv_rows = []
    extra: dict[int, list[np.ndarray]] = {}
    for method, parts in sorted(archives.items()):
        hvs = [hypervolume(p["energy_mj"], 100.0 - p["accuracy"], problem.energy_ref_mj) for p in parts]
        mean, half = mean_ci95(hvs)
        hv_rows.append({"method": method, "seeds": len(parts), "evals": int(np.mean([len(p["accuracy"]) for p in parts])),
                        "hypervolume": f"{mean:.4f} +- {half:.2g}"})
        for p in parts:
            if p["designs"].size == 0:
                continue
            keep = pareto_mask(p["energy_mj"], 100.0 - p["accuracy"])
            for d in p["designs"][keep]:
                extra.setdefault(int(d[0]), []).append(d[1 : 1 + problem.max_exits] == 1)
    table = reduction_rows(problem, extra)
    comparison = measured_comparison()
    from codesign_gym.costmodels.xavier import stored_fit

    fit = stored_fit()["errors"]
    held = {s: f"{fit['latency'][s]['mape_pct']:.1f}% / {fit['power'][s]['mape_pct']:.1f}%" for s in ("test_dim1", "test_dim2", "test_dim3")}
    text = (
        f"# HADAS on the Jetson AGX Xavier model: {config.problem_name()}\n\n"
        f"Budget {config.budget} design evaluations per method and seed; hypervolume of (energy / {problem.energy_ref_mj:.3f} mJ, "
        f"top-1 error) against (1, 1), a fraction of the unit box (higher is better).\n\n"
        f"## Hypervolume per method (mean +- 95% CI over seeds)\n\n{render_table(hv_rows)}\n\n"
        "## Energy reduction vs the static backbone at the highest levels, at equal or better accuracy\n\n"
        "Oracle: an input leaves at the first attached exit that is right (upper bound). Threshold: it leaves at the first attached "
        "exit whose modelled confidence reaches the threshold (modelled, realizable).\n\n"
        f"{render_table(table)}\n\n"
        "## The model vs HADAS's measurements (CIFAR-100, older exit head for a6)\n\n"
        f"{render_table(comparison)}\n\n"
        f"Held-out error of the fitted scale (MAPE latency / power): {held}.\n"
    )
    path = output_dir / "hadas.md"
    path.write_text(text)
    return path


def run_experiment(config: HadasConfig, output_dir: str | Path, progress: Callable[[str], None] = print,
                   rl_runner: Callable | None = None) -> Path:
    """Run (or resume) into ``output_dir``; returns the path of ``summary.md``. ``rl_runner`` has
    :func:`run_rl_method`'s signature (default: it, on the Ray instance already initialised)."""
    from codesign_gym.experiments.report import render_report

    config.validate()
    problem = build_problem(config)
    output_dir = Path(output_dir)
    writer, done = open_results(output_dir, {"experiment": EXPERIMENT, **dataclasses.asdict(config)}, progress)
    name = config.problem_name()
    for method in config.methods:
        for seed in pending_seeds(name, method, config.seeds, done, progress):
            runner = (rl_runner or run_rl_method) if method in RL_METHODS else run_search_method
            hv = runner(config, problem, method, seed, writer, output_dir)
            progress(f"  {method} seed {seed}: hypervolume {hv:.4f}")
    md = write_outputs(config, problem, output_dir)
    progress(f"tables: {md}")
    return render_report(output_dir)


def final_rows(output_dir: str | Path) -> list[dict]:
    return [r for r in read_results(output_dir) if r["final"] == 1]
