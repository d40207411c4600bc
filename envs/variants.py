"""Registered variants that need no kwargs, for RL code that passes nothing but an id.

One table, :data:`VARIANTS`: each variant is a base environment with options and, where its
joint action space is small, :class:`~codesign_gym.envs.wrappers.FlattenMultiDiscrete`
(``Discrete(prod(nvec))``); where it is too large to flatten, the base env's ``sequential`` mode
(one entry per step from one ``Discrete`` space). Every variant has a ``Discrete`` action space
and a ``Box`` observation, and a native vector env (:func:`flattened_vector_env` or the base's).
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Variant(NamedTuple):
    """A registered variant: ``id``, the ``base`` id, the base's ``options`` and whether its
    actions are ``flattened`` (else the options give a Discrete space already)."""

    id: str
    base: str
    options: dict
    flattened: bool


#: Every registered variant.
VARIANTS: tuple[Variant, ...] = (
    Variant("codesign/ResourceAssignment-Discrete-v0", "codesign/ResourceAssignment-v0", {}, True),
    Variant("codesign/BatchSizePowerLimit-Discrete-v0", "codesign/BatchSizePowerLimit-v0", {}, True),
    Variant("codesign/PatchInference-Discrete-v0", "codesign/PatchInference-v0", {}, True),
    Variant("codesign/EarlyExitDVFS-Discrete-v0", "codesign/EarlyExitDVFS-v0", {"mode": "sequential"}, False),
    Variant("codesign/NASAccelerator-Discrete-v0", "codesign/NASAccelerator-v0", {"mode": "sequential"}, False),
)


def _base_classes(base: str) -> tuple[type, type]:
    """The (single env, vector env) classes of the registered base id ``base``."""
    from codesign_gym.envs.registration import env_classes

    return env_classes(base)


def flattened_env(base: str, **options: Any):
    """The single env of ``base`` built with ``options``, its actions flattened to ``Discrete``."""
    from codesign_gym.envs.wrappers import FlattenMultiDiscrete

    return FlattenMultiDiscrete(_base_classes(base)[0](**options))


def flattened_vector_env(base: str, num_envs: int = 1, **options: Any):
    """The native vector env of ``base`` (``num_envs`` sub-envs, ``options`` incl. ``autoreset_mode``),
    its actions flattened to ``Discrete``."""
    from codesign_gym.envs.wrappers import VectorFlattenMultiDiscrete

    return VectorFlattenMultiDiscrete(_base_classes(base)[1](num_envs=num_envs, **options))


__all__ = ["VARIANTS", "Variant", "flattened_env", "flattened_vector_env"]
