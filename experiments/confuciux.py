"""The ConfuciuX experiment: every method on the same resource-assignment problem and budget.

``codesign-gym run confuciux --model cfx/mobilenet_v2 --dataflow dla --objective latency
--constraint area:0.5 --budget N --seeds S`` prices the problem once, solves it exactly
(multiple-choice knapsack, separable objectives only), then runs each method x seed for ``N``
whole-design evaluations, appending checkpoint rows to ``results.csv`` as it goes, and renders
``summary.md`` with gaps to the optimum plus a convergence plot.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from codesign_gym.agents.exact import solve_multiple_choice_knapsack
from codesign_gym.agents.search import SEARCH_METHODS, GeneticAlgorithm, SearchTrace, make_search_method, run_search
from codesign_gym.envs.resource_assignment import ResourceAssignmentProblem
from codesign_gym.experiments.results import ResultsWriter, check_methods_and_seeds, open_results, pending_seeds

EXPERIMENT = "confuciux"
#: Design evaluations ConfuciuX's RL+GA used in its MobileNetV2/ResNet-50 runs (our anchor budget).
CONFUCIUX_BUDGET = 3673
RL_METHODS = ("reinforce", "ppo", "rl_ga")
DEFAULT_METHODS = ("random", "genetic", "annealing", "bayesian", "model_based", "reinforce", "rl_ga")
#: Methods that interact with the env directly but need no Ray.
ENV_METHODS = ("model_based",)


@dataclasses.dataclass
class ConfuciuxConfig:
    """What to run. ``budget`` is in whole-design evaluations (for RL: episodes)."""

    model: str = "cfx/mobilenet_v2"
    dataflow: str = "dla"
    objective: str = "latency"
    constraint: str = "area:0.5"
    budget: int = 600
    seeds: int = 3
    methods: Sequence[str] = DEFAULT_METHODS
    batch_size: int | None = None  # designs per search round; None: each method's preferred batch

    def problem_name(self) -> str:
        return f"{self.model}|{self.dataflow}|{self.objective}|{self.constraint}"

    def validate(self) -> None:
        check_methods_and_seeds(self.methods, set(SEARCH_METHODS) | set(RL_METHODS) | set(ENV_METHODS), self.seeds)
        if self.budget < 1:
            raise ValueError(f"--budget {self.budget}: expected a positive number of design evaluations")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"--batch-size {self.batch_size}: expected a positive number of designs per round")


def build_problem(config: ConfuciuxConfig) -> ResourceAssignmentProblem:
    return ResourceAssignmentProblem(
        workload=config.model, dataflow=config.dataflow, objective=config.objective, constraint=config.constraint
    )


def exact_optimum(problem: ResourceAssignmentProblem) -> tuple[float | None, np.ndarray | None]:
    """Optimum objective and design (2L,) for separable objectives; (None, None) for EDP."""
    if problem.objective == "edp":
        return None, None
    cost = problem.table.metric(problem.objective).reshape(problem.num_layers, -1)
    sol = solve_multiple_choice_knapsack(cost, problem.constraint_cost, problem.budget.value)
    pe, buf = np.divmod(sol.choice, problem.num_buffer_levels)
    return sol.objective, np.concatenate([pe, buf])


def design_config(problem: ResourceAssignmentProblem, design: np.ndarray | None) -> dict | None:
    """A design (2L,) as the per-layer PE counts and buffer levels it stands for."""
    if design is None:
        return None
    L = problem.num_layers
    return {
        "pe": problem.table.pe_levels[design[:L]].tolist(),
        "buffer": problem.table.buffer_levels[design[L:]].tolist(),
    }


class _Recorder:
    """Decides which progress points become rows: every improvement of the best objective (so
    'evaluations to within X%' are exact) and at least one row per 1% of the budget."""

    def __init__(self, budget: int):
        self.step = max(budget // 100, 1)
        self.next_grid = self.step
        self.best = float("nan")

    def wants(self, evals: int, best: float) -> bool:
        improved = np.isfinite(best) and not (best >= self.best)  # NaN-safe: first finite value counts
        due = evals >= self.next_grid
        if improved:
            self.best = best
        if due:
            self.next_grid = (evals // self.step + 1) * self.step
        return bool(improved or due)


class _ProgressLine:
    """Prints ``method seed: evals/budget, best, gap`` at most every ``every_s`` seconds."""

    def __init__(self, progress: Callable[[str], None], label: str, budget: int, optimum, every_s: float = 10.0):
        self.progress, self.label, self.budget, self.optimum, self.every_s = progress, label, budget, optimum, every_s
        self.last = time.perf_counter()

    def update(self, evals: int, best: float) -> None:
        now = time.perf_counter()
        if now - self.last < self.every_s:
            return
        self.last = now
        gap = f", gap {100 * (best / self.optimum - 1):.2f}%" if self.optimum and np.isfinite(best) else ""
        self.progress(f"  {self.label}: {evals}/{self.budget} evaluations, best {best:.6g}{gap}")


def run_search_method(config, problem, method: str, seed: int, optimum, writer: ResultsWriter, progress: Callable[[str], None] = print) -> SearchTrace:
    """One search method x seed; writes rows as the search goes (see :class:`_Recorder`)."""
    searcher = make_search_method(method, problem.design_nvec, seed=seed)
    recorder = _Recorder(config.budget)
    line = _ProgressLine(progress, f"{method} seed {seed}", config.budget, optimum)

    def checkpoint(trace: SearchTrace) -> None:
        evals, best = trace.evals[-1], trace.best_objective[-1]
        line.update(evals, best)
        if recorder.wants(evals, best) and evals < config.budget:
            writer.write([_row(config, problem, method, seed, evals, trace.wall_s[-1], best, None, optimum, False)])

    trace = run_search(searcher, problem, config.budget, config.batch_size, on_batch=checkpoint)
    writer.write([_row(config, problem, method, seed, trace.evals[-1], trace.wall_s[-1], trace.best_objective[-1], trace.best_design, optimum, True)])
    return trace


def run_model_based_method(config, problem, seed: int, optimum, writer: ResultsWriter, progress: Callable[[str], None] = print):
    """Model-based RL (:mod:`codesign_gym.agents.model_based`) on 64 vectorized sub-envs."""
    from codesign_gym.agents.model_based import run_model_based
    from codesign_gym.envs.resource_assignment import ResourceAssignmentVectorEnv

    method = "model_based"
    recorder = _Recorder(config.budget)
    line = _ProgressLine(progress, f"{method} seed {seed}", config.budget, optimum)

    def checkpoint(trace) -> None:
        evals, best = trace.evals[-1], trace.best_objective[-1]
        line.update(evals, best)
        if recorder.wants(evals, best):
            writer.write([_row(config, problem, method, seed, evals, trace.wall_s[-1], best, None, optimum, False)])

    trace = run_model_based(ResourceAssignmentVectorEnv(num_envs=64, problem=problem), config.budget, seed=seed, on_batch=checkpoint)
    writer.write([_row(config, problem, method, seed, trace.evals[-1], trace.wall_s[-1], trace.best_objective[-1], trace.best_design, optimum, True)])
    return trace


def _row(config, problem, method, seed, evals, wall_s, best, design, optimum, final) -> dict:
    return {
        "experiment": EXPERIMENT,
        "problem": config.problem_name(),
        "method": method,
        "seed": seed,
        "evals": evals,
        "layer_queries": evals * problem.num_layers,
        "wall_s": round(wall_s, 4),
        "best_objective": best,
        "feasible": bool(np.isfinite(best)),
        "gap_to_opt": (best / optimum - 1.0) if optimum and np.isfinite(best) else float("nan"),
        "best_config": design_config(problem, design) if final else "",
        "final": 1 if final else 0,
    }


def run_rl_method(config: ConfuciuxConfig, problem, method: str, seed: int, optimum, writer: ResultsWriter, progress: Callable[[str], None] = print) -> float:
    """Train REINFORCE or PPO (ConfuciuX's LSTM policy) for the budget in episodes; ``rl_ga`` is
    ConfuciuX's two stages: REINFORCE for 2/3 of the budget, then a GA seeded with its best design.
    RLlib's metrics of every iteration go to ``<output_dir>/tensorboard/<method>-seed<k>/``."""
    from tensorboardX import SummaryWriter

    from codesign_gym.agents.rllib.training import build_algorithm_config, numeric_leaves, train_for_episodes

    rl_budget = config.budget * 2 // 3 if method == "rl_ga" else config.budget
    algorithm = "ppo" if method == "ppo" else "reinforce"
    env_config = {"workload": config.model, "dataflow": config.dataflow, "objective": config.objective, "constraint": config.constraint}
    algo = build_algorithm_config(algorithm, env_config, seed, module="lstm", episode_length=problem.num_layers).build_algo()
    state = {"design": None}
    line = _ProgressLine(progress, f"{method} seed {seed}", config.budget, optimum)
    board = SummaryWriter(str(writer.path.parent / "tensorboard" / f"{method}-seed{seed}"))

    def to_design(pe, buf):
        return np.concatenate([np.searchsorted(problem.table.pe_levels, pe), np.searchsorted(problem.table.buffer_levels, buf)])

    def checkpoint(progress) -> None:
        if progress.best_pe is not None:
            state["design"] = to_design(progress.best_pe, progress.best_buffer)
        best = progress.best_objective if np.isfinite(progress.best_objective) else float("nan")
        writer.write([_row(config, problem, method, seed, progress.episodes, progress.wall_s, best, state["design"], optimum, False)])
        line.update(progress.episodes, best)
        for tag, value in numeric_leaves(progress.result).items():
            board.add_scalar(tag, value, progress.episodes)
        if np.isfinite(best):
            board.add_scalar("codesign/best_feasible_objective", best, progress.episodes)

    try:
        progress = train_for_episodes(algo, rl_budget, on_iteration=checkpoint)
    finally:
        algo.stop()
        board.close()
    best = progress.best_objective if np.isfinite(progress.best_objective) else float("nan")
    if method != "rl_ga" or progress.episodes >= config.budget:
        writer.write([_row(config, problem, method, seed, progress.episodes, progress.wall_s, best, state["design"], optimum, True)])
        return best
    # Stage 2: GA seeded with the RL design (unseeded if RL found no feasible design) for the
    # rest of the budget; evaluations continue counting.
    rest = config.budget - progress.episodes
    searcher = GeneticAlgorithm(problem.design_nvec, seed=seed, seed_design=state["design"])
    offset, t0, best_design = progress.episodes, progress.wall_s, state["design"]

    recorder = _Recorder(config.budget)

    def ga_checkpoint(trace: SearchTrace) -> None:
        b = float(np.fmin(best, trace.best_objective[-1]))  # fmin ignores a NaN (nothing feasible yet)
        line.update(offset + trace.evals[-1], b)
        if recorder.wants(offset + trace.evals[-1], b) and trace.evals[-1] < rest:
            writer.write([_row(config, problem, method, seed, offset + trace.evals[-1], t0 + trace.wall_s[-1], b, None, optimum, False)])

    trace = run_search(searcher, problem, rest, config.batch_size, on_batch=ga_checkpoint)
    if np.isfinite(trace.best_objective[-1]) and not trace.best_objective[-1] > best:  # NaN best: GA wins
        best, best_design = trace.best_objective[-1], trace.best_design
    writer.write([_row(config, problem, method, seed, offset + trace.evals[-1], t0 + trace.wall_s[-1], best, best_design, optimum, True)])
    return best


def run_experiment(
    config: ConfuciuxConfig,
    output_dir: str | Path,
    progress: Callable[[str], None] = print,
    rl_runner: Callable | None = None,
) -> Path:
    """Run (or resume) the experiment into ``output_dir``; returns the summary path.

    ``rl_runner(config, problem, method, seed, optimum, writer, progress)`` runs an RL method; the
    default, :func:`run_rl_method`, trains with RLlib on the Ray instance already initialised.
    """
    from codesign_gym.experiments.report import render_report

    config.validate()
    start = time.perf_counter()
    problem = build_problem(config)  # bad options fail here, before anything is written
    output_dir = Path(output_dir)
    writer, done = open_results(output_dir, {"experiment": EXPERIMENT, **dataclasses.asdict(config)}, progress)
    optimum, opt_design = exact_optimum(problem)
    name = config.problem_name()
    progress(
        f"{name}: {problem.num_layers} layers, budget {problem.budget.kind} <= {problem.budget.value:.6g}; "
        f"exact optimum {optimum if optimum is None else f'{optimum:.6g}'} ({time.perf_counter() - start:.2f} s)"
    )
    if optimum is not None and (name, "exact", 0) not in done:
        writer.write(
            [
                {
                    "experiment": EXPERIMENT, "problem": name, "method": "exact", "seed": 0, "evals": 0,
                    "layer_queries": problem.num_layers * problem.num_pe_levels * problem.num_buffer_levels,
                    "wall_s": round(time.perf_counter() - start, 4), "best_objective": optimum, "feasible": True,
                    "gap_to_opt": 0.0, "best_config": design_config(problem, opt_design), "final": 1,
                }
            ]
        )
    for method in config.methods:
        for seed in pending_seeds(name, method, config.seeds, done, progress):
            t0 = time.perf_counter()
            if method in RL_METHODS:
                best = (rl_runner or run_rl_method)(config, problem, method, seed, optimum, writer, progress)
            elif method in ENV_METHODS and problem.objective == "edp":
                progress(f"  {method} seed {seed}: skipped (it needs a separable objective; edp is not)")
                continue
            elif method in ENV_METHODS:
                best = run_model_based_method(config, problem, seed, optimum, writer, progress).best_objective[-1]
            else:
                best = run_search_method(config, problem, method, seed, optimum, writer, progress).best_objective[-1]
            gap = f", gap {100 * (best / optimum - 1):.2f}%" if optimum and np.isfinite(best) else ""
            progress(f"  {method} seed {seed}: best {best:.6g}{gap} ({time.perf_counter() - t0:.1f} s)")
    return render_report(output_dir)
