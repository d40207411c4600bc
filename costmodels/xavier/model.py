"""Latency and energy of work segments on the Jetson AGX Xavier at chosen DVFS levels (vectorized).

Per segment (a block, an exit head, ...) with ``flops``, ``bytes`` and ``layers``
(:mod:`.backbones`):

- GPU compute time ``t_c = flops / (eta_c * 1024 * f_gpu * tpc)`` (FP32 FLOPs per cycle of the
  512 CUDA cores, ``tpc`` the fraction of TPCs the power mode leaves on);
- memory time ``t_m = bytes / (eta_m * 64 * f_emc)`` (64 bytes per EMC clock);
- CPU-side time ``t_cpu = layers * tau * f_cpu_max / f_cpu`` (per-layer launch and framework work
  on the CPU, in 1/f_CPU);
- latency ``t = max(t_c, t_m) + t_cpu`` (a roofline per segment plus the CPU term).

Power: ``P_static`` all the time, plus per domain a dynamic power ``p_d * s(f_d)`` while the
domain is busy (GPU during ``t_c``, EMC/DRAM during ``t_m``, CPU during ``t_cpu``), so the energy
of a segment is ``P_static t + p_gpu s(f_gpu) t_c + p_emc s(f_emc) t_m + p_cpu s(f_cpu) t_cpu``.
``s(f) = (V(f) / V(f_max))^2 * f / f_max`` is the CMOS dynamic-power scaling; no voltage table of
the Xavier is published, so ``V(f)`` is an **assumed** curve (:class:`VoltageCurve`).

``eta_c, eta_m, tau`` and ``P_static, p_gpu, p_emc, p_cpu`` are fitted on measured AGX rows at
one power mode (:mod:`.fit`, stored in ``data/fit_agx.json``). The frequency dependence is the
model's: no shipped measurement validates it across frequencies.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from importlib import resources
from typing import NamedTuple

import numpy as np

from codesign_gym.costmodels.xavier.board import XavierBoard, load_board

VOLTAGE_CURVES = ("linear", "constant", "proportional")


@dataclasses.dataclass(frozen=True)
class VoltageCurve:
    """Assumed supply voltage vs frequency, relative to the voltage at the highest level.

    ``linear``: ``V/V_max = floor + (1 - floor) * (f - f_min) / (f_max - f_min)`` per domain
    (``floor`` = V at the lowest level over V at the highest); ``constant``: V fixed (dynamic
    power ~ f, the least DVFS can save); ``proportional``: V ~ f (dynamic power ~ f^3, the most).
    """

    kind: str = "linear"
    floor: float = 0.6

    def __post_init__(self):
        if self.kind not in VOLTAGE_CURVES:
            raise ValueError(f"voltage curve {self.kind!r} is not known; expected one of {VOLTAGE_CURVES}")
        if not 0.0 < self.floor <= 1.0:
            raise ValueError(f"voltage floor {self.floor!r}: expected a ratio in (0, 1]")

    def dynamic_scale(self, f, f_min: float, f_max: float) -> np.ndarray:
        """``(V(f)/V_max)^2 * f/f_max`` for frequencies ``f`` (MHz, any shape)."""
        r = np.asarray(f, dtype=np.float64) / f_max
        if self.kind == "constant":
            v = np.ones_like(r)
        elif self.kind == "proportional":
            v = r
        else:
            v = self.floor + (1.0 - self.floor) * (np.asarray(f, dtype=np.float64) - f_min) / (f_max - f_min)
        return v * v * r


@dataclasses.dataclass(frozen=True)
class XavierParams:
    """Fitted parameters (``data/fit_agx.json``): efficiencies (fractions of peak), ``tau_s`` CPU
    seconds per layer at the highest CPU level, powers in W."""

    eta_compute: float
    eta_memory: float
    tau_s: float
    p_static_w: float
    p_gpu_w: float
    p_emc_w: float
    p_cpu_w: float


@functools.lru_cache(maxsize=1)
def stored_fit() -> dict:
    """The stored fit (parameters, provenance, held-out errors) as written by :mod:`.fit`."""
    path = resources.files("codesign_gym.costmodels.xavier").joinpath("data", "fit_agx.json")
    return json.loads(path.read_text())


def load_params() -> XavierParams:
    """The fitted parameters of ``data/fit_agx.json``."""
    p = stored_fit()["params"]
    return XavierParams(**{f.name: float(p[f.name]) for f in dataclasses.fields(XavierParams)})


@functools.lru_cache(maxsize=1)
def stored_assumptions() -> dict:
    """``data/assumptions.json``: the documented assumptions (voltage curve, measurement mode)."""
    path = resources.files("codesign_gym.costmodels.xavier").joinpath("data", "assumptions.json")
    return json.loads(path.read_text())


def default_voltage_curve() -> VoltageCurve:
    a = stored_assumptions()["voltage_curve"]
    return VoltageCurve(a["kind"], float(a["floor"]))


class SegmentCost(NamedTuple):
    """Per segment, arrays of the broadcast shape: ``time_s`` latency, ``compute_s`` / ``memory_s``
    / ``cpu_s`` busy time of each domain, ``energy_j``."""

    time_s: np.ndarray
    compute_s: np.ndarray
    memory_s: np.ndarray
    cpu_s: np.ndarray
    energy_j: np.ndarray


def segment_times(flops, nbytes, layers, f_gpu_mhz, f_emc_mhz, f_cpu_mhz, params: XavierParams,
                  board: XavierBoard | None = None, tpc_fraction=1.0):
    """``(t_c, t_m, t_cpu)`` in s (module docstring); every argument broadcasts."""
    board = board or load_board()
    flops = np.asarray(flops, dtype=np.float64)
    t_c = flops / (params.eta_compute * board.gpu_flops_per_cycle * np.asarray(f_gpu_mhz, dtype=np.float64) * 1e6
                   * np.asarray(tpc_fraction, dtype=np.float64))
    t_m = np.asarray(nbytes, dtype=np.float64) / (params.eta_memory * board.emc_bytes_per_cycle * np.asarray(f_emc_mhz, dtype=np.float64) * 1e6)
    t_cpu = np.asarray(layers, dtype=np.float64) * params.tau_s * board.max_mhz("cpu") / np.asarray(f_cpu_mhz, dtype=np.float64)
    return t_c, t_m, t_cpu


def segment_cost(flops, nbytes, layers, f_gpu_mhz, f_emc_mhz, f_cpu_mhz, params: XavierParams | None = None,
                 voltage: VoltageCurve | None = None, board: XavierBoard | None = None, tpc_fraction=1.0) -> SegmentCost:
    """Latency and energy of segments (module docstring). Frequencies in MHz; broadcasts."""
    board = board or load_board()
    params = params or load_params()
    voltage = voltage or default_voltage_curve()
    t_c, t_m, t_cpu = segment_times(flops, nbytes, layers, f_gpu_mhz, f_emc_mhz, f_cpu_mhz, params, board, tpc_fraction)
    t = np.maximum(t_c, t_m) + t_cpu
    lv = board.levels_mhz
    s_g = voltage.dynamic_scale(f_gpu_mhz, lv["gpu"][0], lv["gpu"][-1])
    s_e = voltage.dynamic_scale(f_emc_mhz, lv["emc"][0], lv["emc"][-1])
    s_c = voltage.dynamic_scale(f_cpu_mhz, lv["cpu"][0], lv["cpu"][-1])
    energy = params.p_static_w * t + params.p_gpu_w * s_g * t_c + params.p_emc_w * s_e * t_m + params.p_cpu_w * s_c * t_cpu
    return SegmentCost(t, t_c, t_m, t_cpu, energy)
