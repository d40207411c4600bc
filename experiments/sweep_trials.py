"""One sweep trial: a (problem, method, seed, hyperparameters) run of an existing experiment,
executed inside a Ray Tune trial on whichever node Tune placed it.

A trial reuses its experiment's own run functions (``run_search_method`` / ``run_rl_method`` of
``confuciux``, ``mcunet``, ``naas`` and ``hadas``; Zeus's ``simulate`` / ``run_rl_method``) with a
results writer of its own, so its rows are exactly those of a single run. Everything it writes
lives in ``<results_dir>/trials/<key>/``:

- ``results.csv``: its rows, appended as the run goes (one writer per file: no concurrent appends);
- ``attempts.jsonl``: one line per start (node, process, time), so retries are visible;
- ``rllib_checkpoint/``: the RLlib checkpoint of an RL trial (resumed from on a retry or resume);
- ``done.json``: written last, atomically; a trial with it is complete and never runs again.

The driver (:mod:`codesign_gym.experiments.sweep`) gathers the files of complete trials into
``<results_dir>/results.csv``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

from codesign_gym.agents.rllib.run_options import OPTION_NAMES as RL_OPTION_NAMES
from codesign_gym.agents.rllib.run_options import checkpoint_progress, rllib_options
from codesign_gym.experiments.results import RESULT_COLUMNS, RESULTS_FILE, ResultsWriter

TRIALS_DIR = "trials"
DONE_FILE = "done.json"
ATTEMPTS_FILE = "attempts.jsonl"
CHECKPOINT_DIR = "rllib_checkpoint"


@dataclasses.dataclass(frozen=True)
class TrialSpec:
    """One trial. ``problem``: the config fields that name the problem; ``params``: the other
    settings (experiment config fields such as ``budget``, RLlib options such as ``lr``);
    ``label``: the method as it appears in the results (with the hyperparameters that vary in
    the sweep, e.g. ``genetic[batch_size=16]``); ``key``: stable id (directory name)."""

    experiment: str
    problem: dict
    method: str
    seed: int
    params: dict
    label: str
    key: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrialSpec":
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class Execution:
    """How trials use the cluster; not part of a trial's identity (changing it on resume is fine).

    Attributes:
        rllib: RLlib options for RL trials (env runners, learners, ...), see
            :class:`~codesign_gym.agents.rllib.run_options.RLlibOptions`.
        eval_tasks: Ray tasks per batch of a search method's evaluations (0: price in the trial).
        eval_min_chunk: fewest designs per evaluation task.
        checkpoint_every: training iterations between RLlib checkpoints of an RL trial.
    """

    rllib: dict = dataclasses.field(default_factory=dict)
    eval_tasks: int = 0
    eval_min_chunk: int = 256
    checkpoint_every: int = 10


@dataclasses.dataclass(frozen=True)
class ExperimentKind:
    """What a sweep needs to know of one experiment.

    Attributes:
        name: the experiment (``confuciux``, ``mcunet``, ``zeus``, ``naas``, ``hadas``).
        config_cls: its config dataclass.
        problem_fields: sweep keys that name the problem (part of ``problem``, not of a label).
        param_fields: other config fields a sweep may set (``budget``, ...).
        search_methods / rl_methods: method names it runs (ask/tell searches, RLlib agents).
        run: ``run(config, method, seed, writer, execution) -> best objective`` (NaN if none feasible).
        env_methods: other methods it runs (e.g. ConfuciuX's model-based RL, no RLlib).
        check: ``check(config, method)`` raises ValueError for a combination the method cannot run.
        rows_while_training: RL rows are written per training iteration (so a resumed RL trial
            keeps the rows before its checkpoint) rather than all at the end.
        rl_only: param fields that affect RL methods only; search_only: search methods only;
            only_for: param fields that affect only the methods named (e.g. HADAS's populations).
        build: ``build(config)`` builds the trial's problem (a check before any trial runs).
    """

    name: str
    config_cls: type
    problem_fields: tuple[str, ...]
    param_fields: tuple[str, ...]
    search_methods: frozenset
    rl_methods: frozenset
    run: Callable[..., float]
    rows_while_training: bool = True
    rl_only: frozenset = frozenset()
    search_only: frozenset = frozenset()
    env_methods: frozenset = frozenset()
    check: Callable | None = None
    only_for: dict = dataclasses.field(default_factory=dict)
    build: Callable | None = None

    @property
    def methods(self) -> frozenset:
        return self.search_methods | self.rl_methods | self.env_methods

    def known_keys(self) -> set[str]:
        """Keys a sweep may set for this experiment: problem and config fields, RLlib options."""
        return set(self.problem_fields) | set(self.param_fields) | set(RL_OPTION_NAMES)

    def applies(self, name: str, method: str) -> bool:
        """Whether setting ``name`` changes what ``method`` does."""
        if name not in self.known_keys():
            return False
        if name in self.only_for:
            return method in self.only_for[name]
        if name in RL_OPTION_NAMES or name in self.rl_only:
            return method in self.rl_methods
        if name in self.search_only:
            return method in self.search_methods or method == "rl_ga"  # rl_ga's second stage is a GA
        return True

    def make_config(self, problem: dict, params: dict, method: str):
        """The experiment config of one trial (one method, one seed), validated.

        Raises:
            ValueError: a bad value (the experiment's own validation message).
        """
        fields = dict(problem)
        if self.name == "zeus":  # one workload per trial
            if "workload" not in fields:
                raise ValueError(f"zeus problem {problem}: expected a 'workload' (one of the Zeus workloads, e.g. cifar100)")
            fields["workloads"] = (fields.pop("workload"),)
        fields.update({k: v for k, v in params.items() if k in self.param_fields})
        config = self.config_cls(**fields, methods=(method,), seeds=1)
        config.validate()
        if self.check is not None:
            self.check(config, method)
        return config

    def problem_name(self, config) -> str:
        return config.problem_name(config.workloads[0]) if self.name == "zeus" else config.problem_name()

    def check_problem(self, config) -> None:
        """Build the problem of ``config`` once, so an unknown workload, dataflow or dataset fails
        before any trial runs."""
        if self.build is not None:
            self.build(config)


def _trial_problem(config, execution: Execution, build: Callable):
    """The experiment's problem, wrapped so its batches fan out to Ray tasks when asked for."""
    problem = build(config)
    if execution.eval_tasks > 0:
        from codesign_gym.agents.search.distributed import DistributedProblem

        return problem, DistributedProblem(problem, num_tasks=execution.eval_tasks, min_chunk=execution.eval_min_chunk)
    return problem, problem


def _run_confuciux(config, method: str, seed: int, writer: ResultsWriter, execution: Execution) -> float:
    from codesign_gym.experiments import confuciux as cfx

    problem, scored = _trial_problem(config, execution, cfx.build_problem)
    optimum, _ = cfx.exact_optimum(problem)
    quiet = lambda _msg: None  # a trial's progress goes to its files, not to the driver's console  # noqa: E731
    if method in cfx.RL_METHODS:
        return cfx.run_rl_method(config, problem, method, seed, optimum, writer, quiet)
    if method in cfx.ENV_METHODS:
        return cfx.run_model_based_method(config, problem, seed, optimum, writer, quiet).best_objective[-1]
    return cfx.run_search_method(config, scored, method, seed, optimum, writer, quiet).best_objective[-1]


def _check_confuciux(config, method: str) -> None:
    from codesign_gym.experiments import confuciux as cfx

    if method in cfx.ENV_METHODS and config.objective == "edp":
        raise ValueError(f"method {method!r} needs a separable objective (latency or energy); the problem's objective is edp")


def _run_mcunet(config, method: str, seed: int, writer: ResultsWriter, execution: Execution) -> float:
    from codesign_gym.experiments import mcunet

    problem, scored = _trial_problem(config, execution, mcunet.build_problem)
    optimum, _, _ = mcunet.exhaustive(problem)
    if method in mcunet.RL_METHODS:
        return mcunet.run_rl_method(config, problem, method, seed, optimum, writer)
    return mcunet.run_search_method(config, scored, method, seed, optimum, writer)


def _run_zeus(config, method: str, seed: int, writer: ResultsWriter, execution: Execution) -> float:
    from codesign_gym.agents.zeus import make_policy, power_limit_mode, simulate
    from codesign_gym.experiments import zeus

    workload = config.workloads[0]
    name = config.problem_name(workload)
    t0 = time.perf_counter()
    if method in zeus.RL_METHODS:
        sim = zeus.run_rl_method(config, config.problem(workload, "jit"), method, seed)
    else:
        problem = config.problem(workload, power_limit_mode(method))
        sim = simulate(problem, make_policy(method, problem, seed), seed)
    offset = max(time.perf_counter() - t0 - float(sim.wall_s[-1]), 0.0)
    zeus._write_rows(writer, name, method, seed, sim, offset)
    record = zeus._run_record(config.problem(workload, "choose"), name, method, seed, sim)
    (writer.path.parent / zeus.RUNS_FILE).write_text(json.dumps(record) + "\n")
    return float(sim.best_cost[-1])


class NaasTrialConfig:
    """A sweep trial of the NAAS experiment: one search of its problem (``joint``, ``nested``,
    ``hardware`` or ``network``) with one method; the other fields are
    :class:`~codesign_gym.experiments.naas.NaasConfig`'s."""

    def __init__(self, search: str = "joint", methods: tuple = (), seeds: int = 1, **fields: Any):
        from codesign_gym.experiments.naas import SEARCHES, NaasConfig

        if search not in SEARCHES:
            raise ValueError(f"naas search {search!r}; expected one of {', '.join(SEARCHES)}")
        self.search = search
        methods = tuple(methods)
        ablation = search in ("hardware", "network")
        self.naas = NaasConfig(**fields, seeds=seeds, methods=methods if search == "joint" else (),
                               nested_methods=methods if search == "nested" else (), ablations=(search,) if ablation else (),
                               ablation_methods=methods if ablation else ())

    def validate(self) -> None:
        self.naas.validate()

    def problem_name(self) -> str:
        return self.naas.problem_name(self.search)

    def build(self):
        from codesign_gym.experiments.naas import build_problem

        return build_problem(self.naas, self.search)


def _run_naas(config: NaasTrialConfig, method: str, seed: int, writer: ResultsWriter, execution: Execution) -> float:
    """One NAAS search into the trial's directory (its ``archives/`` as ``run naas`` writes them).
    Designs are priced in the trial: a NAAS evaluation is one accelerator pricing, cached per
    process, so ``eval_tasks`` does not apply."""
    from codesign_gym.experiments import naas

    problem = config.build()
    optimum = naas.network_optimum(problem)[0] if config.search == "network" else None
    runner = naas.run_rl_method if method in naas.RL_METHODS else naas.run_search_method
    return runner(config.naas, config.search, problem, method, seed, optimum, writer, writer.path.parent)


def _run_hadas(config, method: str, seed: int, writer: ResultsWriter, execution: Execution) -> float:
    """One HADAS method into the trial's directory (its ``archives/`` as ``run hadas`` writes
    them); returns the objective its rows carry, minus the hypervolume."""
    from codesign_gym.experiments import hadas

    problem = hadas.build_problem(config)
    runner = hadas.run_rl_method if method in hadas.RL_METHODS else hadas.run_search_method
    return -runner(config, problem, method, seed, writer, writer.path.parent)


def _experiments() -> dict[str, ExperimentKind]:
    from codesign_gym.agents.search import SEARCH_METHODS
    from codesign_gym.agents.zeus import POLICIES
    from codesign_gym.experiments import confuciux, hadas, mcunet, naas, zeus

    return {
        "confuciux": ExperimentKind(
            "confuciux", confuciux.ConfuciuxConfig, ("model", "dataflow", "objective", "constraint"), ("budget", "batch_size"),
            frozenset(SEARCH_METHODS), frozenset(confuciux.RL_METHODS), _run_confuciux, search_only=frozenset({"batch_size"}),
            env_methods=frozenset(confuciux.ENV_METHODS), check=_check_confuciux, build=confuciux.build_problem,
        ),
        "mcunet": ExperimentKind(
            "mcunet", mcunet.McunetConfig, ("model", "resolution", "width", "sram_kib", "flash_kib"), ("budget",),
            frozenset(SEARCH_METHODS), frozenset(mcunet.RL_METHODS), _run_mcunet, build=mcunet.build_problem,
        ),
        "zeus": ExperimentKind(
            "zeus", zeus.ZeusConfig, ("workload", "gpu", "eta", "beta"), ("budget", "rl_episodes"),
            frozenset(POLICIES), frozenset(zeus.RL_METHODS), _run_zeus, rows_while_training=False, rl_only=frozenset({"rl_episodes"}),
            build=lambda config: config.problem(config.workloads[0], "choose"),
        ),
        "naas": ExperimentKind(
            "naas", NaasTrialConfig, ("accelerator", "dataset", "search", "energy_scope", "accuracy_target"), ("budget", "samples", "rounds"),
            frozenset(SEARCH_METHODS), frozenset(naas.RL_METHODS), _run_naas, build=NaasTrialConfig.build,
        ),
        "hadas": ExperimentKind(
            "hadas", hadas.HadasConfig, ("dataset", "exit_set", "policy"),
            ("budget", "outer_population", "inner_population", "inner_generations"), frozenset(hadas.SEARCH_METHODS),
            frozenset(hadas.RL_METHODS), _run_hadas, rows_while_training=False, build=hadas.build_problem,
            only_for={k: frozenset({"hadas"}) for k in ("outer_population", "inner_population", "inner_generations")},
        ),
    }


EXPERIMENTS: dict[str, ExperimentKind] = _experiments()


# --- trial files -------------------------------------------------------------------------------


def trial_dir(results_dir: str | Path, key: str) -> Path:
    return Path(results_dir) / TRIALS_DIR / key


def read_done(results_dir: str | Path, key: str) -> dict | None:
    """The completion record of trial ``key``, or None if it has not completed."""
    path = trial_dir(results_dir, key) / DONE_FILE
    return json.loads(path.read_text()) if path.exists() else None


def read_attempts(results_dir: str | Path, key: str) -> list[dict]:
    """One record per start of trial ``key`` (node id, node's custom resources, pid, time)."""
    path = trial_dir(results_dir, key) / ATTEMPTS_FILE
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def _node() -> dict[str, Any]:
    """Where this process runs: Ray node id and the node's custom resources (placement tags)."""
    import ray

    if not ray.is_initialized():
        return {"node_id": None, "node_resources": []}
    node_id = ray.get_runtime_context().get_node_id()
    standard = ("CPU", "GPU", "memory", "object_store_memory")
    tags = []
    for node in ray.nodes():
        if node.get("NodeID") == node_id:
            tags = sorted(k for k in node.get("Resources", {}) if k not in standard and not k.startswith(("node:", "accelerator_type:")))
    return {"node_id": node_id, "node_resources": tags}


def _keep_rows_below(path: Path, evals: int) -> None:
    """Drop rows of ``path`` with ``evals >= evals`` (a restarted attempt redoes them)."""
    if not path.exists():
        return
    with path.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["evals"] not in ("", None) and int(r["evals"]) < evals]
    if not rows:
        path.unlink()
        return
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


class _TrialWriter(ResultsWriter):
    """A trial's own ``results.csv``; rows carry the trial's label as their method."""

    def __init__(self, directory: Path, label: str):
        super().__init__(directory)
        self.label = label

    def write(self, rows) -> None:
        super().write([{**row, "method": self.label} for row in rows])


def run_trial(trial: TrialSpec, results_dir: str | Path, execution: Execution = Execution()) -> dict[str, Any]:
    """Run one trial into ``<results_dir>/trials/<key>/`` unless it completed before; returns its
    completion record (``skipped`` True when it had completed already)."""
    done = read_done(results_dir, trial.key)
    if done is not None:
        return {**done, "skipped": True}
    directory = trial_dir(results_dir, trial.key)
    directory.mkdir(parents=True, exist_ok=True)
    kind = EXPERIMENTS[trial.experiment]
    node = _node()
    attempt = {"attempt": len(read_attempts(results_dir, trial.key)) + 1, **node, "pid": os.getpid(), "started": time.time()}
    with (directory / ATTEMPTS_FILE).open("a") as fh:
        fh.write(json.dumps(attempt) + "\n")
    is_rl = trial.method in kind.rl_methods
    resumed = checkpoint_progress(directory / CHECKPOINT_DIR) if is_rl else None
    # rows of an interrupted attempt: RL keeps those before its checkpoint (it resumes there), the rest start over
    _keep_rows_below(directory / RESULTS_FILE, int(resumed["episodes"]) if resumed and kind.rows_while_training else 0)
    config = kind.make_config(trial.problem, trial.params, trial.method)
    writer = _TrialWriter(directory, trial.label)
    rl = {**execution.rllib, **{k: v for k, v in trial.params.items() if k in RL_OPTION_NAMES}}
    t0 = time.perf_counter()
    with rllib_options(**rl, checkpoint_dir=str(directory / CHECKPOINT_DIR) if is_rl else None, checkpoint_every=execution.checkpoint_every):
        best = kind.run(config, trial.method, trial.seed, writer, execution)
    finals = [r for r in _read_rows(directory / RESULTS_FILE) if r.get("final") == "1"]
    record = {
        "key": trial.key, "experiment": trial.experiment, "problem": kind.problem_name(config), "method": trial.label, "seed": trial.seed,
        "best_objective": None if math.isnan(best) else float(best), "evals": int(finals[-1]["evals"]) if finals else None,
        "attempt_s": round(time.perf_counter() - t0, 3), "attempts": attempt["attempt"], "resumed_from_episode": resumed["episodes"] if resumed else None,
        **node, "started": attempt["started"], "finished": time.time(),
    }
    _write_json_atomic(directory / DONE_FILE, record)
    return {**record, "skipped": False}


def _read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def sweep_trainable(config: dict) -> None:
    """The Ray Tune function trainable of every sweep trial (``config``: ``trial``, ``results_dir``,
    ``execution``); reports the trial's best objective and evaluations once, at the end."""
    from ray import tune

    execution = Execution(**config.get("execution", {}))
    record = run_trial(TrialSpec.from_dict(config["trial"]), config["results_dir"], execution)
    tune.report({"best_objective": record["best_objective"] if record["best_objective"] is not None else float("nan"),
                 "evals": record["evals"] or 0, "skipped": int(record["skipped"])})
