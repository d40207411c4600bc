"""ConfuciuX's resource-assignment platform as cost tables: every layer priced at every action.

ConfuciuX (Kao et al., MICRO 2020) gives each layer of a DNN a number of PEs and a buffer level
on a spatial accelerator with a fixed dataflow. Its actions per layer (from its source,
``src/utils/get_action_space.py``) are a PE level from :data:`CFX_PE_LEVELS` and a buffer
level from :data:`CFX_BUFFER_LEVELS`, which becomes the dataflow's ``KTileSz`` while
``ClusterSz`` equals the PE count. MAESTRO is run with ConfuciuX's flags
(:data:`CFX_HARDWARE`). The objective is the sum of per-layer costs and the platform budget
applies to the sum of per-layer areas (or powers).

Because the per-layer cost does not depend on the other layers' actions, one vectorized call
of the dataflow model prices the whole ``layers x PE levels x buffer levels`` grid up front;
an environment step or a search evaluation is then an index into these tables.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from codesign_gym.costmodels.dataflow import CONFUCIUX_NOC_BW, DEFAULT_OFFCHIP_BW, Hardware, evaluate
from codesign_gym.costmodels.workloads import LayerTable

#: PE counts ConfuciuX offers per layer.
CFX_PE_LEVELS: tuple[int, ...] = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128)
#: Buffer levels ConfuciuX offers per layer (the dataflow's KTileSz).
CFX_BUFFER_LEVELS: tuple[int, ...] = tuple(range(1, 13))
#: MAESTRO flags ConfuciuX runs with (``--noc_bw_cstr=81920000 --noc_hops=1 --noc_hop_latency=1``),
#: off-chip bandwidth at MAESTRO's default as in the reference outputs. Units: elements/cycle, cycles.
CFX_HARDWARE = dict(noc_bw=CONFUCIUX_NOC_BW, offchip_bw=DEFAULT_OFFCHIP_BW, noc_latency=1)

#: Objectives that are sums of per-layer costs, and the table field each one sums.
SEPARABLE_OBJECTIVES = {"latency": "runtime_cycles", "energy": "energy_pj"}
OBJECTIVES = ("latency", "energy", "edp")
CONSTRAINTS = ("area", "power")


@dataclasses.dataclass(frozen=True)
class LayerCostTable:
    """Per-layer costs at every (PE level, buffer level); every array has shape ``(L, P, B)``.

    ``runtime_cycles`` in cycles, ``energy_pj`` in pJ (MAESTRO's total energy: MACs, L1 and L2
    terms), ``area`` and ``power`` in MAESTRO's units, ``macs`` as the mapping performs them.
    """

    pe_levels: np.ndarray  # (P,) int64
    buffer_levels: np.ndarray  # (B,) int64
    runtime_cycles: np.ndarray
    energy_pj: np.ndarray
    area: np.ndarray
    power: np.ndarray
    macs: np.ndarray

    @property
    def num_layers(self) -> int:
        return int(self.runtime_cycles.shape[0])

    def metric(self, name: str) -> np.ndarray:
        """The ``(L, P, B)`` table of a metric: ``latency``/``runtime_cycles``, ``energy``/``energy_pj``,
        ``area`` or ``power``."""
        field = SEPARABLE_OBJECTIVES.get(name, name)
        if field not in ("runtime_cycles", "energy_pj", "area", "power", "macs"):
            raise ValueError(f"metric {name!r} is not known; expected latency, energy, area, power or macs")
        return getattr(self, field)


def layer_cost_table(
    layers: LayerTable,
    dataflow: str,
    pe_levels: Sequence[int] = CFX_PE_LEVELS,
    buffer_levels: Sequence[int] = CFX_BUFFER_LEVELS,
    noc_bw: float = CFX_HARDWARE["noc_bw"],
    offchip_bw: float = CFX_HARDWARE["offchip_bw"],
    noc_latency: float = CFX_HARDWARE["noc_latency"],
) -> LayerCostTable:
    """Price every layer at every (PE, buffer) level in one vectorized dataflow-model call."""
    pes = _levels("pe_levels", pe_levels)
    bufs = _levels("buffer_levels", buffer_levels)
    if len(layers) == 0:
        raise ValueError("the layer table is empty; expected at least one layer")
    shape = (len(layers), pes.size, bufs.size)
    cols = {c: getattr(layers, c)[:, None, None] for c in ("type", "K", "C", "Y", "X", "R", "S", "stride", "padding", "groups")}
    hw = Hardware(
        num_pes=pes[None, :, None],
        ktile=bufs[None, None, :],
        noc_bw=noc_bw,
        offchip_bw=offchip_bw,
        noc_latency=noc_latency,
    )
    res = evaluate(cols, hw, dataflow)

    def full(a) -> np.ndarray:
        return np.broadcast_to(np.asarray(a), shape).copy()

    return LayerCostTable(
        pe_levels=pes,
        buffer_levels=bufs,
        runtime_cycles=full(res.runtime_cycles).astype(np.float64),
        energy_pj=full(res.energy_pj).astype(np.float64),
        area=full(res.area).astype(np.float64),
        power=full(res.power).astype(np.float64),
        macs=full(res.macs).astype(np.float64),
    )


@dataclasses.dataclass(frozen=True)
class Budget:
    """A platform budget on the summed per-layer ``kind`` (area or power): ``value = low + ratio*(high - low)``."""

    kind: str
    ratio: float
    value: float
    low: float
    high: float


def corner_budget(table: LayerCostTable, kind: str = "area", ratio: float = 0.5) -> Budget:
    """ConfuciuX's budget: the whole model at the four corner actions (PE, buffer) =
    (max, max), (min, min), (max, min), (min, max) gives ``low`` and ``high`` of the summed
    ``kind``; the budget is ``low + ratio * (high - low)``."""
    if kind not in CONSTRAINTS:
        raise ValueError(f"constraint kind {kind!r} is not known; expected one of {CONSTRAINTS}")
    if not (isinstance(ratio, (int, float, np.integer, np.floating)) and not isinstance(ratio, bool) and 0.0 < float(ratio) <= 1.0):
        raise ValueError(f"constraint ratio {ratio!r} is out of range; expected 0 < ratio <= 1")
    metric = table.metric(kind)
    p_hi, b_hi = int(np.argmax(table.pe_levels)), int(np.argmax(table.buffer_levels))
    p_lo, b_lo = int(np.argmin(table.pe_levels)), int(np.argmin(table.buffer_levels))
    corners = [metric[:, p, b].sum() for p, b in ((p_hi, b_hi), (p_lo, b_lo), (p_hi, b_lo), (p_lo, b_hi))]
    low, high = float(min(corners)), float(max(corners))
    return Budget(kind=kind, ratio=float(ratio), value=low + float(ratio) * (high - low), low=low, high=high)


def _levels(name: str, values: Sequence[int]) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D list of positive integers; got {values!r}")
    if arr.dtype.kind not in "iu" or np.any(arr < 1):
        raise ValueError(f"{name} must hold positive integers; got {arr.tolist()}")
    return arr.astype(np.int64)
