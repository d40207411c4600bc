"""``codesign-gym sweep``: the command line of :mod:`codesign_gym.experiments.sweep.driver` (kept
apart so that building the parser imports neither Ray nor the experiments).

    codesign-gym sweep SWEEP.yaml [--output-dir DIR] [--address auto|HOST:PORT] [resource options]
    codesign-gym sweep --resume DIR [--address ...] [resource options]
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from codesign_gym.experiments.runner.commands import RLLIB_PREFIX, add_rllib_flags, rllib_from_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    sweep = sub.add_parser("sweep", help="run a sweep file's trials (problems x methods x seeds x hyperparameters) through Ray Tune")
    sweep.add_argument("sweep_file", nargs="?", default=None, help="the sweep file (YAML; see examples/sweeps/)")
    sweep.add_argument("--resume", metavar="RESULTS_DIR", default=None, help="finish the sweep in RESULTS_DIR (its complete trials are not run again)")
    sweep.add_argument("--output-dir", default=None, help="results directory (default: results/sweep-<name>-<timestamp>); on a "
                       "cluster a path on storage every node mounts")
    sweep.add_argument("--address", default=None, help="Ray cluster to join (auto or HOST:PORT; default: $RAY_ADDRESS, else an embedded local Ray)")
    sweep.add_argument("--num-cpus", type=int, default=None, help="CPUs of the embedded local Ray (default: all cores; ignored with --address)")
    sweep.add_argument("--max-failures", type=int, default=None, help="retries of a trial whose worker or node died (default: the file's, else 3)")
    sweep.add_argument("--max-concurrent-trials", type=int, default=None, help="trials at once (default: the file's, else as many as fit)")
    sweep.add_argument("--cpus-per-trial", type=float, default=None, help="CPUs each trial reserves (default: the file's, else 1)")
    sweep.add_argument("--gpus-per-trial", type=float, default=None, help="GPUs each trial reserves (default: the file's, else 0)")
    sweep.add_argument("--custom-resources", default=None, metavar="JSON", help='custom node resources each trial reserves, e.g. \'{"nodeB": 1}\'')
    add_rllib_flags(sweep)
    sweep.add_argument("--eval-tasks", type=int, default=None, help="search methods: Ray tasks per batch of evaluations (default: the file's, else 0 = in the trial)")
    sweep.set_defaults(handler=run_sweep_command)


def overrides_from_args(args: argparse.Namespace) -> dict:
    """The sweep-file entries the command line replaces (None: keep the file's)."""
    custom = None
    if args.custom_resources is not None:
        try:
            custom = json.loads(args.custom_resources)
        except json.JSONDecodeError as err:
            raise ValueError(f"--custom-resources {args.custom_resources!r}: not JSON ({err}); expected e.g. '{{\"nodeB\": 1}}'") from None
    given = dataclasses.asdict(rllib_from_args(args))  # checks the values
    rllib = {k: v for k, v in given.items() if getattr(args, RLLIB_PREFIX + k, None) is not None}
    return {"cpus_per_trial": args.cpus_per_trial, "gpus_per_trial": args.gpus_per_trial, "custom": custom, **rllib,
            "max_failures": args.max_failures, "max_concurrent_trials": args.max_concurrent_trials, "eval_tasks": args.eval_tasks}


def run_sweep_command(args: argparse.Namespace) -> int:
    if (args.sweep_file is None) == (args.resume is None):
        raise ValueError("expected either a sweep file (codesign-gym sweep SWEEP.yaml) or --resume RESULTS_DIR, not both or neither")
    if args.resume is not None and args.output_dir is not None:
        raise ValueError("--output-dir does not go with --resume (the sweep stays in its results directory)")
    overrides = overrides_from_args(args)
    from codesign_gym.experiments.runner.ray_session import check_address, resolve_address
    from codesign_gym.experiments.runner.results import RESULTS_FILE
    from codesign_gym.experiments.sweep.driver import TRIALS_INDEX, prepare_results_dir, run_sweep

    address = resolve_address(args.address)
    if address:
        check_address(address)  # an unreachable cluster fails before anything is written
    spec, results_dir = prepare_results_dir(args.sweep_file, args.resume or args.output_dir, overrides)
    outcome = run_sweep(spec, results_dir, address=args.address, num_cpus=args.num_cpus)
    summary = outcome.results_dir / "summary.md"
    print(f"{outcome.complete_before + outcome.completed_now}/{outcome.total} trials complete; results: {outcome.results_dir / RESULTS_FILE}, "
          f"trials: {outcome.results_dir / TRIALS_INDEX}" + (f", summary: {summary}" if summary.exists() else ""))
    return 0 if outcome.complete else 1
