"""Checks of the keyword options an environment passes to its Problem (``gymnasium.make(id, **options)``).

Each Problem's ``__init__`` checks ranges and names (``eta`` in [0, 1], a known dataset, ...);
:func:`make_problem` first refuses what no range check can be asked about: an option the
Problem does not take, and a value of the wrong type for its annotation (a bool or a string
for a number, a number for a name, a string for a sequence, NaN or a number beyond int64), each
as a ValueError naming the option, the value and what was expected.
"""

from __future__ import annotations

import inspect
import math
import os
from typing import Any, Mapping

import numpy as np

#: The largest integer option: counts are int64.
_INT64_MAX = (1 << 63) - 1


def _is_int(value: Any) -> bool:
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer)) and abs(int(value)) <= _INT64_MAX


def _is_real(value: Any) -> bool:
    """A number that is not a bool, not NaN and (an int) within int64; +-inf passes (a range check names it)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    return _is_int(value) if isinstance(value, (int, np.integer)) else not math.isnan(float(value))


def _is_sequence(value: Any, item: str) -> bool:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple, np.ndarray)):
        return False
    return all(_matches(v, item) for v in (value.tolist() if isinstance(value, np.ndarray) else value))


def _matches(value: Any, kind: str) -> bool:
    """Whether ``value`` is of the annotation term ``kind`` (``int``, ``float``, ``str``,
    ``None``, ``Sequence[...]`` or a class name, matched by name in the value's MRO)."""
    if kind == "None":
        return value is None
    if kind == "int":
        return _is_int(value)
    if kind == "float":
        return _is_real(value)
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, (bool, np.bool_))
    if kind.startswith(("Sequence[", "tuple[", "list[")):
        return _is_sequence(value, kind[kind.index("[") + 1 : -1].split(",")[0].strip())
    if kind == "LayerTable" and isinstance(value, os.PathLike):
        return True
    return any(cls.__name__ == kind for cls in type(value).__mro__)


def check_options(problem_cls: type, options: Mapping[str, Any]) -> None:
    """Refuse an option ``problem_cls.__init__`` does not take, or a value not of its annotation.

    Raises:
        ValueError: naming the option, the value and the expected type (or the known options).
    """
    params = {name: p for name, p in inspect.signature(problem_cls.__init__).parameters.items()
              if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    unknown = sorted(set(options) - set(params), key=str)
    if unknown:
        raise ValueError(f"option(s) {unknown} are not known to {problem_cls.__name__}; expected some of {sorted(params)}")
    for name, value in options.items():
        annotation = params[name].annotation
        if not isinstance(annotation, str) or annotation is inspect.Parameter.empty:
            continue
        kinds = [k.strip() for k in annotation.split("|")]
        if not any(_matches(value, kind) for kind in kinds):
            raise ValueError(f"option {name}={value!r}; expected {' or '.join(_words(k) for k in kinds)}")


def _words(kind: str) -> str:
    """An annotation term in words (``int`` -> ``an integer (not a bool)``)."""
    words = {"int": "an integer (not a bool)", "float": "a number (not a bool or NaN)", "str": "a string", "None": "None",
             "bool": "a bool"}
    if kind in words:
        return words[kind]
    if "[" in kind:
        return f"a list of {_words(kind[kind.index('[') + 1 : -1]).removeprefix('an ').removeprefix('a ')}s"
    return f"a {kind}"


def make_problem(problem_cls: type, problem: Any, options: Mapping[str, Any]) -> Any:
    """``problem`` when given (a built ``problem_cls``, or a wrapper with its ``evaluate`` and
    ``space``), else ``problem_cls(**options)`` after
    :func:`check_options`; what an env's ``__init__`` builds its problem with.

    Raises:
        ValueError: ``problem`` is not a problem, or an option is unknown or of the wrong type.
    """
    if problem is not None:
        if not isinstance(problem, problem_cls) and not (hasattr(problem, "evaluate") and hasattr(problem, "space")):
            raise ValueError(f"problem={problem!r}; expected a {problem_cls.__name__} (or keyword options to build one)")
        return problem
    check_options(problem_cls, options)
    return problem_cls(**options)
