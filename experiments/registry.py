"""Every experiment by name: each lives in its own package under ``experiments/`` and defines
``EXPERIMENT``, an :class:`~codesign_gym.experiments.runner.spec.ExperimentDef`."""

from __future__ import annotations

import importlib

from codesign_gym.experiments.runner.spec import ExperimentDef

#: name -> the package that defines it.
EXPERIMENT_MODULES: dict[str, str] = {
    "confuciux": "codesign_gym.experiments.confuciux",
    "zeus": "codesign_gym.experiments.zeus",
    "mcunet": "codesign_gym.experiments.mcunet",
    "hadas": "codesign_gym.experiments.hadas",
    "naas": "codesign_gym.experiments.naas",
}
EXPERIMENT_NAMES: tuple[str, ...] = tuple(EXPERIMENT_MODULES)


def get_experiment(name: str) -> ExperimentDef:
    """The experiment called ``name``."""
    if name not in EXPERIMENT_MODULES:
        raise ValueError(f"experiment {name!r} is not known; expected one of {list(EXPERIMENT_MODULES)}")
    return importlib.import_module(EXPERIMENT_MODULES[name]).EXPERIMENT
