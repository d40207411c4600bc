"""``codesign-gym workloads ...``: list the zoo and ConfuciuX's files, show one layer table."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("workloads", help="list workloads or show one layer table")
    commands = group.add_subparsers(dest="workloads_command", required=True, metavar="SUBCOMMAND")
    commands.add_parser("list", help="list every workload name").set_defaults(handler=run_list)
    show = commands.add_parser("show", help="print a workload's layer table")
    show.add_argument("name", help="zoo name, cfx/<name>, or a layer-table CSV")
    show.set_defaults(handler=run_show)


def run_list(_args: argparse.Namespace) -> int:
    from codesign_gym.costmodels.workloads import get_workload, list_workloads

    for name in list_workloads():
        table = get_workload(name)
        print(f"{name:28s} {len(table):4d} layers {int(table.macs.sum()):>16,} MACs")
    return 0


def load_named(name: str):
    """The layer table ``name`` names (zoo name, ``cfx/<name>``, ``nb201/...`` or a CSV path).

    Raises:
        ValueError: a directory, an unreadable file (the OS error named) or a malformed one.
        FileNotFoundError: a ``.csv`` path that does not exist.
    """
    import os

    from codesign_gym.costmodels.workloads import get_workload

    if os.path.isdir(name):
        raise ValueError(f"{name}: is a directory; expected a zoo name, cfx/<name>, nb201/<index>/<dataset> or a layer-table CSV file")
    try:
        return get_workload(name)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise ValueError(f"{name}: cannot be read ({err.strerror or err}); expected a readable layer-table CSV file") from None


def run_show(args: argparse.Namespace) -> int:
    from codesign_gym.experiments.runner.tables import render_table

    table = load_named(args.name)
    rows = table.to_rows()
    for row, macs in zip(rows, table.macs.tolist()):
        row["macs"] = macs
    print(render_table(rows))
    print(f"\n{len(table)} layers, {int(table.macs.sum()):,} MACs")
    return 0
