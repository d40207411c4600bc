"""What an experiment is: its definition (:class:`ExperimentDef`) and one request to run it
(:class:`ExperimentSpec`). ``codesign-gym run <experiment>`` and ``codesign-gym sweep`` build the
same spec; the command line's flags come from the experiment's options dataclass
(:mod:`codesign_gym.experiments.runner.options`).

An experiment's options are one dataclass. Each field's ``metadata`` says:

- ``role``: ``"problem"`` (it names the problem: part of the problem's label and of a sweep
  trial's problem) or ``"method"`` (an option of some methods, handed to those whose
  constructor takes it, e.g. ``batch_size``, ``outer_population``) or ``"report"`` (where or
  how the report is written, e.g. Zeus's ``output`` JSON path; not part of the run's identity);
- ``help`` and optionally ``choices`` for the command line.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Sequence

from codesign_gym.agents.rllib.run_options import RLlibOptions
from codesign_gym.envs.problem import Problem

PROBLEM, METHOD, REPORT = "problem", "method", "report"


def option(default: Any, help: str, role: str = PROBLEM, choices: Sequence | None = None, **kwargs: Any) -> Any:
    """A field of an experiment's options dataclass (see the module docstring)."""
    metadata = {"help": help, "role": role, "choices": tuple(choices) if choices else None}
    if isinstance(default, (list, tuple)):
        return dataclasses.field(default_factory=lambda: tuple(default), metadata=metadata, **kwargs)
    return dataclasses.field(default=default, metadata=metadata, **kwargs)


def fields_of_role(options_cls: type, role: str) -> tuple[str, ...]:
    """Names of the fields of ``options_cls`` with ``role``."""
    return tuple(f.name for f in dataclasses.fields(options_cls) if f.metadata.get("role", PROBLEM) == role)


@dataclasses.dataclass(frozen=True)
class ExperimentDef:
    """One experiment: a problem family, its options, default methods and report.

    Attributes:
        name: ``confuciux``, ``zeus``, ... (``codesign-gym run <name>``).
        help: one line for the command line.
        options: the options dataclass (see the module docstring); it checks its values in
            ``__post_init__`` (ValueError naming the value and what was expected).
        problems: ``problems(options) -> [(problem, methods or None)]``: the problems to run,
            each with the methods to run on it (None: the spec's methods).
        default_methods, default_budget, default_seeds: the command line's defaults.
        method_options: options of the methods (e.g. the RLlib env and policy settings), a dict
            or ``method_options(options, problem) -> dict`` where they depend on the problem;
            merged under the spec's (:meth:`options_for_methods`).
        report: ``"module:function"`` (imported when a report is written) or a callable,
            ``report(output_dir, options) -> [paths]``: the experiment's own tables and plots,
            from ``results.csv`` and the archives only.
        archive: keep every evaluation of every run (reports that need all designs).
        budget_help: what ``--budget`` counts, where it is not one design.
        problem_budget: ``problem_budget(problem) -> int``: the budget of runs on ``problem``
            when the spec's is 0 (Zeus: the problem's ``2 |B| |P|`` recurrences); None: 0 is refused.
    """

    name: str
    help: str
    options: type
    problems: Callable[[Any], list[tuple[Problem, tuple[str, ...] | None]]]
    default_methods: tuple[str, ...]
    default_budget: int
    default_seeds: int = 3
    method_options: dict | Callable[[Any, Problem], dict] | None = None
    report: str | Callable[[Path, Any], list[Path]] | None = None
    archive: bool = False
    budget_help: str = "whole-design evaluations per method and seed (RL: episodes)"
    problem_budget: Callable[[Problem], int] | None = None

    def options_for_methods(self, options: Any, problem: Problem) -> dict:
        """The experiment's method options on ``problem`` (see :attr:`method_options`)."""
        if self.method_options is None:
            return {}
        if isinstance(self.method_options, dict):
            return dict(self.method_options)
        return dict(self.method_options(options, problem))

    def write_report(self, output_dir: Path, options: Any) -> list[Path]:
        """Run the experiment's report (none: no paths)."""
        if self.report is None:
            return []
        report = self.report
        if isinstance(report, str):
            import importlib

            module, name = report.split(":")
            report = getattr(importlib.import_module(module), name)
        return list(report(Path(output_dir), options))


@dataclasses.dataclass
class ExperimentSpec:
    """One request to run an experiment.

    Attributes:
        experiment: the experiment's name.
        options: an instance of its options dataclass.
        methods: method names (None: each problem's default).
        budget: evaluations per run (the problem's ``evaluation_unit``); 0: each problem's own
            (:attr:`ExperimentDef.problem_budget`), where the experiment has one.
        seeds: the seeds to run.
        output_dir: where results go (an existing run there is resumed).
        address: a Ray cluster to join (None: ``$RAY_ADDRESS``, else an embedded local Ray).
        rllib: RLlib resources and options of RL methods (explicit; nothing is global).
        method_params: further method options (a sweep's hyperparameters: ``lr``, ``batch_size``, ...).
        report: render reports when the run ends (a sweep trial does not).
        labels: method name -> the name its rows carry (a sweep's ``genetic[batch_size=16]``).
    """

    experiment: str
    options: Any
    methods: tuple[str, ...] | None
    budget: int
    seeds: tuple[int, ...]
    output_dir: Path
    address: str | None = None
    rllib: RLlibOptions = dataclasses.field(default_factory=RLlibOptions)
    method_params: dict = dataclasses.field(default_factory=dict)
    report: bool = True
    labels: dict = dataclasses.field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        """What names the run, recorded in ``run_config.json`` (more methods or seeds extend a run)."""
        named = {k: v for k, v in dataclasses.asdict(self.options).items() if k not in fields_of_role(type(self.options), REPORT)}
        return {"experiment": self.experiment, **named, "budget": self.budget,
                "methods": list(self.methods or ()), "seeds": len(self.seeds), **self.method_params}
