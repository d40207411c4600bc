"""Command-line flags generated from typed dataclass fields: one definition per option.

``--field-name`` for every field of an experiment's options dataclass (and of
:class:`~codesign_gym.agents.rllib.run_options.RLlibOptions`' resource fields), with the
field's type, default, ``choices`` and ``help`` (:func:`codesign_gym.experiments.runner.spec.option`).
Tuples take several values (``nargs="+"``); ``X | None`` takes an X or the word ``none``.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

_PREFIX = "opt__"


def _parse_bool(text: str) -> bool:
    low = str(text).lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a boolean; expected true or false")


def _scalar_parser(kind: type, optional: bool):
    base = _parse_bool if kind is bool else kind

    def parse(text: str):
        if optional and str(text).lower() == "none":
            return None
        try:
            return base(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {kind.__name__}") from None

    parse.__name__ = kind.__name__
    return parse


def _arg_kind(annotation: Any) -> tuple[type, bool, bool]:
    """(scalar type, optional, sequence) of a field annotation."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0]
        origin = typing.get_origin(annotation)
    if origin in (tuple, list, typing.Sequence) or annotation in (tuple, list):
        inner = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return (inner[0] if inner else str), optional, True
    return annotation, optional, False


def add_dataclass_flags(parser: argparse.ArgumentParser, cls: type, names: tuple[str, ...] | None = None, prefix: str = _PREFIX,
                        helps: dict[str, str] | None = None) -> None:
    """Add ``--field-name`` for each field of ``cls`` (or those in ``names``); ``helps`` gives
    the help of fields whose metadata has none."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if names is not None and f.name not in names:
            continue
        kind, optional, sequence = _arg_kind(hints[f.name])
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        text = f.metadata.get("help", (helps or {}).get(f.name, f.name.replace("_", " "))).replace("%", "%%")
        parser.add_argument("--" + f.name.replace("_", "-"), dest=prefix + f.name, type=_scalar_parser(kind, optional),
                            nargs="+" if sequence else None, choices=f.metadata.get("choices"), default=None, metavar=f.name.upper()
                            if not f.metadata.get("choices") else None,
                            help=text if default is None and "default" in text else f"{text} (default: {str(shown).replace('%', '%%')})")


def dataclass_from_args(cls: type, args: argparse.Namespace, prefix: str = _PREFIX, **overrides: Any):
    """An instance of ``cls`` from the flags :func:`add_dataclass_flags` added (unset flags keep
    the field defaults); ``overrides`` win. Tuples stay tuples."""
    values = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, prefix + f.name, None)
        if value is not None:
            values[f.name] = tuple(value) if isinstance(value, list) else value
    values.update(overrides)
    return cls(**values)
