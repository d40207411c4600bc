"""Every Method by name: ``make_method(name, **options)``.

A runner hands each method only the options its constructor takes
(:func:`method_option_names`), so one experiment spec can carry options of several methods
(``batch_size`` for searches, ``outer_population`` for HADAS, ``rllib`` for RLlib training).
Modules are imported on first use: naming a method loads neither Ray nor optuna.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from typing import Any, Callable

from codesign_gym.agents.method import Method

#: name -> ("module:attribute", fixed keyword arguments) of the method's factory.
_FACTORIES: dict[str, tuple[str, dict[str, Any]]] = {
    **{name: ("codesign_gym.agents.search.base:Search", {"name": name})
       for name in ("random", "genetic", "annealing", "bayesian", "evolution", "cmaes")},
    "exact": ("codesign_gym.agents.exact:ExactMethod", {}),
    "model_based": ("codesign_gym.agents.model_based:ModelBased", {}),
    **{name: ("codesign_gym.agents.zeus:ZeusMethod", {"policy": name}) for name in ("zeus", "default", "grid", "oracle")},
    "hadas": ("codesign_gym.agents.hadas:NestedNSGA2Method", {}),
    "reinforce": ("codesign_gym.agents.rllib.method:RLlibMethod", {"algorithm": "reinforce"}),
    "ppo": ("codesign_gym.agents.rllib.method:RLlibMethod", {"algorithm": "ppo"}),
    "rl_ga": ("codesign_gym.agents.rllib.method:RLThenGA", {}),
}

#: Every method name.
METHOD_NAMES: tuple[str, ...] = tuple(_FACTORIES)


def _factory(name: str) -> tuple[Callable[..., Method], dict[str, Any]]:
    if name not in _FACTORIES:
        raise ValueError(f"method {name!r} is not known; expected one of {sorted(_FACTORIES)}")
    path, fixed = _FACTORIES[name]
    module, attr = path.split(":")
    return getattr(importlib.import_module(module), attr), fixed


@functools.lru_cache(maxsize=None)
def method_option_names(name: str) -> frozenset[str]:
    """The keyword options method ``name`` takes (its constructor's, less the fixed ones)."""
    factory, fixed = _factory(name)
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return frozenset(p.name for p in inspect.signature(factory).parameters.values() if p.kind in named and p.name not in fixed)


def make_method(name: str, **options: Any) -> Method:
    """Method ``name`` built with those of ``options`` it takes (others are ignored; see the module docstring)."""
    factory, fixed = _factory(name)
    accepted = method_option_names(name)
    return factory(**fixed, **{k: v for k, v in options.items() if k in accepted})


def check_methods(names) -> tuple[str, ...]:
    """``names`` as a tuple after checking each is known."""
    names = tuple(names)
    if not names:
        raise ValueError("no methods given; expected at least one of " + ", ".join(METHOD_NAMES))
    unknown = [n for n in names if n not in _FACTORIES]
    if unknown:
        raise ValueError(f"method(s) {unknown} not known; expected some of {sorted(_FACTORIES)}")
    return names
