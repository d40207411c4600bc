"""Workloads: DNNs as layer tables (one row per layer; see :mod:`.layer_table` for conventions).

* :func:`get_workload` resolves a zoo name (``"mobilenet_v2"``, the real network), a
  ConfuciuX table (``"cfx/mobilenet_v2"``, stride-less as ConfuciuX ran it), a CSV path, or a
  :class:`LayerTable`; :func:`list_workloads` lists the names.
* :mod:`.nb201`: NAS-Bench-201's 15,625 cells with their real test accuracies, each expanded
  into its exact network (``get_workload("nb201/11472/cifar10")``), and whole-space op counts.
* :mod:`.zoo` builds real networks from code (numpy only); :mod:`.cfx` loads ConfuciuX's files;
  :mod:`.io` reads and writes CSV layer files; :func:`trace` (torch, imported lazily) turns any
  ``torch.nn.Module`` into a table.
"""

from . import nb201
from .cfx import list_cfx, load_cfx
from .io import format_layer_csv, load_layer_csv, parse_layer_csv, save_layer_csv
from .layer_table import (
    INT_COLUMNS,
    NO_RESIDUAL,
    RESIDUAL_FROM_INPUT,
    LayerTable,
    LayerTableError,
    LayerType,
    from_maestro_dims,
)
from .registry import get_workload, list_workloads
from .zoo import ZOO, alexnet, bert_base_layer, mnasnet, mobilenet_v2, resnet18, resnet50, squeezenet, vgg16


def trace(module, input_shape, name=None):
    """Layer table of a ``torch.nn.Module``; see :func:`.tracer.trace` (imports torch on first use)."""
    from .tracer import trace as _trace

    return _trace(module, input_shape, name=name)


__all__ = [
    "INT_COLUMNS", "NO_RESIDUAL", "RESIDUAL_FROM_INPUT", "LayerTable", "LayerTableError", "LayerType",
    "ZOO", "alexnet", "bert_base_layer", "format_layer_csv", "from_maestro_dims", "get_workload",
    "list_cfx", "list_workloads", "load_cfx", "load_layer_csv", "mnasnet", "mobilenet_v2", "nb201",
    "parse_layer_csv", "resnet18", "resnet50", "save_layer_csv", "squeezenet", "trace", "vgg16",
]
