"""The one experiment runner: every experiment, ``run`` and ``sweep`` alike, goes through
:func:`run_experiment`.

It builds the experiment's problems (bad options fail here, before anything is written), opens
the output directory with a :class:`~codesign_gym.experiments.runner.recorder.Recorder`
(resuming a directory that holds the same run), runs every problem x method x pending seed,
and renders the generic summary and the experiment's own report. Ray is started only when a
method needs it: an embedded local instance, or the cluster at ``spec.address``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path
from typing import Callable

from codesign_gym.agents.registry import check_methods, make_method
from codesign_gym.envs.problem import Problem
from codesign_gym.experiments.registry import get_experiment
from codesign_gym.experiments.runner.recorder import Recorder
from codesign_gym.experiments.runner.spec import METHOD, ExperimentDef, ExperimentSpec, fields_of_role


def method_options(exp: ExperimentDef, spec: ExperimentSpec, problem: Problem) -> dict:
    """Options handed to the methods on ``problem``: the experiment's per-problem ones, the
    spec's method-role option fields, its ``method_params`` and ``rllib`` (later ones win)."""
    opts = exp.options_for_methods(spec.options, problem)
    opts.update({name: getattr(spec.options, name) for name in fields_of_role(type(spec.options), METHOD)})
    opts.update(spec.method_params)
    rllib = spec.rllib
    if rllib.tensorboard_dir is None:  # RLlib's training metrics go beside the results
        rllib = dataclasses.replace(rllib, tensorboard_dir=str(Path(spec.output_dir) / "tensorboard"))
    opts["rllib"] = rllib
    return opts


def planned_runs(exp: ExperimentDef, spec: ExperimentSpec) -> list[tuple[Problem, list]]:
    """[(problem, [method objects])] in run order; unknown method names fail here. A problem's own
    method list (``ExperimentDef.problems``) wins; None takes the spec's methods, else the defaults."""
    runs = []
    for problem, methods in exp.problems(spec.options):
        names = check_methods(methods or spec.methods or exp.default_methods)
        opts = method_options(exp, spec, problem)
        runs.append((problem, [make_method(name, **opts) for name in names]))
    return runs


def run_experiment(spec: ExperimentSpec, progress: Callable[[str], None] = print, lock: bool = True) -> Path:
    """Run (or resume) ``spec`` into ``spec.output_dir``; returns the output directory.

    The directory is locked for the whole run (``<output_dir>/run.lock``, see
    :class:`~codesign_gym.experiments.runner.results.DirectoryLock`): a second run on it is
    refused with a ValueError naming the holder. ``lock=False`` only where the caller guarantees
    a single writer (e.g. a sweep trial's own directory, which Tune never runs twice at once).
    """
    from codesign_gym.experiments.runner.ray_session import ray_session

    exp = get_experiment(spec.experiment)
    runs = planned_runs(exp, spec)
    needs_ray = any(m.needs_ray for _, methods in runs for m in methods)
    # the directory is locked from here until the end (any exit): one run at a time writes it
    with Recorder(spec.output_dir, exp.name, spec.settings(), archive=exp.archive, progress=progress, lock=lock) as recorder:
        with ray_session(spec.address) if needs_ray else contextlib.nullcontext("no Ray") as where:
            if needs_ray:
                progress(f"methods that need Ray run on {where}")
            for problem, methods in runs:
                known = recorder.known(problem)
                progress(f"{problem.label}: optimum {_fmt(known['optimum'])}, reference {_fmt(known['reference'])}")
                for method in methods:
                    _run_method(recorder, problem, method, spec, run_budget(exp, spec, problem), progress)
        if spec.report:
            render_reports(spec.output_dir, exp, spec.options)
    return Path(spec.output_dir)


def run_budget(exp: ExperimentDef, spec: ExperimentSpec, problem: Problem) -> int:
    """The spec's budget, or where it is 0 the problem's own (:attr:`ExperimentDef.problem_budget`)."""
    if spec.budget == 0 and exp.problem_budget is not None:
        return int(exp.problem_budget(problem))
    return spec.budget


def _run_method(recorder: Recorder, problem: Problem, method, spec: ExperimentSpec, budget: int, progress: Callable[[str], None]) -> None:
    why = method.supports(problem)
    if why:
        progress(f"  {method.name}: skipped ({why})")
        return
    label = spec.labels.get(method.name, method.name)
    seeds = spec.seeds if method.seeded else spec.seeds[:1]
    for seed in recorder.pending(problem, label, seeds):
        t0 = time.perf_counter()
        trace = recorder.run(problem, method, seed, budget, label=label)
        point = trace.last
        shown = f"{point.best_objective:.6g} {problem.objective.unit}" if point.feasible else "none feasible"
        progress(f"  {label} seed {seed}: best {shown} after {point.evals} evaluations ({time.perf_counter() - t0:.1f} s)")


def render_reports(output_dir: str | Path, exp: ExperimentDef, options) -> list[Path]:
    """The generic ``summary.md`` and plots, then the experiment's own report."""
    from codesign_gym.experiments.runner.report import render_report

    paths = [render_report(output_dir)]
    paths += exp.write_report(Path(output_dir), options)
    return paths


def _fmt(point) -> str:
    return "unknown" if point is None else f"{point.objective:.6g}" + (f" ({point.label})" if point.label else "")
