"""Look workloads up by name: zoo networks, ConfuciuX tables, CSV files, or tables as given."""

from __future__ import annotations

import os
from pathlib import Path

from .cfx import PREFIX as CFX_PREFIX
from .cfx import list_cfx, load_cfx
from .io import load_layer_csv
from .layer_table import LayerTable
from .zoo import ZOO


def list_workloads() -> list[str]:
    """All names :func:`get_workload` accepts besides paths: zoo names, then ``cfx/<name>``."""
    return sorted(ZOO) + list_cfx()


def get_workload(name: "str | os.PathLike | LayerTable") -> LayerTable:
    """Resolve a workload to a :class:`LayerTable`.

    Args:
        name: a zoo name (``"mobilenet_v2"``: the real network, padding, strides, residual
            edges), ``"cfx/<name>"`` (ConfuciuX's stride-less layer file), a path to a CSV file
            (our format or ConfuciuX's, see :mod:`.io`; a ``str`` ending in ``.csv`` or naming
            an existing file, or any ``os.PathLike``), or a ``LayerTable`` (returned as is).

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
    if name.lower().endswith(".csv") or Path(name).is_file():
        return load_layer_csv(name)
    raise ValueError(f"unknown workload {name!r}; expected one of {', '.join(list_workloads())}, "
                     f"a path to a .csv layer file, or a LayerTable")
