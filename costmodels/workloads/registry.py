"""Look workloads up by name: zoo networks, ConfuciuX tables, CSV files, or tables as given."""

from __future__ import annotations

import os
from pathlib import Path

from .cfx import PREFIX as CFX_PREFIX
from .cfx import list_cfx, load_cfx
from .io import load_layer_csv
from .layer_table import LayerTable
from .nb201 import PREFIX as NB201_PREFIX
from .nb201 import load_nb201_workload
from .zoo import ZOO


def list_workloads() -> list[str]:
    """All names :func:`get_workload` accepts besides paths: zoo names, then ``cfx/<name>``.

    The 15,625 x 3 NAS-Bench-201 networks (``nb201/<index>/<dataset>``) are accepted but not
    listed; see :mod:`.nb201`."""
    return sorted(ZOO) + list_cfx()


def get_workload(name: "str | os.PathLike | LayerTable") -> LayerTable:
    """Resolve a workload to a :class:`LayerTable`.

    Args:
        name: a zoo name (``"mobilenet_v2"``: the real network, padding, strides, residual
            edges), ``"cfx/<name>"`` (ConfuciuX's stride-less layer file), a path to a CSV file
            (our format or ConfuciuX's, see :mod:`.io`; a ``str`` ending in ``.csv`` or naming
            an existing file, or any ``os.PathLike``), ``"nb201/<index>/<dataset>"`` (the
            NAS-Bench-201 network of a cell, index 0..15624 or a cell string, dataset
            ``cifar10``, ``cifar100`` or ``ImageNet16-120``; see :mod:`.nb201`), or a
            ``LayerTable`` (returned as is).

    Raises:
        ValueError: an unknown name; the message lists the available names.
        FileNotFoundError: a ``.csv`` path that does not exist.
    """
    if isinstance(name, LayerTable):
        return name
    if isinstance(name, os.PathLike):
        return load_layer_csv(name)
    if not isinstance(name, str):
        raise TypeError(f"workload must be a name, a CSV path or a LayerTable; got {type(name).__name__}")
    if name in ZOO:
        return ZOO[name]()
    if name.startswith(CFX_PREFIX) and name in list_cfx():
        return load_cfx(name)
    if name.startswith(NB201_PREFIX):
        return load_nb201_workload(name)
    if name.lower().endswith(".csv") or Path(name).is_file():
        return load_layer_csv(name)
    raise ValueError(f"unknown workload {name!r}; expected one of {', '.join(list_workloads())}, "
                     f"'nb201/<index>/<dataset>', a path to a .csv layer file, or a LayerTable")
