"""The NAAS experiment: a NAS-Bench-201 network and its accelerator searched together.

``codesign-gym run naas --accelerator eyeriss --dataset cifar10 --budget N --seeds S``

On ``codesign/NASAccelerator-v0``'s problem with the constrained objective (minimise EDP subject
to accuracy >= the ResNet cell's, resources capped by the baseline):

1. **joint** search (network + accelerator) with each method x seed for ``N`` whole-design
   evaluations (search baselines through the ask/tell interface; RL methods as one-step
   episodes on RLlib), and the two ablations with their own methods: **hardware** (network
   fixed to the ResNet cell) and **network** (hardware fixed to the baseline itself; its
   optimum is known by enumerating the 15,625 cells), and the joint search in NAAS's two-level
   form, **nested** (the method picks the accelerator; the best cell on it is found exactly,
   with the same one accelerator pricing per evaluation as the hardware-only search).
2. Every evaluated design goes to ``archives/<search>-<method>-<seed>.csv``; ``results.csv``
   gets a row per run x checkpoint (every improvement and every 1% of the budget) whose
   ``best_objective`` is the best feasible EDP over the reference EDP (lower is better).
3. ``naas.md``: per search and method, the EDP reduction vs the baseline running the ResNet
   cell at equal or better accuracy, the accuracy of that design and the hypervolume of the
   (EDP, error) front; ``pareto.png``: accuracy vs EDP fronts with the baseline marked.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from codesign_gym.agents.search import SEARCH_METHODS, make_search_method, run_search
from codesign_gym.envs.design_space import Evaluation
from codesign_gym.experiments.hadas_pareto import hypervolume, pareto_mask
from codesign_gym.experiments.results import check_methods_and_seeds, open_results, pending_seeds
from codesign_gym.experiments.tables import render_table

EXPERIMENT = "naas"
ENV_ID = "codesign_gym.envs:codesign/NASAccelerator-v0"
RL_METHODS = ("reinforce", "ppo")
SEARCHES = ("joint", "nested", "hardware", "network")
DEFAULT_METHODS = ("random", "evolution", "cmaes", "bayesian", "reinforce")
DEFAULT_ABLATION_METHODS = ("random", "evolution", "cmaes")
DEFAULT_NESTED_METHODS = ("random", "evolution", "cmaes")


@dataclasses.dataclass
class NaasConfig:
    """What to run; ``budget`` is whole-design evaluations per run (RL: one-step episodes)."""

    accelerator: str = "eyeriss"
    dataset: str = "cifar10"
    budget: int = 300
    seeds: int = 3
    methods: Sequence[str] = DEFAULT_METHODS
    ablations: Sequence[str] = ("hardware", "network")
    ablation_methods: Sequence[str] = DEFAULT_ABLATION_METHODS
    nested_methods: Sequence[str] = DEFAULT_NESTED_METHODS
    samples: int = 256
    rounds: int = 1
    accuracy_target: float | None = None
    energy_scope: str = "total"

    def problem_name(self, search: str) -> str:
        return f"{self.accelerator}|{self.dataset}|{search}"

    def env_config(self, search: str) -> dict:
        return {"dataset": self.dataset, "accelerator": self.accelerator, "objective": "constrained",
                "accuracy_target": self.accuracy_target, "mode": "one_shot", "action": "multidiscrete", "search": search,
                "samples": self.samples, "rounds": self.rounds, "energy_scope": self.energy_scope}

    def runs(self) -> list[tuple[str, str]]:
        """(search, method) pairs in run order: joint with ``methods``, nested with
        ``nested_methods``, then each ablation."""
        out = [("joint", m) for m in self.methods] + [("nested", m) for m in self.nested_methods]
        for search in self.ablations:
            out += [(search, m) for m in self.ablation_methods]
        return out

    def searches(self) -> tuple[str, ...]:
        """The searches run: joint, nested (when it has methods) and the ablations."""
        return ("joint",) + (("nested",) if self.nested_methods else ()) + tuple(self.ablations)

    def validate(self) -> None:
        from codesign_gym.costmodels.naas.accelerators import BASELINES
        from codesign_gym.costmodels.workloads import nb201

        if self.accelerator not in BASELINES:
            raise ValueError(f"--accelerator {self.accelerator!r}: expected one of {list(BASELINES)}")
        self.dataset = nb201.canonical_dataset(self.dataset)
        known = set(SEARCH_METHODS) | set(RL_METHODS)
        check_methods_and_seeds(list(self.methods) + list(self.nested_methods) + list(self.ablation_methods), known, self.seeds)
        for a in self.ablations:
            if a not in ("hardware", "network"):
                raise ValueError(f"--ablations {a!r}: expected some of hardware, network")
        if self.budget < 1:
            raise ValueError(f"--budget {self.budget}: expected a positive number of design evaluations")
        from codesign_gym.costmodels.naas.accelerators import ENERGY_SCOPES

        if self.energy_scope not in ENERGY_SCOPES:
            raise ValueError(f"--energy-scope {self.energy_scope!r}: expected one of {', '.join(ENERGY_SCOPES)}")
        if self.samples < 1 or self.rounds < 0:
            raise ValueError(f"--samples {self.samples} / --rounds {self.rounds}: expected samples >= 1 and rounds >= 0")


def build_problem(config: NaasConfig, search: str):
    from codesign_gym.envs.nas_accelerator import NASAcceleratorProblem

    return NASAcceleratorProblem(**config.env_config(search))


# ---------------------------------------------------------------------------- archives
ARCHIVE_COLUMNS = ("design", "arch_index", "accuracy", "edp", "energy_pj", "latency_cycles", "valid", "feasible")


class RecordingProblem:
    """A problem that keeps every design it scores (the archive) besides scoring it."""

    def __init__(self, problem):
        self.problem = problem
        self.design_nvec = problem.design_nvec
        self.rows: list[tuple] = []

    def score(self, designs: np.ndarray) -> Evaluation:
        m = self.problem.evaluate_designs(designs)
        for i, d in enumerate(np.asarray(designs)):
            self.rows.append((d.tolist(), int(m["arch_index"][i]), float(m["accuracy"][i]), float(m["edp"][i]), float(m["energy_pj"][i]),
                              int(m["latency_cycles"][i]), bool(m["valid"][i]), bool(m["feasible"][i])))
        p = self.problem
        shown = np.where(m["feasible"], m["edp"] / p.space.ref_edp, np.nan)
        return Evaluation(fitness=m["objective"], objective=shown, feasible=m["feasible"])


def _archive_path(output_dir: Path, search: str, method: str, seed: int) -> Path:
    return output_dir / "archives" / f"{search}-{method}-{seed}.csv"


def write_archive(path: Path, rows: list[tuple]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(ARCHIVE_COLUMNS)
        for r in rows:
            w.writerow([json.dumps(r[0])] + [int(v) if isinstance(v, bool) else v for v in r[1:]])


def read_archive(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {"designs": [json.loads(r["design"]) for r in rows], "arch_index": np.array([int(r["arch_index"]) for r in rows], dtype=np.int64),
            "accuracy": np.array([float(r["accuracy"]) for r in rows]), "edp": np.array([float(r["edp"]) for r in rows]),
            "valid": np.array([r["valid"] == "1" for r in rows], dtype=bool), "feasible": np.array([r["feasible"] == "1" for r in rows], dtype=bool)}


def archive_stats(archive: dict[str, np.ndarray], ref_edp: float, ref_accuracy: float) -> dict:
    """Best EDP reduction at accuracy >= ``ref_accuracy`` (valid designs), its accuracy and
    design, and the hypervolume of (EDP / ref, error / 100) against (1, 1)."""
    valid = archive["valid"] & np.isfinite(archive["edp"])
    ok = valid & (archive["accuracy"] >= ref_accuracy - 1e-9)
    out = {"evals": int(archive["accuracy"].size), "reduction": float("nan"), "accuracy": float("nan"), "design": None, "arch_index": None}
    if ok.any():
        i = np.flatnonzero(ok)[int(np.argmin(archive["edp"][ok]))]
        out.update(reduction=ref_edp / float(archive["edp"][i]), accuracy=float(archive["accuracy"][i]), design=archive["designs"][i],
                   arch_index=int(archive["arch_index"][i]))
    out["hypervolume"] = hypervolume(archive["edp"][valid], 100.0 - archive["accuracy"][valid], ref_edp) if valid.any() else 0.0
    return out


# ---------------------------------------------------------------------------- runs
def _row(config, search, method, seed, evals, wall_s, best, best_config, optimum, final) -> dict:
    finite = best is not None and math.isfinite(best)
    return {"experiment": EXPERIMENT, "problem": config.problem_name(search), "method": method, "seed": seed, "evals": evals,
            "layer_queries": "", "wall_s": round(wall_s, 4), "best_objective": best if finite else float("nan"), "feasible": finite,
            "gap_to_opt": (best / optimum - 1.0) if (optimum and finite) else float("nan"),
            "best_config": best_config if final else "", "final": 1 if final else 0}


def run_search_method(config: NaasConfig, search: str, problem, method: str, seed: int, optimum, writer, output_dir: Path) -> float:
    recorder = RecordingProblem(problem)
    searcher = make_search_method(method, problem.design_nvec, seed=seed)
    step = max(1, config.budget // 100)
    state = {"next": step, "best": float("nan")}

    def checkpoint(trace) -> None:
        best, evals = trace.best_objective[-1], trace.evals[-1]
        improved = math.isfinite(best) and not (math.isfinite(state["best"]) and best >= state["best"])
        if evals < config.budget and (improved or evals >= state["next"]):
            writer.write([_row(config, search, method, seed, evals, trace.wall_s[-1], best, None, optimum, False)])
            while state["next"] <= evals:
                state["next"] += step
        if math.isfinite(best):
            state["best"] = best

    trace = run_search(searcher, recorder, config.budget, on_batch=checkpoint)
    write_archive(_archive_path(output_dir, search, method, seed), recorder.rows)
    best = trace.best_objective[-1]
    cfg = problem.design_config(trace.best_design) if trace.best_design is not None and math.isfinite(best) else None
    writer.write([_row(config, search, method, seed, trace.evals[-1], trace.wall_s[-1], best, cfg, optimum, True)])
    return best


def run_rl_method(config: NaasConfig, search: str, problem, method: str, seed: int, optimum, writer, output_dir: Path) -> float:
    """REINFORCE or PPO (MLP policy, one-step episodes, MultiDiscrete action) for ``budget`` episodes."""
    from codesign_gym.experiments.naas_rl import train_rl_archive

    def checkpoint(progress) -> None:
        best = progress.best_objective if np.isfinite(progress.best_objective) else float("nan")
        if progress.episodes < config.budget:
            writer.write([_row(config, search, method, seed, progress.episodes, progress.wall_s, best, None, optimum, False)])

    rows, progress = train_rl_archive(method, config.env_config(search), seed, config.budget, on_iteration=checkpoint)
    write_archive(_archive_path(output_dir, search, method, seed), rows)
    best = progress.best_objective if np.isfinite(progress.best_objective) else float("nan")
    cfg = problem.design_config(progress.best_pe) if progress.best_pe is not None and math.isfinite(best) else None
    writer.write([_row(config, search, method, seed, progress.episodes, progress.wall_s, best, cfg, optimum, True)])
    return best


def network_optimum(problem) -> tuple[float, int]:
    """The network-only problem solved exactly: least EDP / reference EDP over the 15,625 cells
    on the baseline with accuracy >= the target, and its index."""
    costs = problem.space.baseline_costs()
    ok = costs.accuracy >= problem.accuracy_target
    i = int(np.flatnonzero(ok)[np.argmin(costs.edp[ok])])
    return float(costs.edp[i] / problem.space.ref_edp), i


def run_experiment(config: NaasConfig, output_dir: str | Path, progress: Callable[[str], None] = print,
                   rl_runner: Callable | None = None) -> Path:
    """Run (or resume) into ``output_dir``; returns the path of ``summary.md``. ``rl_runner`` has
    :func:`run_rl_method`'s signature (default: it, on the Ray instance already initialised)."""
    from codesign_gym.experiments.report import render_report

    config.validate()
    output_dir = Path(output_dir)
    writer, done = open_results(output_dir, {"experiment": EXPERIMENT, **dataclasses.asdict(config)}, progress)
    problems = {s: build_problem(config, s) for s in config.searches()}
    ref = problems["joint"].space
    progress(f"reference: {config.accelerator} running the ResNet cell on {config.dataset}: {ref.ref_accuracy:.2f}%, "
             f"EDP {ref.ref_edp:.4g} pJ x cycles ({ref.ref_latency_cycles:,} cycles, {ref.ref_energy_pj / 1e6:.2f} uJ)")
    optimum = {}
    if "network" in problems:
        optimum["network"], idx = network_optimum(problems["network"])
        name = config.problem_name("network")
        if (name, "exhaustive", 0) not in done:
            writer.write([{**_row(config, "network", "exhaustive", 0, 15625, 0.0, optimum["network"],
                                  problems["network"].design_config(np.array(_edge_codes(idx))), optimum["network"], True)}])
        progress(f"network-only optimum (exhaustive): EDP x{optimum['network']:.4f} of the reference, cell {idx}")
    for search, method in config.runs():
        for seed in pending_seeds(config.problem_name(search), method, config.seeds, done, progress, f"{search}/{method}"):
            t0 = time.perf_counter()
            runner = (rl_runner or run_rl_method) if method in RL_METHODS else run_search_method
            best = runner(config, search, problems[search], method, seed, optimum.get(search), writer, output_dir)
            shown = f"EDP reduction {1 / best:.3f}x" if math.isfinite(best) and best > 0 else "no feasible design"
            progress(f"  {search}/{method} seed {seed}: {shown} ({time.perf_counter() - t0:.1f} s)")
    md = write_outputs(config, problems["joint"], output_dir)
    progress(f"tables: {md}")
    return render_report(output_dir)


def _edge_codes(index: int) -> list[int]:
    from codesign_gym.costmodels.workloads import nb201

    return nb201.edge_ops()[int(index)].tolist()


# ---------------------------------------------------------------------------- outputs
def _archives(config: NaasConfig, output_dir: Path) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = {}
    for search, method in config.runs():
        for seed in range(config.seeds):
            path = _archive_path(output_dir, search, method, seed)
            if path.exists():
                out.setdefault((search, method), []).append(read_archive(path))
    return out


def table_rows(config: NaasConfig, problem, archives: dict[tuple[str, str], list[dict]]) -> list[dict]:
    """One row per (search, method): EDP reduction at equal or better accuracy (mean +- 95% CI
    over seeds, and the best seed), that design's accuracy, hypervolume."""
    from codesign_gym.experiments.report import mean_ci95

    s = problem.space
    rows = [{"search": "reference", "method": f"{config.accelerator} + ResNet cell", "seeds": "-", "evals": "-",
             "edp_reduction_x": "1.00", "best_seed_x": "1.00", "found": "-", "accuracy_%": f"{s.ref_accuracy:.2f}", "hypervolume": "-"}]
    for (search, method), parts in archives.items():
        stats = [archive_stats(a, s.ref_edp, problem.accuracy_target) for a in parts]
        red = [st["reduction"] for st in stats]
        finite = [r for r in red if math.isfinite(r)]
        mean, half = mean_ci95(finite)
        hv, hv_half = mean_ci95([st["hypervolume"] for st in stats])
        acc = [st["accuracy"] for st in stats if math.isfinite(st["accuracy"])]
        rows.append({"search": search, "method": method, "seeds": len(parts), "evals": int(np.mean([st["evals"] for st in stats])),
                     "edp_reduction_x": f"{mean:.2f} +- {half:.2f}" if finite else "-",
                     "best_seed_x": f"{max(finite):.2f}" if finite else "-", "found": f"{len(finite)}/{len(parts)}",
                     "accuracy_%": f"{np.mean(acc):.2f}" if acc else "-", "hypervolume": f"{hv:.4f} +- {hv_half:.2g}"})
    return rows


def best_designs(config: NaasConfig, problems: dict, archives: dict) -> list[dict]:
    """The best design found per search (over methods and seeds), described."""
    out = []
    for search in config.searches():
        best, where = None, None
        for (s, method), parts in archives.items():
            if s != search:
                continue
            for seed, a in enumerate(parts):
                st = archive_stats(a, problems[search].space.ref_edp, problems[search].accuracy_target)
                if math.isfinite(st["reduction"]) and (best is None or st["reduction"] > best["reduction"]):
                    best, where = st, f"{method} seed {seed}"
        if best is None:
            continue
        cfg = problems[search].design_config(best["design"])
        out.append({"search": search, "found_by": where, "edp_reduction_x": round(best["reduction"], 3), "accuracy_%": cfg["accuracy"],
                    "cell": cfg["arch_str"], "hardware": cfg["hardware"], "num_pes": cfg["num_pes"], "onchip_bytes": cfg["onchip_bytes"], "area_mm2": round(cfg["area_mm2"], 4),
                    "latency_ms": round(cfg["latency_ms"], 4), "energy_uJ": round(cfg["energy_pj"] / 1e6, 3)})
    return out


def _plot(config: NaasConfig, problem, archives: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = problem.space
    fig, ax = plt.subplots(figsize=(7.5, 5))
    base = s.baseline_costs()
    ax.scatter(base.edp / s.ref_edp, base.accuracy, s=2, c="0.8", label=f"all 15,625 cells on {config.accelerator}", zorder=1)
    styles = {"joint": "-", "nested": "-.", "hardware": "--", "network": ":"}
    for (search, method), parts in sorted(archives.items()):
        edp = np.concatenate([a["edp"] for a in parts])
        acc = np.concatenate([a["accuracy"] for a in parts])
        ok = np.concatenate([a["valid"] for a in parts]) & np.isfinite(edp)
        if not ok.any():
            continue
        e, a = edp[ok] / s.ref_edp, acc[ok]
        keep = pareto_mask(e, 100.0 - a)
        order = np.argsort(e[keep])
        ax.step(e[keep][order], a[keep][order], where="post", ls=styles[search], marker=".", ms=3, label=f"{search}/{method}", zorder=2)
    ax.scatter([1.0], [s.ref_accuracy], c="r", marker="*", s=150, zorder=3, label=f"{config.accelerator} + ResNet cell (reference)")
    ax.axhline(s.ref_accuracy, color="r", lw=0.5, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("EDP / reference EDP (log)")
    ax.set_ylabel(f"test accuracy on {config.dataset} (%)")
    ax.set_ylim(max(0.0, s.ref_accuracy - 15), min(100.0, s.ref_accuracy + 3))
    ax.set_title(f"NAAS on NB201: {config.accelerator}, {config.dataset} (fronts over all seeds)", fontsize=9)
    ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


_SCOPE_TEXT = {"total": "DRAM traffic, buffers, scratchpads and MACs.",
               "onchip": "on chip only (buffers, scratchpads, MACs; DRAM energy left out of every mapping and cost, "
                         "MAESTRO's scope as in NAAS; DRAM bandwidth still limits cycles)."}


def write_outputs(config: NaasConfig, problem, output_dir: Path) -> Path:
    """``naas.md`` and ``pareto.png`` from the archives in ``output_dir``."""
    archives = _archives(config, output_dir)
    problems = {s: build_problem(config, s) for s in config.searches()}
    _plot(config, problem, archives, output_dir / "pareto.png")
    s = problem.space
    rows = table_rows(config, problem, archives)
    best = best_designs(config, problems, archives)
    text = (
        f"# NAAS on NAS-Bench-201: {config.accelerator}, {config.dataset}, {config.energy_scope} energy\n\n"
        f"Reference: **{config.accelerator} running the ResNet cell** (NB201 index 11472): {s.ref_accuracy:.2f}% test accuracy, "
        f"{s.ref_latency_cycles:,} cycles, {s.ref_energy_pj / 1e6:.2f} uJ, EDP {s.ref_edp:.4g} pJ x cycles. Every design and the "
        f"reference are mapped by the same inner search ({config.samples} samples, {config.rounds} refinement round(s)). "
        f"Caps: {s.max_pes} PEs, {s.max_onchip_bytes:,} on-chip bytes, {s.max_dram_words_per_cycle:g} DRAM words/cycle. "
        f"Energy: {_SCOPE_TEXT[config.energy_scope]} Budget {config.budget} design evaluations per run. Accuracy is "
        f"NAS-Bench-201's **test** accuracy, so a search that selects on it leaks test data.\n\n"
        f"## EDP reduction vs the reference at accuracy >= {problem.accuracy_target:.2f}% (mean +- 95% CI over seeds)\n\n"
        f"`edp_reduction_x`: reference EDP / the least EDP found at equal or better accuracy within the caps; `found`: seeds "
        f"that found such a design; `hypervolume`: of (EDP / reference, top-1 error) against (1, 1). Searches: `joint` (cell and "
        f"accelerator in one design vector), `nested` (joint search in NAAS's two-level form: the method picks the accelerator "
        f"and the best cell on it is found exactly; one accelerator pricing per evaluation, as in `hardware`), `hardware` "
        f"(cell fixed to the ResNet cell), `network` (hardware fixed to {config.accelerator}).\n\n"
        f"{render_table(rows, markdown=True)}\n\n"
        f"## Best design per search\n\n{render_table(best, markdown=True) if best else '(none)'}\n\n![pareto](pareto.png)\n"
    )
    path = output_dir / "naas.md"
    path.write_text(text)
    return path
