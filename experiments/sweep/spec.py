"""Sweep files: which problems, methods, seeds and hyperparameters a sweep runs, checked and
expanded into trials before anything starts.

A sweep file (YAML) looks like this (every key but ``problems`` and ``methods`` optional)::

    name: cfx-search                 # default: the file's stem
    problems:                        # one entry per problem; `experiment` names a registered experiment
      - {experiment: confuciux, model: cfx/mobilenet_v2, dataflow: dla, objective: latency, constraint: "area:0.5"}
      - {experiment: mcunet, sram_kib: 256, budget: 60}                      # per-problem budget
      - {experiment: zeus, workloads: cifar100, gpu: v100, methods: [zeus, grid]}   # per-problem methods
    methods: [random, genetic]       # default methods of every problem
    seeds: 3                         # seeds 0..2, or a list such as [0, 7, 9]
    budget: 400                      # problem evaluations per trial (default: the experiment's)
    grid:                            # every combination is a trial (x problems x methods x seeds)
      batch_size: [16, 64]
    search_space:                    # num_samples draws (seeded by sample_seed), each x the grid
      lr: {loguniform: [1.0e-4, 1.0e-2]}
    num_samples: 1
    sample_seed: 0
    resources: {cpus_per_trial: 1, gpus_per_trial: 0, custom: {}, num_env_runners: 0, envs_per_runner: 16,
                num_learners: 0, num_gpus_per_learner: 0, num_cpus_per_env_runner: 1}
    max_failures: 3                  # retries of a trial whose worker or node died
    max_concurrent_trials: 0         # 0: as many as the cluster fits
    eval_tasks: 0                    # methods that take it (searches): Ray tasks per batch of evaluations
    eval_min_chunk: 256
    checkpoint_every: 10             # RL trials: training iterations between RLlib checkpoints

A problem entry's keys are the experiment's problem options (``codesign-gym run <experiment>``'s
flags with ``_`` for ``-``; a list option takes one value or a one-value list: a trial runs one
problem). Grid and search-space keys are, for each method of the sweep:

- a problem option of the experiment: it names the problem (part of the trial's problem);
- ``budget``: every method;
- an option of the method's constructor (:func:`codesign_gym.agents.registry.method_option_names`),
  whether the experiment's options declare it (role ``method``, e.g. ``batch_size``,
  ``outer_population``) or not (it is then handed to the method as is);
- an RLlib option (``lr``, ``episodes_per_batch``, ``num_env_runners``, ...): methods that train
  on RLlib (their constructor takes ``rllib``).

A key that does not change a method (``lr`` for random search) is left out of that method's
trials, so no trial runs twice; a key that changes none of the sweep's methods is an error.
Distributions: ``uniform: [lo, hi]``, ``loguniform: [lo, hi]``, ``randint: [lo, hi)``,
``choice: [a, b, ...]`` (Ray Tune's, sampled here so that a resumed sweep has the very same trials).

A trial is an :class:`~codesign_gym.experiments.runner.spec.ExperimentSpec` with one method and
one seed (:func:`trial_experiment_spec`), run by the one experiment runner.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import typing
from pathlib import Path
from typing import Any

from codesign_gym.agents.registry import METHOD_NAMES, make_method, method_option_names
from codesign_gym.agents.rllib.run_options import OPTION_NAMES as RL_OPTION_NAMES
from codesign_gym.agents.rllib.run_options import RLlibOptions
from codesign_gym.experiments.registry import EXPERIMENT_NAMES, get_experiment
from codesign_gym.experiments.runner.options import _arg_kind
from codesign_gym.experiments.runner.spec import METHOD, PROBLEM, REPORT, ExperimentDef, ExperimentSpec, fields_of_role

TOP_KEYS = ("name", "problems", "methods", "seeds", "budget", "grid", "search_space", "num_samples", "sample_seed", "resources",
            "max_failures", "max_concurrent_trials", "eval_tasks", "eval_min_chunk", "checkpoint_every")
RESOURCE_KEYS = ("cpus_per_trial", "gpus_per_trial", "custom", *RL_OPTION_NAMES)
DISTRIBUTIONS = ("uniform", "loguniform", "randint", "choice")
#: Options of the search methods the sweep file's execution section sets (not part of a trial's identity).
EXECUTION_METHOD_KEYS = ("eval_tasks", "eval_min_chunk")
CHECKPOINT_DIR = "rllib_checkpoint"


@dataclasses.dataclass(frozen=True)
class TrialSpec:
    """One trial. ``problem``: the experiment's problem options that name its problem;
    ``params``: the other settings that change this method (``budget``, method options such as
    ``batch_size``, RLlib options such as ``lr``); ``label``: the method as it appears in the
    results (with the hyperparameters that vary in the sweep, e.g. ``genetic[batch_size=16]``);
    ``key``: stable id (its directory's name)."""

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
        rllib: RLlib options of RL trials (env runners, learners, ...), see
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
class Resources:
    """What each trial reserves for its own process: ``cpus``, ``gpus`` and ``custom`` node
    resources (e.g. ``{"nodeB": 1}`` to pin trials to nodes started with that resource)."""

    cpus: float = 1.0
    gpus: float = 0.0
    custom: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """A checked sweep: its trials (in a fixed order) and how to run them."""

    name: str
    trials: tuple[TrialSpec, ...]
    resources: Resources
    execution: Execution
    max_failures: int
    max_concurrent_trials: int
    source: dict  # the sweep file as parsed (kept with the results)

    def trial_bundles(self, trial: TrialSpec) -> list[dict[str, float]]:
        """Ray placement-group bundles of ``trial``: its own process (CPUs, GPUs, custom
        resources), then one per env runner and learner (methods that train on RLlib) or per
        evaluation task (methods that take ``eval_tasks``)."""
        head = {"CPU": self.resources.cpus, **({"GPU": self.resources.gpus} if self.resources.gpus else {}), **self.resources.custom}
        bundles = [head]
        takes = method_option_names(trial.method)
        if "rllib" in takes:
            opts = trial_rllib(trial, self.execution)
            runner_cpus = 1.0 if opts.num_cpus_per_env_runner is None else float(opts.num_cpus_per_env_runner)
            bundles += [{"CPU": runner_cpus}] * (opts.num_env_runners or 0)
            gpus = float(opts.num_gpus_per_learner or 0)
            bundles += [{"CPU": 1.0, **({"GPU": gpus} if gpus else {})}] * (opts.num_learners or 0)
        elif "eval_tasks" in takes and self.execution.eval_tasks > 0:
            bundles += [{"CPU": 1.0}] * self.execution.eval_tasks
        return bundles


# --- which key changes which method ---------------------------------------------------------


@dataclasses.dataclass
class Entry:
    """One ``problems`` entry of a sweep: its experiment, problem options, methods and budget,
    and which sweep key changes which of its methods (see the module docstring)."""

    index: int
    exp: ExperimentDef
    problem: dict
    methods: list[str]
    budget: int | None
    _changed: dict = dataclasses.field(default_factory=dict)

    def applies(self, key: str, method: str, values: list) -> bool:
        """Whether setting ``key`` to the sweep's ``values`` changes what ``method`` does on this
        entry's problem."""
        if key == "budget" or key in fields_of_role(self.exp.options, PROBLEM):
            return True
        takes = method_option_names(method) - {"rllib"}
        if key in RL_OPTION_NAMES:
            return "rllib" in method_option_names(method)
        if key in takes:
            return True
        # a method option the experiment turns into other options (Zeus's rl_episodes): the methods that take those
        return key in fields_of_role(self.exp.options, METHOD) and bool(takes & self.changed_keys(key, values))

    def changed_keys(self, key: str, values: list) -> frozenset:
        """The options the experiment's ``method_options(options, problem)`` hands the methods
        that change when option field ``key`` takes one of ``values``."""
        if key not in self._changed:
            changed: set[str] = set()
            if self.exp.method_options is not None:
                options = trial_options(self.exp, self.problem, {})
                problem = self.exp.problems(options)[0][0]
                base = self.exp.options_for_methods(options, problem)
                for value in values:
                    other = self.exp.options_for_methods(trial_options(self.exp, self.problem, {key: value}), problem)
                    changed |= {k for k in set(base) | set(other) if k not in base or k not in other or base[k] != other[k]}
            self._changed[key] = frozenset(changed)
        return self._changed[key]


def _field_value(options_cls: type, name: str, value: Any) -> Any:
    """A sweep file's value for option field ``name``: lists become tuples, and a single value
    of a list option a one-value tuple."""
    kind = _arg_kind(typing.get_type_hints(options_cls)[name])
    if kind[2]:
        return tuple(value) if isinstance(value, (list, tuple)) else (value,)
    return value


def trial_options(exp: ExperimentDef, problem: dict, params: dict) -> Any:
    """The experiment's options of a trial: its problem options and the params that are option
    fields (checked by the options dataclass: ValueError on a bad value)."""
    names = {f.name for f in dataclasses.fields(exp.options)}
    values = {k: _field_value(exp.options, k, v) for k, v in {**problem, **params}.items() if k in names}
    return exp.options(**values)


def trial_rllib(trial: TrialSpec, execution: Execution, checkpoint_dir: str | Path | None = None) -> RLlibOptions:
    """RLlib options of a trial: the sweep's resources, the trial's RLlib params, its checkpoints."""
    rl = {**execution.rllib, **{k: v for k, v in trial.params.items() if k in RL_OPTION_NAMES}}
    return RLlibOptions(**rl, checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir),
                        checkpoint_every=execution.checkpoint_every)


def trial_experiment_spec(trial: TrialSpec, output_dir: str | Path, execution: Execution = Execution()) -> ExperimentSpec:
    """The one-method, one-seed :class:`ExperimentSpec` of ``trial``, writing into ``output_dir``
    (RLlib checkpoints in ``<output_dir>/rllib_checkpoint``); no report."""
    exp = get_experiment(trial.experiment)
    names = {f.name for f in dataclasses.fields(exp.options)}
    takes = method_option_names(trial.method)
    method_params = {k: v for k, v in trial.params.items() if k not in names and k not in RL_OPTION_NAMES and k != "budget"}
    method_params.update({k: getattr(execution, k) for k in EXECUTION_METHOD_KEYS if k in takes})
    return ExperimentSpec(
        experiment=exp.name, options=trial_options(exp, trial.problem, trial.params), methods=(trial.method,),
        budget=int(trial.params.get("budget", exp.default_budget)), seeds=(int(trial.seed),), output_dir=Path(output_dir),
        rllib=trial_rllib(trial, execution, Path(output_dir) / CHECKPOINT_DIR), method_params=method_params,
        report=False, labels={trial.method: trial.label},
    )


# --- reading a sweep file -------------------------------------------------------------------


def load_sweep(path: str | Path, overrides: dict[str, Any] | None = None, check: bool = True) -> SweepSpec:
    """Read and check a sweep file; ``overrides`` replace ``resources`` entries and the
    top-level execution keys (``max_failures``, ...), e.g. from the command line.

    Raises:
        FileNotFoundError: no such file.
        ValueError: malformed YAML or any bad entry, naming the value and what was expected.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep file {str(path)!r} does not exist; expected a YAML sweep file (see examples/sweeps/)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"sweep file {path}: not valid YAML ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"sweep file {path}: expected a mapping with at least 'problems' and 'methods'; got {type(data).__name__}")
    data.setdefault("name", path.stem)
    return parse_sweep(data, overrides, check)


def parse_sweep(data: dict[str, Any], overrides: dict[str, Any] | None = None, check: bool = True) -> SweepSpec:
    """Check a parsed sweep file and expand it into trials (see the module docstring). With
    ``check`` every trial's problem is built (an unknown workload fails here) and its method
    made and asked whether it supports the problem."""
    data = json.loads(json.dumps(data))  # plain JSON types, a private copy
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise ValueError(f"sweep: unknown key(s) {unknown}; expected some of {list(TOP_KEYS)}")
    resources = _apply_overrides(data, overrides)
    seeds = _seeds(data.get("seeds", 1))
    points = _hyper_points(data)
    problems = data.get("problems")
    if not isinstance(problems, list) or not problems:
        raise ValueError(f"sweep: 'problems' must be a non-empty list of problem entries; got {problems!r}")
    entries = [_problem_entry(entry, index, data) for index, entry in enumerate(problems)]
    _check_keys(entries, _point_values(points))
    execution = _execution(data, resources)
    trials: dict[str, TrialSpec] = {}
    checker = _TrialChecker(execution) if check else None
    for entry in entries:
        for method in entry.methods:
            for trial in _method_trials(entry, method, points, seeds):
                if checker is not None:
                    checker.check(entry.index, trial)
                trials.setdefault(trial.key, trial)
    return SweepSpec(name=str(data.get("name") or "sweep"), trials=tuple(trials.values()), resources=_resources(resources),
                     execution=execution, max_failures=_int(data, "max_failures", 3, 0),
                     max_concurrent_trials=_int(data, "max_concurrent_trials", 0, 0), source=data)


def _apply_overrides(data: dict, overrides: dict[str, Any] | None) -> dict:
    """The sweep's ``resources`` with the overrides applied (top-level overrides go into ``data``)."""
    resources = dict(data.get("resources") or {})
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key in RESOURCE_KEYS:
            resources[key] = value
        elif key in TOP_KEYS:
            data[key] = value
        else:
            raise ValueError(f"sweep override {key!r} is not known; expected one of {list(RESOURCE_KEYS)} or a top-level key")
    return resources


def _method_trials(entry: Entry, method: str, points: list[dict], seeds: list[int]):
    """The trials of one (problem entry, method): grid/search-space points x seeds, each point
    reduced to the keys that change the method."""
    exp, problem, budget = entry.exp, entry.problem, entry.budget
    problem_keys = set(fields_of_role(exp.options, PROBLEM))
    keys = _point_values(points)
    applying = [k for k, values in keys.items() if entry.applies(k, method, values)]
    varying = sorted(k for k in applying if k not in problem_keys and len({json.dumps(p.get(k)) for p in points}) > 1)
    for point in points:
        fields = {**problem, **{k: v for k, v in point.items() if k in problem_keys}}
        params = {**({"budget": budget} if budget is not None else {}),
                  **{k: v for k, v in point.items() if k in applying and k not in problem_keys}}
        label = method + ("[" + ",".join(f"{k}={_short(params.get(k))}" for k in varying) + "]" if varying else "")
        for seed in seeds:
            yield TrialSpec(exp.name, fields, method, seed, params, label, _trial_key(exp.name, fields, method, seed, params))


class _TrialChecker:
    """Builds each distinct problem once (its experiment's ``problems(options)``) and each
    trial's method, so bad problem values, bad method options and unsupported (problem,
    method) pairs fail before any trial runs."""

    def __init__(self, execution: Execution):
        self.execution = execution
        self.problems: dict[str, tuple] = {}

    def check(self, index: int, trial: TrialSpec) -> None:
        from codesign_gym.experiments.runner.run import method_options

        where = f"sweep: problems[{index}] ({trial.experiment} {json.dumps(trial.problem, sort_keys=True)}), method {trial.method!r}"
        exp = get_experiment(trial.experiment)
        try:
            _check_budget(exp, trial.params.get("budget", exp.default_budget), "budget")
            spec = trial_experiment_spec(trial, ".", self.execution)
            problem, own_methods = self._problem(exp, trial, spec)
            method = make_method(trial.method, **method_options(exp, spec, problem))
        except (ValueError, TypeError) as err:
            raise ValueError(f"{where}: {err}") from None
        if own_methods is not None and tuple(own_methods) != (trial.method,):
            raise ValueError(f"{where}: the experiment runs {problem.label!r} with its own methods {list(own_methods)}; "
                             f"expected problem options that leave the methods to the sweep")
        why = method.supports(problem)
        if why:
            raise ValueError(f"{where}: method {trial.method!r} cannot run {problem.label!r} ({why}); expected methods that support it")

    def _problem(self, exp: ExperimentDef, trial: TrialSpec, spec: ExperimentSpec) -> tuple:
        key = json.dumps([exp.name, trial.problem], sort_keys=True)
        if key not in self.problems:
            built = exp.problems(spec.options)
            if len(built) != 1:
                labels = [p.label for p, _ in built]
                raise ValueError(f"gives {len(built)} problems {labels}; expected one per trial: give each list option one value "
                                 f"(problem options: {list(fields_of_role(exp.options, PROBLEM))})")
            self.problems[key] = built[0]
        return self.problems[key]


def _problem_entry(entry: Any, index: int, data: dict) -> Entry:
    """One ``problems`` entry, checked."""
    if not isinstance(entry, dict) or "experiment" not in entry:
        raise ValueError(f"sweep: problems[{index}] {entry!r}; expected a mapping with 'experiment' (one of {list(EXPERIMENT_NAMES)})")
    entry = dict(entry)
    name = entry.pop("experiment")
    if name not in EXPERIMENT_NAMES:
        raise ValueError(f"sweep: problems[{index}]: unknown problem/experiment {name!r}; expected one of {list(EXPERIMENT_NAMES)}")
    exp = get_experiment(name)
    methods = entry.pop("methods", data.get("methods"))
    budget = entry.pop("budget", data.get("budget"))
    problem_keys = fields_of_role(exp.options, PROBLEM)
    bad = sorted(set(entry) - set(problem_keys))
    if bad:
        raise ValueError(f"sweep: problems[{index}] ({name}): unknown problem option(s) {bad}; expected some of {list(problem_keys)} "
                         f"(and 'methods', 'budget'; method options go in 'grid')")
    if not isinstance(methods, list) or not methods:
        raise ValueError(f"sweep: problems[{index}] ({name}): methods {methods!r}; expected a non-empty list, some of {list(METHOD_NAMES)}")
    for method in methods:
        if method not in METHOD_NAMES:
            raise ValueError(f"sweep: problems[{index}] ({name}): unknown method/agent {method!r}; expected some of {list(METHOD_NAMES)}")
    if budget is not None:
        _check_budget(exp, budget, f"problems[{index}] ({name}) budget")
    return Entry(index, exp, entry, list(dict.fromkeys(methods)), budget)


def _point_values(points: list[dict]) -> dict[str, list]:
    """Every grid / search-space key with the values the sweep gives it."""
    keys: dict[str, list] = {}
    for point in points:
        for key, value in point.items():
            keys.setdefault(key, []).append(value)
    return keys


def _check_keys(entries: list[Entry], keys: dict[str, list]) -> None:
    """Every grid / search-space key must change at least one (problem, method) of the sweep,
    and none may be a report option."""
    for key, values in keys.items():
        for entry in entries:
            if key in fields_of_role(entry.exp.options, REPORT):
                raise ValueError(f"sweep: {key!r} is a report option of {entry.exp.name} (where or how its report is written); "
                                 f"expected problem or method options in grid and search_space")
        if not any(entry.applies(key, m, values) for entry in entries for m in entry.methods):
            known = {e.exp.name: sorted({*fields_of_role(e.exp.options, PROBLEM), *(k for m in e.methods for k in method_option_names(m) - {"rllib"})})
                     for e in entries}
            raise ValueError(f"sweep: hyperparameter {key!r} changes none of the sweep's problems and methods; expected 'budget', "
                             f"a problem or method option ({known}) or an RLlib option {list(RL_OPTION_NAMES)} (RL methods only)")


def _seeds(value: Any) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return list(range(value))
    if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value):
        return sorted(set(value))
    raise ValueError(f"sweep: seeds {value!r}; expected a positive count (seeds 0..N-1) or a non-empty list of seeds >= 0")


def _hyper_points(data: dict) -> list[dict[str, Any]]:
    """Grid points x search-space samples, each a dict of hyperparameter values."""
    grid = data.get("grid", None)
    if "grid" in data and (not isinstance(grid, dict) or not grid):
        raise ValueError(f"sweep: empty grid {grid!r}; expected a mapping of hyperparameter -> non-empty list of values, or no 'grid' key")
    grid = grid or {}
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"sweep: grid entry {key!r} has no values ({values!r}); expected a non-empty list")
    keys = list(grid)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]
    space = data.get("search_space") or {}
    if not isinstance(space, dict):
        raise ValueError(f"sweep: search_space {space!r}; expected a mapping of hyperparameter -> {{distribution: arguments}}")
    overlap = sorted(set(space) & set(grid))
    if overlap:
        raise ValueError(f"sweep: {overlap} in both grid and search_space; expected each hyperparameter in one of them")
    samples = _int(data, "num_samples", 1, 1)
    if not space:
        if "num_samples" in data and samples != 1:
            raise ValueError(f"sweep: num_samples {samples} without a search_space; expected a search_space to sample from")
        return points
    import numpy as np

    domains = {k: _domain(k, v) for k, v in space.items()}
    rng = np.random.RandomState(_int(data, "sample_seed", 0, 0))
    draws = [{k: _plain(d.sample(random_state=rng)) for k, d in domains.items()} for _ in range(samples)]
    return [{**p, **d} for d in draws for p in points]


def _domain(key: str, spec: Any):
    from ray import tune

    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
        raise ValueError(f"sweep: search_space {key!r}: {spec!r}; expected one of {{{', '.join(f'{d}: [...]' for d in DISTRIBUTIONS)}}}")
    dist, args = next(iter(spec.items()))
    if not isinstance(args, list) or not args:
        raise ValueError(f"sweep: search_space {key!r}: {dist} needs a list of arguments; got {args!r}")
    try:
        return tune.choice(args) if dist == "choice" else getattr(tune, dist)(*args)
    except (TypeError, ValueError) as err:
        raise ValueError(f"sweep: search_space {key!r}: {dist}{tuple(args)} is not valid ({err})") from None


def _plain(value: Any) -> Any:
    """numpy scalars (what Tune's samplers return) as plain Python numbers."""
    return value.item() if hasattr(value, "item") else value


def _trial_key(experiment: str, problem: dict, method: str, seed: int, params: dict) -> str:
    blob = json.dumps([experiment, problem, method, seed, params], sort_keys=True)
    return f"{experiment}-{method}-s{seed}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _check_budget(exp: ExperimentDef, value: Any, what: str) -> None:
    """A budget is a positive whole number of evaluations (or 0: each problem's own, where the
    experiment has one, e.g. Zeus's recurrences)."""
    low = 0 if exp.problem_budget is not None else 1
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"sweep: {what} {value!r}; expected a positive whole number of evaluations ({exp.budget_help})"
                         + (" or 0 for each problem's own" if low == 0 else ""))


def _int(data: dict, key: str, default: int, low: int) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"sweep: {key} {value!r}; expected a whole number >= {low}")
    return value


def _resources(res: dict) -> Resources:
    unknown = sorted(set(res) - set(RESOURCE_KEYS))
    if unknown:
        raise ValueError(f"sweep: resources: unknown key(s) {unknown}; expected some of {list(RESOURCE_KEYS)}")
    cpus, gpus, custom = res.get("cpus_per_trial", 1), res.get("gpus_per_trial", 0), res.get("custom") or {}
    if not isinstance(cpus, (int, float)) or isinstance(cpus, bool) or cpus <= 0:
        raise ValueError(f"sweep: resources.cpus_per_trial {cpus!r}; expected a positive number of CPUs")
    if not isinstance(gpus, (int, float)) or isinstance(gpus, bool) or gpus < 0:
        raise ValueError(f"sweep: resources.gpus_per_trial {gpus!r}; expected a number of GPUs >= 0")
    if not isinstance(custom, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in custom.values()):
        raise ValueError(f"sweep: resources.custom {custom!r}; expected a mapping of node resource name -> positive amount")
    return Resources(float(cpus), float(gpus), {str(k): float(v) for k, v in custom.items()})


def _execution(data: dict, res: dict) -> Execution:
    rllib = {k: res[k] for k in RL_OPTION_NAMES if k in res and res[k] is not None}
    try:
        RLlibOptions(**rllib)  # validates the values
    except (TypeError, ValueError) as err:
        raise ValueError(f"sweep: resources: {err}") from None
    return Execution(rllib=rllib, eval_tasks=_int(data, "eval_tasks", 0, 0), eval_min_chunk=_int(data, "eval_min_chunk", 256, 1),
                     checkpoint_every=_int(data, "checkpoint_every", 10, 1))
