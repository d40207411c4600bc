"""Registers every environment under the ``codesign/`` namespace when ``codesign_gym.envs`` is imported.

Each entry names a single-env class and a natively batched vector env class, so both
``gymnasium.make(id)`` and ``gymnasium.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")``
work. RLlib's env runners can use ``"codesign_gym.envs:codesign/<Name>-v0"``: gymnasium imports
the module before the id is looked up.
"""

from __future__ import annotations

import gymnasium as gym

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

#: Every registered environment id.
ENV_IDS: tuple[str, ...] = tuple(entry[0] for entry in _ENVIRONMENTS)


def problem_class(env_id: str) -> type:
    """The :class:`~codesign_gym.envs.problem.Problem` class the environment ``env_id`` is built on."""
    import importlib

    for entry in _ENVIRONMENTS:
        if entry[0] == env_id:
            return getattr(importlib.import_module(entry[1]), entry[4])
    raise ValueError(f"environment {env_id!r} is not registered; expected one of {list(ENV_IDS)}")


def register_all() -> None:
    """Register the package's environments with gymnasium (idempotent)."""
    for env_id, module, single, vector, _problem in _ENVIRONMENTS:
        if env_id in gym.registry:
            continue
        gym.register(id=env_id, entry_point=f"{module}:{single}", vector_entry_point=f"{module}:{vector}")
