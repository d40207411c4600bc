"""Loop-nest cost model with Timeloop semantics (v3), vectorized over mappings.

A problem (:mod:`.problem`), an architecture of storage levels plus compute
(:mod:`.architecture`) and a batch of mappings (:mod:`.mapping`) go in; cycles, per-level
reads / fills / updates, dynamic energy and validity come out (:func:`.model.evaluate`).
Timeloop v0.4 inputs are read by :mod:`.timeloop_yaml`; per-action energies come from the
shipped Accelergy tables (:mod:`.energy_tables`).
"""

from .architecture import ActionEnergy, Architecture, ComputeLevel, StorageLevel
from .mapping import Mapping, mapping_from_levels
from .model import LoopNestResult, evaluate
from .problem import DataSpace, Problem, conv_problem, problem_from_layer
from .summary import summary_dict, summary_text
from .timeloop_yaml import TimeloopSpec, read_ert, read_spec

__all__ = [
    "ActionEnergy", "Architecture", "ComputeLevel", "DataSpace", "LoopNestResult", "Mapping", "Problem", "StorageLevel",
    "TimeloopSpec", "conv_problem", "evaluate", "mapping_from_levels", "problem_from_layer", "read_ert", "read_spec",
    "summary_dict", "summary_text",
]
