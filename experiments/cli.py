"""The ``codesign-gym`` command line: one subcommand per job, each implemented in its own module.

    codesign-gym costmodel demo [--workload mobilenet_v2] [--num-pes 256] ...
    codesign-gym costmodel predict CASES.csv -o OUT.csv
    codesign-gym bench costmodel [--batch-sizes 1 1000 100000 1000000] [--backends numpy torch]
    codesign-gym workloads list | show NAME
    codesign-gym run confuciux --model cfx/mobilenet_v2 --dataflow dla --budget 600 --seeds 3
    codesign-gym sweep SWEEP.yaml [--address auto|HOST:PORT] | sweep --resume RESULTS_DIR
    codesign-gym report RESULTS_DIR
    codesign-gym version
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence


def build_parser() -> argparse.ArgumentParser:
    from codesign_gym.experiments.bench import commands as bench_commands
    from codesign_gym.experiments.commands import costmodel, workloads
    from codesign_gym.experiments.runner import commands as run_commands
    from codesign_gym.experiments.sweep import cli as sweep_cli

    parser = argparse.ArgumentParser(prog="codesign-gym", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    costmodel.add_parser(sub)
    bench_commands.add_parser(sub)
    workloads.add_parser(sub)
    run_commands.add_parser(sub)
    sweep_cli.add_parser(sub)
    version = sub.add_parser("version", help="print the package version and git commit")
    version.set_defaults(handler=_print_version)
    return parser


def _print_version(_args: argparse.Namespace) -> int:
    from codesign_gym.experiments.runner.provenance import version_string

    print(version_string())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (ValueError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as err:
        # Bad input: a clear one-line message, no traceback, exit status 2 like argparse.
        print(f"codesign-gym: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        # SIGINT: one line (what was saved and how to resume, where the command knows), exit 130 like a shell.
        print(f"\ncodesign-gym: {err or 'interrupted'}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
