"""``codesign-gym run <experiment>`` and ``codesign-gym report DIR``.

Every experiment takes the same core options (DESIGN.md): ``--budget N`` evaluations of its
problem, ``--seeds N`` (seeds 0..N-1), ``--methods``, ``--output-dir DIR`` (default
``results/<experiment>-<timestamp>``; an existing directory is resumed), ``--address``
(default ``$RAY_ADDRESS``; neither set: an embedded local Ray) and RLlib's resource options.
Its own flags come from its options dataclass (:mod:`codesign_gym.experiments.runner.options`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import dataclasses
from pathlib import Path

from codesign_gym.agents.rllib.run_options import RESOURCE_OPTION_NAMES, RLlibOptions
from codesign_gym.experiments.registry import EXPERIMENT_NAMES, get_experiment
from codesign_gym.experiments.runner.options import add_dataclass_flags, dataclass_from_args
from codesign_gym.experiments.runner.spec import ExperimentSpec

RLLIB_PREFIX = "rllib__"


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run an experiment (every method x seed on one budget)")
    experiments = run.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    for name in EXPERIMENT_NAMES:
        exp = get_experiment(name)
        parser = experiments.add_parser(name, help=exp.help)
        add_core_flags(parser, exp.default_budget, exp.default_seeds, exp.budget_help, exp.default_methods)
        add_dataclass_flags(parser, exp.options)
        parser.set_defaults(handler=run_command)
    report = sub.add_parser("report", help="re-render summary.md and plots of a results directory (a run's or a sweep's)")
    report.add_argument("output_dir", help="a run's output directory (holds results.csv)")
    report.set_defaults(handler=report_command)


RLLIB_HELP = {
    "num_env_runners": "RLlib env-runner actors per training run (0: sample in the training process; default: the method's)",
    "envs_per_runner": "sub-environments per env runner (default: the method's)",
    "num_learners": "RLlib learner actors (0: learn in the training process)",
    "num_gpus_per_learner": "GPUs per learner",
    "num_cpus_per_env_runner": "CPUs each env runner reserves (fractions let more runners share a small machine)",
}


def add_rllib_flags(parser: argparse.ArgumentParser) -> None:
    """RLlib's resource options (``--num-env-runners``, ``--envs-per-runner``, ...)."""
    add_dataclass_flags(parser, RLlibOptions, names=RESOURCE_OPTION_NAMES, prefix=RLLIB_PREFIX, helps=RLLIB_HELP)


def rllib_from_args(args: argparse.Namespace, **overrides) -> RLlibOptions:
    return dataclass_from_args(RLlibOptions, args, prefix=RLLIB_PREFIX, **overrides)


def add_core_flags(parser: argparse.ArgumentParser, budget: int, seeds: int, budget_help: str, methods: tuple[str, ...]) -> None:
    """The options every experiment shares (DESIGN.md)."""
    parser.add_argument("--budget", type=int, default=budget, help=f"{budget_help} (default: {budget})")
    parser.add_argument("--seeds", type=int, default=seeds, help=f"number of seeds, run as 0..N-1 (default: {seeds})")
    parser.add_argument("--methods", nargs="+", default=None, help=f"methods to run (default: {' '.join(methods)})")
    parser.add_argument("--output-dir", default=None, help="results directory (default: results/<experiment>-<timestamp>); an existing one is resumed")
    parser.add_argument("--address", default=None, help="Ray cluster to join (auto or HOST:PORT; default: $RAY_ADDRESS, else an embedded local Ray)")
    add_rllib_flags(parser)


def default_output_dir(experiment: str) -> Path:
    """``results/<experiment>-<YYYYmmdd-HHMMSS>``, relative to the working directory."""
    return Path("results") / f"{experiment}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def spec_from_args(args: argparse.Namespace) -> ExperimentSpec:
    """The :class:`ExperimentSpec` a ``run <experiment>`` command line asks for."""
    exp = get_experiment(args.experiment)
    if isinstance(args.budget, bool) or args.budget < (0 if exp.problem_budget is not None else 1):
        raise ValueError(f"--budget {args.budget}: expected a positive number of evaluations ({exp.budget_help})")
    if args.seeds < 1:
        raise ValueError(f"--seeds {args.seeds}: expected a positive number of seeds")
    return ExperimentSpec(
        experiment=exp.name, options=dataclass_from_args(exp.options, args), methods=tuple(args.methods) if args.methods else None,
        budget=args.budget, seeds=tuple(range(args.seeds)), output_dir=Path(args.output_dir) if args.output_dir else default_output_dir(exp.name),
        address=args.address, rllib=rllib_from_args(args),
    )


def run_command(args: argparse.Namespace) -> int:
    from codesign_gym.experiments.runner.run import run_experiment

    spec = spec_from_args(args)
    print(f"writing to {spec.output_dir}")
    try:
        out = run_experiment(spec)
    except KeyboardInterrupt:
        raise Interrupted(interrupted_message(spec.output_dir)) from None
    summary = out / "summary.md"
    print(f"\n{summary.read_text()}\nsummary: {summary}; other outputs: {', '.join(sorted(p.name for p in out.iterdir() if p.suffix in ('.md', '.png', '.json')))}")
    return 0


class Interrupted(KeyboardInterrupt):
    """A command stopped by SIGINT; its message says what was saved and how to resume."""


def interrupted_message(output_dir: Path) -> str:
    """One line: which runs of ``output_dir`` are saved, and how to resume the rest."""
    from codesign_gym.experiments.runner.results import RESULTS_FILE, completed_runs

    try:
        saved = f"{len(completed_runs(output_dir))} finished runs are saved in {Path(output_dir) / RESULTS_FILE}"
    except (OSError, ValueError):
        saved = f"nothing readable is saved in {Path(output_dir) / RESULTS_FILE} yet"
    return f"interrupted: {saved}; resume with the same command and --output-dir {output_dir} (unfinished runs start over)"


def recorded_experiment(output_dir: Path):
    """The experiment and options recorded in ``output_dir``'s ``run_config.json`` ((None, None)
    without one).

    Raises:
        ValueError: the file is unreadable or names no known experiment or other options.
    """
    from codesign_gym.experiments.runner.results import RUN_CONFIG_FILE, read_run_config

    recorded = read_run_config(output_dir)
    if recorded is None:
        return None, None
    path = output_dir / RUN_CONFIG_FILE
    if recorded.get("experiment") not in EXPERIMENT_NAMES:
        raise ValueError(f"{path}: experiment {recorded.get('experiment')!r}; expected one of {', '.join(EXPERIMENT_NAMES)}")
    exp = get_experiment(recorded["experiment"])
    names = {f.name for f in dataclasses.fields(exp.options)}
    try:
        options = exp.options(**{k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items() if k in names})
    except TypeError as err:
        raise ValueError(f"{path}: {err}; expected the options of experiment {exp.name!r}") from None
    return exp, options


def report_command(args: argparse.Namespace) -> int:
    """Re-render a run's reports (a sweep's directory: gather its complete trials first)."""
    from codesign_gym.experiments.runner.results import RESULTS_FILE, read_table
    from codesign_gym.experiments.runner.run import render_reports
    from codesign_gym.experiments.sweep.driver import refresh_sweep_results

    out = Path(args.output_dir)
    if not out.is_dir():
        raise FileNotFoundError(f"{out} is not a directory; expected the output directory of a run") if not out.exists() else \
            ValueError(f"{out} is a file; expected the output directory of a run (holding results.csv)")
    refresh_sweep_results(out)
    read_table(out / RESULTS_FILE) if (out / RESULTS_FILE).exists() else None  # an unreadable table first: its line, not the config's
    exp, options = recorded_experiment(out)
    if exp is None:
        from codesign_gym.experiments.runner.report import render_report

        paths = [render_report(out)]
    else:
        paths = render_reports(out, exp, options)
    print(paths[0].read_text())
    return 0
