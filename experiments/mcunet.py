"""The MCUNetV2 experiment: patch-based schedules of a network under an SRAM budget.

``codesign-gym run mcunet --model mobilenet_v2 --sram-kib 256 --budget N --seeds S``

1. Enumerates every schedule of the cost model, layer by layer plus every valid split layer x
   grid 1..8 (:func:`schedule_table`), writes ``schedules.csv``, ``schedules.md`` (the Pareto front
   of peak SRAM vs extra MACs and the best schedule under 256/320/512 KiB and the chosen budget)
   and ``peak_vs_extra_macs.png``.
2. Solves the env's problem (``codesign/PatchInference-v0``: split after a block x grid) exactly by
   exhaustive enumeration: the optimum every method's ``gap_to_opt`` refers to.
3. Runs each method x seed for ``N`` whole-design evaluations (search baselines through the
   ask/tell interface; RL methods as one-step episodes on RLlib), appending rows to
   ``results.csv``, and renders ``summary.md``.
"""

from __future__ import annotations

import csv
import dataclasses
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from codesign_gym.agents.search import SEARCH_METHODS, make_search_method, run_search
from codesign_gym.costmodels.patch_memory import NO_SPLIT, patch_memory, valid_split_layers
from codesign_gym.envs.patch_inference import PatchInferenceProblem
from codesign_gym.experiments.results import check_methods_and_seeds, open_results, pending_seeds
from codesign_gym.experiments.tables import render_table

EXPERIMENT = "mcunet"
ENV_ID = "codesign_gym.envs:codesign/PatchInference-v0"
RL_METHODS = ("reinforce", "ppo")
DEFAULT_METHODS = ("random", "genetic", "annealing", "reinforce")
#: SRAM sizes of common microcontrollers (KiB) that the schedule table always reports.
MCU_SRAM_KIB = (256, 320, 512)
GRIDS = tuple(range(1, 9))


@dataclasses.dataclass
class McunetConfig:
    """What to run; ``budget`` is whole-design evaluations (RL: one-step episodes)."""

    model: str = "mobilenet_v2"
    resolution: int = 224
    width: float = 1.0
    sram_kib: float = 256.0
    flash_kib: float | None = None
    budget: int = 100
    seeds: int = 3
    methods: Sequence[str] = DEFAULT_METHODS

    def problem_name(self) -> str:
        flash = "" if self.flash_kib is None else f"|flash{self.flash_kib:g}KiB"
        return f"{self.model}@{self.resolution}x{self.width:g}|sram{self.sram_kib:g}KiB{flash}"

    def validate(self) -> None:
        if self.model != "mobilenet_v2":
            raise ValueError(f"--model {self.model!r}: expected mobilenet_v2 (the env's MobileNetV2 space)")
        check_methods_and_seeds(self.methods, set(SEARCH_METHODS) | set(RL_METHODS), self.seeds)
        if self.budget < 1:
            raise ValueError(f"--budget {self.budget}: expected a positive number of design evaluations")


def build_problem(config: McunetConfig) -> PatchInferenceProblem:
    return PatchInferenceProblem(sram_kib=config.sram_kib, flash_kib=config.flash_kib, widths=(config.width,),
                                 resolutions=(config.resolution,), grids=GRIDS)


def schedule_table(table, grids: Sequence[int] = GRIDS) -> list[dict[str, object]]:
    """Every schedule: layer by layer, then each valid split x grid (grids larger than the map
    dropped), priced in one cost-model call. Sizes in KiB, MACs as integers."""
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
    """The fewest-MACs schedule whose peak fits ``sram_kib`` (ties: lower peak), or None."""
    fits = [r for r in rows if r["peak_kib"] <= sram_kib]
    return min(fits, key=lambda r: (r["macs"], r["peak_kib"])) if fits else None


def write_schedules(rows: list[dict], output_dir: Path, sram_kib: float, title: str) -> None:
    """``schedules.csv`` (all), ``schedules.md`` (best per budget and the Pareto front), the plot."""
    with (output_dir / "schedules.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    budgets = sorted(set(MCU_SRAM_KIB) | {float(sram_kib)})
    best = [{"sram_kib": b, **(best_under(rows, b) or {"split_name": "none fits"})} for b in budgets]
    fmt = lambda rs: [{k: (f"{v:.2f}" if isinstance(v, float) else v) for k, v in r.items()} for r in rs]  # noqa: E731
    text = (
        f"# {title}: patch-based schedules\n\nLayer by layer: peak {rows[0]['peak_kib']:.1f} KiB, {rows[0]['macs']:,} MACs. "
        f"{len(rows) - 1} patch schedules (every valid split layer x grid {GRIDS[0]}..{GRIDS[-1]}).\n\n"
        f"## Fewest MACs under each SRAM budget\n\n{render_table(fmt(best))}\n\n"
        f"## Pareto front (peak SRAM vs MACs)\n\n{render_table(fmt(pareto_front(rows)))}\n"
    )
    (output_dir / "schedules.md").write_text(text)
    _plot(rows, output_dir / "peak_vs_extra_macs.png", sram_kib, title)


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
    ax.set_xlim(left=0)
    ax.set_yscale("log")
    ax.set_xlabel("extra MACs (% of layer by layer)")
    ax.set_ylabel("peak SRAM (KiB, int8)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def exhaustive(problem: PatchInferenceProblem) -> tuple[float | None, np.ndarray | None, int]:
    """Optimum objective and design of the env's problem by enumerating its space; (None, None, n)
    if no design is feasible. Also returns the number of designs."""
    nvec = problem.design_nvec
    designs = np.stack(np.meshgrid(*[np.arange(k) for k in nvec], indexing="ij"), axis=-1).reshape(-1, nvec.size)
    ev = problem.score(designs)
    if not ev.feasible.any():
        return None, None, len(designs)
    i = int(np.argmin(ev.fitness))
    return float(ev.objective[i]), designs[i], len(designs)


def design_config(problem: PatchInferenceProblem, design: np.ndarray | None) -> dict | None:
    """A design as the schedule it stands for, with its metrics."""
    if design is None:
        return None
    m = problem.evaluate_designs(np.asarray(design, dtype=np.int64)[None, :])
    keys = ("split_layer", "grid", "width", "resolution", "peak_sram_kib", "flash_kib", "macs", "extra_macs")
    return {k: m[k][0].item() for k in keys}


def _row(config, method, seed, evals, wall_s, best, design, optimum, final, problem) -> dict:
    return {
        "experiment": EXPERIMENT, "problem": config.problem_name(), "method": method, "seed": seed, "evals": evals,
        "layer_queries": "", "wall_s": round(wall_s, 4), "best_objective": best, "feasible": bool(np.isfinite(best)),
        "gap_to_opt": (best / optimum - 1.0) if optimum and np.isfinite(best) else float("nan"),
        "best_config": design_config(problem, design) if final else "", "final": 1 if final else 0,
    }


def run_search_method(config, problem, method, seed, optimum, writer) -> float:
    searcher = make_search_method(method, problem.design_nvec, seed=seed)

    def checkpoint(trace) -> None:
        if trace.evals[-1] < config.budget:
            writer.write([_row(config, method, seed, trace.evals[-1], trace.wall_s[-1], trace.best_objective[-1], None, optimum, False, problem)])

    trace = run_search(searcher, problem, config.budget, on_batch=checkpoint)
    best = trace.best_objective[-1]
    writer.write([_row(config, method, seed, trace.evals[-1], trace.wall_s[-1], best, trace.best_design, optimum, True, problem)])
    return best


def run_rl_method(config, problem, method, seed, optimum, writer) -> float:
    """REINFORCE or PPO (MLP policy) on one-step episodes of the env, for ``budget`` episodes."""
    from codesign_gym.agents.rllib.training import build_algorithm_config, train_for_episodes
    from codesign_gym.experiments.mcunet_callback import BestScheduleCallback

    env_config = {"sram_kib": config.sram_kib, "flash_kib": config.flash_kib, "widths": (config.width,),
                  "resolutions": (config.resolution,), "grids": GRIDS}
    algo_config = build_algorithm_config(method, env_config, seed, module="mlp", episode_length=1, env_id=ENV_ID,
                                         envs_per_runner=8, episodes_per_batch=16)
    algo = algo_config.callbacks(BestScheduleCallback).build_algo()
    state = {"design": None}

    def checkpoint(progress) -> None:
        if progress.best_pe is not None:
            state["design"] = progress.best_pe
        best = progress.best_objective if np.isfinite(progress.best_objective) else float("nan")
        writer.write([_row(config, method, seed, progress.episodes, progress.wall_s, best, None, optimum, False, problem)])

    try:
        progress = train_for_episodes(algo, config.budget, on_iteration=checkpoint)
    finally:
        algo.stop()
    best = progress.best_objective if np.isfinite(progress.best_objective) else float("nan")
    writer.write([_row(config, method, seed, progress.episodes, progress.wall_s, best, state["design"], optimum, True, problem)])
    return best


def run_experiment(config: McunetConfig, output_dir: str | Path, progress: Callable[[str], None] = print,
                   rl_runner: Callable | None = None) -> Path:
    """Run (or resume) into ``output_dir``; returns the path of ``summary.md``. ``rl_runner`` has
    :func:`run_rl_method`'s signature (default: it, on the Ray instance already initialised)."""
    from codesign_gym.experiments.report import render_report

    config.validate()
    problem = build_problem(config)
    output_dir = Path(output_dir)
    writer, done = open_results(output_dir, {"experiment": EXPERIMENT, **dataclasses.asdict(config)}, progress)
    name = config.problem_name()
    from codesign_gym.costmodels.mobilenet_space import mobilenet_v2_variant

    rows = schedule_table(mobilenet_v2_variant(config.width, config.resolution))
    write_schedules(rows, output_dir, config.sram_kib, name)
    for b in sorted(set(MCU_SRAM_KIB) | {config.sram_kib}):
        r = best_under(rows, b)
        progress(f"  best under {b:g} KiB: " + ("none fits" if r is None else
                 f"split after {r['split_name']} (layer {r['split_layer']}, {r['split_output_hwc']}), {r['grid']}x{r['grid']} grid: "
                 f"peak {r['peak_kib']:.1f} KiB, +{r['extra_macs_pct']:.1f}% MACs"))
    t0 = time.perf_counter()
    optimum, opt_design, n = exhaustive(problem)
    progress(f"{name}: exhaustive over {n} designs (block split x grid): optimum {optimum} MACs")
    if (name, "exhaustive", 0) not in done:
        writer.write([{**_row(config, "exhaustive", 0, n, time.perf_counter() - t0, float("nan") if optimum is None else optimum,
                              opt_design, optimum, True, problem), "gap_to_opt": 0.0 if optimum else float("nan")}])
    for method in config.methods:
        for seed in pending_seeds(name, method, config.seeds, done, progress):
            runner = (rl_runner or run_rl_method) if method in RL_METHODS else run_search_method
            best = runner(config, problem, method, seed, optimum, writer)
            gap = f", gap {100 * (best / optimum - 1):.2f}%" if optimum and np.isfinite(best) else ""
            progress(f"  {method} seed {seed}: best {best:.6g}{gap}")
    return render_report(output_dir)
