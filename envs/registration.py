"""Registers every environment under the ``codesign/`` namespace when ``codesign_gym.envs`` is imported.

The base environments (:data:`ENV_IDS`) and their no-kwargs ``Discrete`` variants
(:data:`VARIANT_IDS`, :mod:`codesign_gym.envs.variants`). Each entry names a single-env class
and a natively batched vector env class, so both
``gymnasium.make(id)`` and ``gymnasium.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")``
work. RLlib's env runners can use ``"codesign_gym.envs:codesign/<Name>-v0"``: gymnasium imports
the module before the id is looked up.
"""

from __future__ import annotations

import importlib

import gymnasium as gym

from codesign_gym.envs.variants import VARIANTS

#: (id, module, single-env class, vector-env class, Problem class) of every environment in the package.
_ENVIRONMENTS: tuple[tuple[str, str, str, str, str], ...] = (
    ("codesign/ResourceAssignment-v0", "codesign_gym.envs.resource_assignment", "ResourceAssignmentEnv", "ResourceAssignmentVectorEnv",
     "ResourceAssignmentProblem"),
    ("codesign/BatchSizePowerLimit-v0", "codesign_gym.envs.batch_size_power_limit", "BatchSizePowerLimitEnv", "BatchSizePowerLimitVectorEnv",
     "BatchSizePowerLimitProblem"),
    ("codesign/PatchInference-v0", "codesign_gym.envs.patch_inference", "PatchInferenceEnv", "PatchInferenceVectorEnv", "PatchInferenceProblem"),
    ("codesign/EarlyExitDVFS-v0", "codesign_gym.envs.early_exit_dvfs", "EarlyExitDVFSEnv", "EarlyExitDVFSVectorEnv", "EarlyExitDVFSProblem"),
    ("codesign/NASAccelerator-v0", "codesign_gym.envs.nas_accelerator", "NASAcceleratorEnv", "NASAcceleratorVectorEnv", "NASAcceleratorProblem"),
)

#: Every base environment id (one Problem class each).
ENV_IDS: tuple[str, ...] = tuple(entry[0] for entry in _ENVIRONMENTS)
#: Every variant id: a base environment in a ``Discrete`` form that needs no kwargs.
VARIANT_IDS: tuple[str, ...] = tuple(variant.id for variant in VARIANTS)
#: Every registered id.
ALL_IDS: tuple[str, ...] = ENV_IDS + VARIANT_IDS


def _entry(env_id: str) -> tuple[str, str, str, str, str]:
    """The :data:`_ENVIRONMENTS` entry of a base id or of a variant's base."""
    base = next((v.base for v in VARIANTS if v.id == env_id), env_id)
    for entry in _ENVIRONMENTS:
        if entry[0] == base:
            return entry
    raise ValueError(f"environment {env_id!r} is not registered; expected one of {list(ALL_IDS)}")


def problem_class(env_id: str) -> type:
    """The :class:`~codesign_gym.envs.problem.Problem` class the environment ``env_id`` (a base id
    or a variant) is built on."""
    entry = _entry(env_id)
    return getattr(importlib.import_module(entry[1]), entry[4])


def env_classes(env_id: str) -> tuple[type, type]:
    """The (single env, native vector env) classes of the base id ``env_id`` (or of a variant's base)."""
    entry = _entry(env_id)
    module = importlib.import_module(entry[1])
    return getattr(module, entry[2]), getattr(module, entry[3])


def register_all() -> None:
    """Register the package's environments and their variants with gymnasium (idempotent)."""
    for env_id, module, single, vector, _problem in _ENVIRONMENTS:
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=f"{module}:{single}", vector_entry_point=f"{module}:{vector}")
    for variant in VARIANTS:
        if variant.id in gym.registry:
            continue
        if variant.flattened:
            gym.register(id=variant.id, entry_point="codesign_gym.envs.variants:flattened_env",
                         vector_entry_point="codesign_gym.envs.variants:flattened_vector_env", kwargs={"base": variant.base, **variant.options})
        else:
            _, module, single, vector, _problem = _entry(variant.base)
            gym.register(id=variant.id, entry_point=f"{module}:{single}", vector_entry_point=f"{module}:{vector}", kwargs=dict(variant.options))
