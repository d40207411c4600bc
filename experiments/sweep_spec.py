"""Sweep files: which problems, methods, seeds and hyperparameters a sweep runs, checked and
expanded into trials before anything starts.

A sweep file (YAML) looks like this (every key but ``problems`` and ``methods`` optional)::

    name: cfx-search                 # default: the file's stem
    problems:                        # one entry per problem; `experiment` picks the kind
      - {experiment: confuciux, model: cfx/mobilenet_v2, dataflow: dla, objective: latency, constraint: "area:0.5"}
      - {experiment: mcunet, sram_kib: 256}
      - {experiment: zeus, workload: cifar100, gpu: v100, methods: [zeus, grid]}   # per-problem methods
      - {experiment: naas, accelerator: eyeriss, dataset: ImageNet16-120, search: nested, methods: [evolution, cmaes]}
      - {experiment: hadas, dataset: cifar-100, policy: threshold, methods: [hadas, random]}
    methods: [random, genetic]       # default methods of every problem
    seeds: 3                         # seeds 0..2, or a list such as [0, 7, 9]
    budget: 400                      # whole-design evaluations per trial (a problem entry may override)
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
    eval_tasks: 0                    # search baselines: Ray tasks per batch of evaluations (0: in the trial)
    eval_min_chunk: 256
    checkpoint_every: 10             # RL trials: training iterations between RLlib checkpoints

Grid and search-space keys are an experiment's config fields (``budget``, ``batch_size``,
``rl_episodes``, problem fields such as ``sram_kib``) or RLlib options (``lr``,
``episodes_per_batch``, ``num_env_runners``, ...). A key that does not change a method (``lr`` for
random search) is left out of that method's trials, so no trial runs twice. Distributions:
``uniform: [lo, hi]``, ``loguniform: [lo, hi]``, ``randint: [lo, hi)``, ``choice: [a, b, ...]``
(Ray Tune's, sampled here so that a resumed sweep has the very same trials).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

from codesign_gym.agents.rllib.run_options import OPTION_NAMES as RL_OPTION_NAMES
from codesign_gym.agents.rllib.run_options import RLlibOptions
from codesign_gym.experiments.sweep_trials import EXPERIMENTS, Execution, TrialSpec

TOP_KEYS = ("name", "problems", "methods", "seeds", "budget", "grid", "search_space", "num_samples", "sample_seed", "resources",
            "max_failures", "max_concurrent_trials", "eval_tasks", "eval_min_chunk", "checkpoint_every")
RESOURCE_KEYS = ("cpus_per_trial", "gpus_per_trial", "custom", *RL_OPTION_NAMES)
DISTRIBUTIONS = ("uniform", "loguniform", "randint", "choice")


@dataclasses.dataclass(frozen=True)
class Resources:
    """What each trial reserves: ``cpus`` and ``gpus`` for the trial process, ``custom`` node
    resources (e.g. ``{"nodeB": 1}`` to pin trials to nodes started with that resource), and
    one bundle per env runner / learner / evaluation task it starts (see :func:`trial_bundles`)."""

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
        resources), then one per env runner and learner (RL) or evaluation task (search)."""
        head = {"CPU": self.resources.cpus, **({"GPU": self.resources.gpus} if self.resources.gpus else {}), **self.resources.custom}
        bundles = [head]
        kind = EXPERIMENTS[trial.experiment]
        if trial.method in kind.rl_methods:
            opts = RLlibOptions(**{**self.execution.rllib, **{k: v for k, v in trial.params.items() if k in RL_OPTION_NAMES}})
            runner_cpus = 1.0 if opts.num_cpus_per_env_runner is None else float(opts.num_cpus_per_env_runner)
            bundles += [{"CPU": runner_cpus}] * (opts.num_env_runners or 0)
            gpus = float(opts.num_gpus_per_learner or 0)
            bundles += [{"CPU": 1.0, **({"GPU": gpus} if gpus else {})}] * (opts.num_learners or 0)
        elif self.execution.eval_tasks > 0:
            bundles += [{"CPU": 1.0}] * self.execution.eval_tasks
        return bundles


def load_sweep(path: str | Path, overrides: dict[str, Any] | None = None) -> SweepSpec:
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
    return parse_sweep(data, overrides)


def parse_sweep(data: dict[str, Any], overrides: dict[str, Any] | None = None) -> SweepSpec:
    """Check a parsed sweep file and expand it into trials (see the module docstring)."""
    data = json.loads(json.dumps(data))  # plain JSON types, a private copy
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise ValueError(f"sweep: unknown key(s) {unknown}; expected some of {list(TOP_KEYS)}")
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
    name = str(data.get("name") or "sweep")
    seeds = _seeds(data.get("seeds", 1))
    points = _hyper_points(data)
    problems = data.get("problems")
    if not isinstance(problems, list) or not problems:
        raise ValueError(f"sweep: 'problems' must be a non-empty list of problem entries; got {problems!r}")
    trials: list[TrialSpec] = []
    seen: set[str] = set()
    entries = [_problem(entry, index, data) for index, entry in enumerate(problems)]
    _check_keys_apply(entries, list(dict.fromkeys(k for p in points for k in p)))
    for kind, problem, methods, budget in entries:
        for method in methods:
            varying = sorted({k for p in points for k in p if kind.applies(k, method) and k not in kind.problem_fields
                              and len({json.dumps(q.get(k)) for q in points}) > 1})
            for point in points:
                fields = {**problem, **{k: v for k, v in point.items() if k in kind.problem_fields}}
                params = {**({"budget": budget} if budget is not None else {}),
                          **{k: v for k, v in point.items() if k not in kind.problem_fields and kind.applies(k, method)}}
                config = kind.make_config(fields, params, method)  # raises ValueError on bad values
                _check_problem(kind, config)
                label = method + ("[" + ",".join(f"{k}={_short(params.get(k))}" for k in varying) + "]" if varying else "")
                for seed in seeds:
                    key = _trial_key(kind.name, fields, method, seed, params)
                    if key in seen:
                        continue
                    seen.add(key)
                    trials.append(TrialSpec(kind.name, fields, method, seed, params, label, key))
    return SweepSpec(name=name, trials=tuple(trials), resources=_resources(resources), execution=_execution(data, resources),
                     max_failures=_int(data, "max_failures", 3, 0), max_concurrent_trials=_int(data, "max_concurrent_trials", 0, 0), source=data)


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


def _problem(entry: Any, index: int, data: dict):
    """(kind, problem fields, methods, budget) of one ``problems`` entry."""
    if not isinstance(entry, dict) or "experiment" not in entry:
        raise ValueError(f"sweep: problems[{index}] {entry!r}; expected a mapping with 'experiment' (one of {sorted(EXPERIMENTS)})")
    entry = dict(entry)
    name = entry.pop("experiment")
    if name not in EXPERIMENTS:
        raise ValueError(f"sweep: problems[{index}]: unknown problem/experiment {name!r}; expected one of {sorted(EXPERIMENTS)}")
    kind = EXPERIMENTS[name]
    methods = entry.pop("methods", data.get("methods"))
    budget = entry.pop("budget", data.get("budget"))
    bad = sorted(set(entry) - set(kind.problem_fields))
    if bad:
        raise ValueError(f"sweep: problems[{index}] ({name}): unknown field(s) {bad}; expected some of {list(kind.problem_fields)} "
                         f"(and 'methods', 'budget')")
    if not isinstance(methods, list) or not methods:
        raise ValueError(f"sweep: problems[{index}] ({name}): methods {methods!r}; expected a non-empty list, some of {sorted(kind.methods)}")
    for method in methods:
        if method not in kind.methods:
            raise ValueError(f"sweep: problems[{index}] ({name}): unknown method/agent {method!r}; expected some of {sorted(kind.methods)}")
    return kind, entry, list(dict.fromkeys(methods)), budget


def _check_keys_apply(entries: list, keys: list[str]) -> None:
    """Every grid / search-space key must change at least one (problem, method) of the sweep."""
    for key in keys:
        if not any(kind.applies(key, m) for kind, _, methods, _ in entries for m in methods):
            known = {kind.name: sorted(kind.known_keys()) for kind, *_ in entries}
            raise ValueError(f"sweep: hyperparameter {key!r} changes none of the sweep's problems and methods; expected keys "
                             f"known to them ({known}; RLlib options change RL methods only)")


_checked_problems: dict[str, bool] = {}


def _check_problem(kind, config) -> None:
    """Build each distinct problem once, so an unknown workload or dataflow fails here."""
    name = f"{kind.name}:{kind.problem_name(config)}"
    if name in _checked_problems:
        return
    kind.check_problem(config)
    _checked_problems[name] = True


def _trial_key(experiment: str, problem: dict, method: str, seed: int, params: dict) -> str:
    blob = json.dumps([experiment, problem, method, seed, params], sort_keys=True)
    return f"{experiment}-{method}-s{seed}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


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
    RLlibOptions(**rllib)  # validates the values
    return Execution(rllib=rllib, eval_tasks=_int(data, "eval_tasks", 0, 0), eval_min_chunk=_int(data, "eval_min_chunk", 256, 1),
                     checkpoint_every=_int(data, "checkpoint_every", 10, 1))
