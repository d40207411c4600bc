"""``codesign-gym run <experiment>`` and ``codesign-gym report DIR``.

Every experiment takes the same core options (DESIGN.md): ``--budget N`` whole-design
evaluations, ``--seeds N`` (seeds 0..N-1), ``--output-dir DIR`` (default
``results/<experiment>-<timestamp>``; an existing directory is resumed) and ``--address``
(default ``$RAY_ADDRESS``; neither set: an embedded local Ray).
"""

from __future__ import annotations

import argparse
import datetime as _dt
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run an experiment (every method x seed on one budget)")
    experiments = run.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    cfx = experiments.add_parser("confuciux", help="ConfuciuX resource assignment: PEs and buffer per layer under an area/power budget")
    _core_options(cfx, default_budget=600)
    cfx.add_argument("--model", default="cfx/mobilenet_v2", help="workload: zoo name, cfx/<name> or a layer-table CSV (default: cfx/mobilenet_v2)")
    cfx.add_argument("--dataflow", default="dla", help="dla|shi|eye (= cfx_dla|cfx_shi|cfx_eye) or another built-in (default: dla)")
    cfx.add_argument("--objective", default="latency", choices=["latency", "energy", "edp"])
    cfx.add_argument("--constraint", default="area:0.5", help="KIND:RATIO with KIND area|power and 0 < RATIO <= 1 (default: area:0.5)")
    cfx.add_argument("--methods", nargs="+", default=None, help="methods to run (default: random genetic annealing bayesian reinforce rl_ga; also ppo)")
    cfx.add_argument("--batch-size", type=int, default=None, help="designs per search round (default: each method's own, e.g. 32 for genetic, 1 for annealing)")
    cfx.set_defaults(handler=run_confuciux)

    report = sub.add_parser("report", help="re-render summary.md and plots of a results directory")
    report.add_argument("output_dir", help="a run's output directory (holds results.csv)")
    report.set_defaults(handler=run_report)


def _core_options(parser: argparse.ArgumentParser, default_budget: int) -> None:
    parser.add_argument("--budget", type=int, default=default_budget, help=f"whole-design evaluations per method and seed (default: {default_budget})")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds, run as 0..N-1 (default: 3)")
    parser.add_argument("--output-dir", default=None, help="results directory (default: results/<experiment>-<timestamp>); an existing one is resumed")
    parser.add_argument("--address", default=None, help="Ray cluster to join (auto or HOST:PORT; default: $RAY_ADDRESS, else an embedded local Ray)")


def default_output_dir(experiment: str) -> Path:
    return Path("results") / f"{experiment}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def run_confuciux(args: argparse.Namespace) -> int:
    from codesign_gym.experiments.confuciux import DEFAULT_METHODS, RL_METHODS, ConfuciuxConfig, run_experiment
    from codesign_gym.experiments.ray_session import ray_session

    config = ConfuciuxConfig(
        model=args.model, dataflow=args.dataflow, objective=args.objective, constraint=args.constraint,
        budget=args.budget, seeds=args.seeds, methods=tuple(args.methods or DEFAULT_METHODS), batch_size=args.batch_size,
    )
    config.validate()
    out = Path(args.output_dir) if args.output_dir else default_output_dir("confuciux")
    print(f"writing to {out}")
    if any(m in RL_METHODS for m in config.methods):
        with ray_session(args.address) as where:
            print(f"RL methods train on {where}")
            summary = run_experiment(config, out)
    else:
        summary = run_experiment(config, out)
    print(f"\n{summary.read_text()}\nsummary: {summary}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from codesign_gym.experiments.report import render_report

    path = render_report(args.output_dir)
    print(path.read_text())
    return 0
