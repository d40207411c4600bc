"""Vectorized MAESTRO-semantics dataflow cost model.

>>> from codesign_gym.costmodels.dataflow import evaluate, Hardware
>>> r = evaluate({"type": "CONV", "K": 64, "C": 64, "Y": 56, "X": 56, "R": 3, "S": 3},
...              Hardware(num_pes=256, noc_bw=64), "kcp")
>>> int(r.runtime_cycles) > 0
True

Modules: :mod:`.directives` (directive data + MAESTRO text parser), :mod:`.templates` (built-in
dataflows), :mod:`.analysis` (the vectorized MAESTRO analysis), :mod:`.plan` / :mod:`._trace` (the
analysis traced once per dataflow and compiled to straight-line array code), :mod:`.hardware` (design record,
area / power), :mod:`.energy`, :mod:`.model` (``evaluate``), :mod:`.predict` (CSV in / out),
:mod:`.bench` (throughput benchmark), :mod:`._xp` (numpy / torch shim).
"""

from .directives import Cluster, Directive, SpatialMap, Sz, TemporalMap, format_dataflow, parse_dataflow
from .hardware import CONFUCIUX_NOC_BW, DEFAULT_NOC_BW, DEFAULT_OFFCHIP_BW, Hardware, area, power
from .model import COUNT_FIELDS, CountOverflowError, DataflowResult, evaluate, evaluate_chunked
from .templates import ALIASES, DATAFLOWS, TEMPLATES, get_template

__all__ = [
    "ALIASES", "CONFUCIUX_NOC_BW", "COUNT_FIELDS", "Cluster", "CountOverflowError", "DATAFLOWS", "DEFAULT_NOC_BW", "DEFAULT_OFFCHIP_BW",
    "DataflowResult", "Directive", "Hardware", "SpatialMap", "Sz", "TEMPLATES", "TemporalMap", "area", "evaluate",
    "evaluate_chunked", "format_dataflow", "get_template", "parse_dataflow", "power",
]
