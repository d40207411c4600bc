"""The Zeus experiment: batch size and power limit of a recurring training job, per workload.

``codesign-gym run zeus --gpu v100 --eta 0.5 --beta 2 --seeds 10 --output results.json`` runs
every method x seed over one episode of recurrences (default ``2 |B| |P|``, Zeus's) of each
workload, writing as it goes ``results.csv`` (one row per recurrence checkpoint: ``evals`` =
tries so far, ``best_objective`` = Zeus's min_cost, the lowest cost of a recurrence that reached
the target, ``gap_to_opt`` against the oracle configuration's mean cost) and ``zeus_runs.jsonl``
(one record per finished run, for resuming), then renders ``summary.md``, the JSON summary
(:func:`json_summary`), ``energy_vs_default.md`` and ``regret_<gpu>.png``.

"Energy vs Default" of a run is its mean energy per recurrence over the last 10 recurrences
(failed tries included) over the Default configuration's ETA (mean over the runs that reach
the target), minus 1; the table gives mean and standard deviation over seeds.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from codesign_gym.agents.zeus import POLICIES, Simulation, make_policy, power_limit_mode, simulate
from codesign_gym.costmodels.zeus import WORKLOADS, check_eta_beta, check_workload_gpu
from codesign_gym.envs.batch_size_power_limit import BatchSizePowerLimitProblem
from codesign_gym.experiments.results import ResultsWriter, check_methods_and_seeds, open_results

EXPERIMENT = "zeus"
ENV_ID = "codesign_gym.envs:codesign/BatchSizePowerLimit-v0"
RL_METHODS = ("reinforce", "ppo")
DEFAULT_METHODS = ("zeus", "default", "grid", "oracle")
RUNS_FILE = "zeus_runs.jsonl"
#: Zeus's trace-driven simulator on these traces (V100, eta 0.5, beta 2, 10 seeds): energy vs Default, %.
ZEUS_REFERENCE_V100 = {"cifar100": -74.1, "imagenet": -19.4, "squad": -18.9, "librispeech": -38.5, "movielens": -65.6, "sentiment140": -20.9}
LAST = 10


@dataclasses.dataclass
class ZeusConfig:
    """What to run. ``budget``: recurrences per run (None: Zeus's ``2 |B| |P|`` per workload);
    ``rl_episodes``: training episodes of each RL method before its evaluation episode."""

    gpu: str = "v100"
    eta: float = 0.5
    beta: float | None = 2.0
    workloads: Sequence[str] = tuple(WORKLOADS)
    methods: Sequence[str] = DEFAULT_METHODS
    seeds: int = 10
    budget: int | None = None
    rl_episodes: int = 8

    def validate(self) -> None:
        for w in self.workloads:
            check_workload_gpu(w, self.gpu)
        check_workload_gpu(next(iter(WORKLOADS)), self.gpu)
        check_eta_beta(self.eta, self.beta)
        check_methods_and_seeds(self.methods, set(POLICIES) | set(RL_METHODS), self.seeds)
        if self.budget is not None and self.budget < 1:
            raise ValueError(f"--budget {self.budget}: expected a positive number of recurrences")
        if self.rl_episodes < 1:
            raise ValueError(f"rl_episodes {self.rl_episodes}: expected a positive number of episodes")

    def problem_name(self, workload: str) -> str:
        return f"{workload}|{self.gpu}|eta={self.eta:g}|beta={self.beta if self.beta is None else f'{self.beta:g}'}"

    def problem(self, workload: str, mode: str) -> BatchSizePowerLimitProblem:
        return BatchSizePowerLimitProblem(workload=workload, gpu=self.gpu, eta=self.eta, beta=self.beta, recurrences=self.budget, power_limit=mode)


def run_rl_method(config: ZeusConfig, problem: BatchSizePowerLimitProblem, method: str, seed: int) -> Simulation:
    """Train REINFORCE or PPO (MLP policy, ``jit`` power limits) for ``config.rl_episodes``
    episodes on RLlib, then run one greedy episode with the env seeded ``seed``."""
    from codesign_gym.agents.rllib.training import build_algorithm_config, train_for_episodes
    from codesign_gym.agents.zeus import ModulePolicy

    env_config = {"workload": problem.trace.workload, "gpu": config.gpu, "eta": config.eta, "beta": config.beta,
                  "recurrences": problem.recurrences, "power_limit": "jit"}
    algo = build_algorithm_config(method, env_config, seed, module="mlp", episode_length=2 * problem.recurrences,
                                  envs_per_runner=4, episodes_per_batch=4, env_id=ENV_ID).build_algo()
    try:
        train_for_episodes(algo, config.rl_episodes)
        return simulate(problem, ModulePolicy(problem, algo.get_module(), seed), seed)
    finally:
        algo.stop()


def _reference_values(problem: BatchSizePowerLimitProblem) -> dict:
    tr, st = problem.trace, problem.stats
    out = {}
    for name, (b, p) in (("default", problem.default), ("oracle", problem.oracle)):
        cost = st.cost[b, p] if name == "default" else st.mean_cost[b, p]
        out[name] = {"bs": int(tr.batch_sizes[b]), "pl": int(tr.power_limits[p]), "ETA": float(st.eta_j[b, p]),
                     "TTA": float(st.tta_s[b, p]), "cost": float(cost)}
    return out


def _run_record(problem: BatchSizePowerLimitProblem, name: str, method: str, seed: int, sim: Simulation) -> dict:
    return {
        "problem": name, "seed": seed, "method": method,
        "final_bs": sim.final_config[0], "final_pl": sim.final_config[1],
        "ETA_last10": float(sim.energy_j[-LAST:].mean()), "TTA_last10": float(sim.time_s[-LAST:].mean()),
        "cum_cost": float(sim.cost.sum()), "cum_cost_default": float(problem.default_cost * sim.cost.size),
        "cum_regret_vs_oracle": float((sim.cost - problem.oracle_cost).sum()),
        "regret_curve": np.cumsum(sim.cost - problem.oracle_cost).tolist(),
        "evals": sim.evals,
    }


def _write_rows(writer: ResultsWriter, name: str, method: str, seed: int, sim: Simulation, offset_s: float) -> None:
    """Checkpoint rows (about 20 per run, at recurrence ends); ``offset_s`` is time spent before
    the evaluation episode (RL training), added to its wall times."""
    R = sim.cost.size
    evals = np.cumsum(sim.tries)
    step = max(R // 20, 1)
    rows = []
    for r in range(R):
        final = r == R - 1
        if not final and (r + 1) % step:
            continue
        best = float(sim.best_cost[r]) if np.isfinite(sim.best_cost[r]) else float("nan")
        rows.append({
            "experiment": EXPERIMENT, "problem": name, "method": method, "seed": seed, "evals": int(evals[r]),
            "wall_s": round(offset_s + float(sim.wall_s[r]), 4), "best_objective": best, "feasible": bool(np.isfinite(best)),
            # no optimum of min_cost is known (the oracle's figure is a mean cost), so no gap
            "gap_to_opt": float("nan"),
            "best_config": {"batch_size": sim.final_config[0], "power_limit": sim.final_config[1]} if final else "",
            "final": 1 if final else 0,
        })
    writer.write(rows)


def _read_runs(output_dir: Path) -> dict[tuple[str, str, int], dict]:
    path = output_dir / RUNS_FILE
    runs: dict[tuple[str, str, int], dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                runs[(rec["problem"], rec["method"], int(rec["seed"]))] = rec
    return runs


def json_summary(config: ZeusConfig, output_dir: str | Path) -> list[dict]:
    """The JSON summary: one object per workload with ``gpu, dataset, workload, eta, beta,
    maxpower, default, oracle, runs`` (see the module docstring and the issue's schema)."""
    runs = _read_runs(Path(output_dir))
    out = []
    for w in config.workloads:
        problem = config.problem(w, "choose")
        name = config.problem_name(w)
        entry = {"gpu": config.gpu, "dataset": problem.trace.spec.dataset, "workload": w, "eta": config.eta, "beta": config.beta,
                 "maxpower": problem.trace.max_power, **_reference_values(problem), "runs": []}
        for m in config.methods:
            for s in range(config.seeds):
                rec = runs.get((name, m, s))
                if rec is not None:
                    entry["runs"].append({k: rec[k] for k in ("seed", "method", "final_bs", "final_pl", "ETA_last10", "TTA_last10",
                                                                "cum_cost", "cum_cost_default", "cum_regret_vs_oracle")})
        out.append(entry)
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


def plot_regret(output_dir: Path, gpu: str) -> Path:
    """Cumulative regret vs recurrence (mean over seeds, min-max band) per method, one panel per workload."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = _read_runs(output_dir)
    problems = sorted({k[0] for k in runs})
    cols = min(3, max(len(problems), 1))
    nrows = (len(problems) + cols - 1) // cols
    fig, axes = plt.subplots(max(nrows, 1), cols, figsize=(5 * cols, 3.6 * max(nrows, 1)), squeeze=False)
    for ax, problem in zip(axes.ravel(), problems):
        for method in sorted({k[1] for k in runs if k[0] == problem}):
            curves = [np.array(v["regret_curve"]) for k, v in runs.items() if k[0] == problem and k[1] == method]
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
    path = output_dir / f"regret_{gpu}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_experiment(
    config: ZeusConfig,
    output_dir: str | Path,
    json_path: str | Path | None = None,
    progress: Callable[[str], None] = print,
    rl_runner: Callable | None = None,
) -> list[dict]:
    """Run (or resume) the experiment into ``output_dir``; writes the JSON summary to
    ``json_path`` (default ``<output_dir>/zeus.json``) and returns it.

    ``rl_runner(config, problem, method, seed) -> Simulation`` runs an RL method; the default,
    :func:`run_rl_method`, trains with RLlib on the Ray instance already initialised.
    """
    from codesign_gym.experiments.report import render_report
    from codesign_gym.experiments.tables import render_table

    config.validate()
    output_dir = Path(output_dir)
    writer, done = open_results(output_dir, {"experiment": EXPERIMENT, **dataclasses.asdict(config)}, progress)
    recorded = _read_runs(output_dir)
    for w in config.workloads:
        name = config.problem_name(w)
        problems = {mode: config.problem(w, mode) for mode in ("jit", "choose")}
        ref = _reference_values(problems["choose"])
        progress(f"{name}: {problems['jit'].num_batch_sizes} batch sizes x {problems['jit'].num_power_limits} power limits, "
                 f"{problems['jit'].recurrences} recurrences; default {ref['default']['bs']}@{ref['default']['pl']}W, "
                 f"oracle {ref['oracle']['bs']}@{ref['oracle']['pl']}W")
        for method in config.methods:
            for seed in range(config.seeds):
                if (name, method, seed) in done and (name, method, seed) in recorded:
                    continue
                t0 = time.perf_counter()
                if method in RL_METHODS:
                    sim = (rl_runner or run_rl_method)(config, problems["jit"], method, seed)
                else:
                    problem = problems[power_limit_mode(method)]
                    sim = simulate(problem, make_policy(method, problem, seed), seed)
                rec = _run_record(problems["choose"], name, method, seed, sim)
                with (output_dir / RUNS_FILE).open("a") as fh:
                    fh.write(json.dumps(rec) + "\n")
                offset = time.perf_counter() - t0 - float(sim.wall_s[-1])
                _write_rows(writer, name, method, seed, sim, max(offset, 0.0))
    summary = json_summary(config, output_dir)
    json_path = Path(json_path) if json_path is not None else output_dir / "zeus.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(summary, indent=1))
    table = vs_default_table(summary)
    visible = [{k: v for k, v in r.items() if not k.startswith("_")} for r in table]
    (output_dir / "energy_vs_default.md").write_text(
        f"# Energy and time vs Default ({config.gpu}, eta {config.eta:g}, beta {config.beta}, mean +- std over seeds)\n\n"
        + render_table(visible, markdown=True) + "\n"
    )
    progress(render_table(visible, markdown=False))
    plot_regret(output_dir, config.gpu)
    render_report(output_dir)
    return summary
