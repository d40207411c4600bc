"""Latency and energy of work segments on the Jetson AGX Xavier at chosen DVFS levels (vectorized).

A segment (a block, an exit head, ...) is a row of :data:`WORK` columns: ``flops``,
``weight_bytes`` (conv and BN parameters, FP32), ``fc_bytes`` (linear-layer parameters),
``activation_bytes`` (every layer's output, FP32), ``input_bytes`` (the image the host copies in)
and ``layers`` (:mod:`.backbones` counts them as the measured rows do).

**Latency** (s), additive over the segment's parts, each at its own clock:

- ``t_cpu = tau * layers * f_cpu,max / f_cpu``: per-layer framework and launch work on the CPU;
- ``t_c = flops / (eta_c * 1024 * f_gpu * tpc)``: GPU arithmetic (1024 FP32 FLOPs per cycle,
  ``tpc`` the fraction of TPCs the power mode leaves on);
- ``t_w, t_fc, t_a, t_in = bytes / (eta_x * 64 * f_emc)``: DRAM traffic of the conv weights, the
  linear weights, the activations and the input copy (64 bytes per EMC clock), each with its own
  achieved fraction ``eta_x`` of the peak;
- ``t = t_cpu + t_c + t_w + t_fc + t_a + t_in``.

**Power rails** (the INA3221 channels of the module: GPU, CPU, SOC, DDR (VDDRQ), and the rest):

- GPU rail, fitted on measured GPU-rail power: while a segment runs, the GPU draws
  ``P_idle * v + (P_active - P_idle) * v^2 * (f_gpu / f_gpu,max) * tpc`` (leakage ~ V, clocking
  ~ V^2 f) plus ``v^2 * (e_flop * flops + e_byte * activation_bytes)`` of switching energy, with
  ``v = V(f_gpu) / V(f_gpu,max)``;
- the other module rails (CPU, SOC, DDR, rest), not in the measured rows: a total ``P_other`` at
  the highest levels (calibrated, :mod:`.fit`) split into assumed shares; each domain's share is a
  static fraction ``sigma * v`` plus ``(1 - sigma) * v^2 * f / f_max`` at its own clock (CPU at
  ``f_cpu``, SOC at ``f_emc``; DDR I/O at a fixed voltage, ``sigma + (1 - sigma) f_emc /
  f_emc,max``; the rest constant). Shares and ``sigma`` are ``data/assumptions.json``'s.

``scope`` picks what a segment's energy counts: ``module`` (every rail; what HADAS's energies are
comparable with) or ``gpu_rail`` (the GPU rail alone; what the perf_prediction power rows measure).

``V(f)`` is an **assumed** curve (:class:`VoltageCurve`): no voltage table of the Xavier is
published. Latency parameters and the GPU rail are fitted on measured AGX rows at one power mode
(:mod:`.fit`, ``data/fit_agx.json``); the frequency dependence is the model's.
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
#: Columns of a work row, in order (bytes in FP32).
WORK = ("flops", "weight_bytes", "fc_bytes", "activation_bytes", "input_bytes", "layers")
#: What a segment's energy counts: every module rail, or the GPU rail alone.
SCOPES = ("module", "gpu_rail")
#: The module rails other than the GPU's, with the clock domain each follows.
OTHER_RAILS = {"cpu": "cpu", "soc": "emc", "ddr": "emc", "rest": None}


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

    def relative(self, f, f_min: float, f_max: float) -> np.ndarray:
        """``V(f) / V(f_max)`` for frequencies ``f`` (MHz, any shape)."""
        f = np.asarray(f, dtype=np.float64)
        if self.kind == "constant":
            return np.ones_like(f)
        if self.kind == "proportional":
            return f / f_max
        return self.floor + (1.0 - self.floor) * (f - f_min) / (f_max - f_min)

    def dynamic_scale(self, f, f_min: float, f_max: float) -> np.ndarray:
        """``(V(f)/V_max)^2 * f/f_max`` for frequencies ``f`` (MHz, any shape)."""
        v = self.relative(f, f_min, f_max)
        return v * v * np.asarray(f, dtype=np.float64) / f_max


@dataclasses.dataclass(frozen=True)
class XavierParams:
    """Fitted parameters (``data/fit_agx.json``).

    Latency: ``eta_*`` achieved fractions of the peak (compute: of 1024 FLOPs per GPU clock;
    the rest: of 64 bytes per EMC clock), ``tau_s`` CPU seconds per layer at the highest CPU level.
    GPU rail at the highest levels: ``gpu_idle_w`` (W, no work), ``gpu_active_w`` (W while a
    network runs), ``gpu_j_per_flop`` and ``gpu_j_per_byte`` (J per FLOP and per activation byte).
    ``other_w``: the other module rails together (W) at the highest levels while a network runs.
    """

    eta_compute: float
    eta_weights: float
    eta_fc: float
    eta_activations: float
    eta_input: float
    tau_s: float
    gpu_idle_w: float
    gpu_active_w: float
    gpu_j_per_flop: float
    gpu_j_per_byte: float
    other_w: float


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
    """``data/assumptions.json``: the documented assumptions (voltage curve, measurement mode,
    split of the other rails)."""
    path = resources.files("codesign_gym.costmodels.xavier").joinpath("data", "assumptions.json")
    return json.loads(path.read_text())


def default_voltage_curve() -> VoltageCurve:
    a = stored_assumptions()["voltage_curve"]
    return VoltageCurve(a["kind"], float(a["floor"]))


@dataclasses.dataclass(frozen=True)
class OtherRails:
    """Assumed split of the non-GPU module rails: ``shares`` of ``other_w`` per rail (sum 1) and
    the static fraction ``sigma`` of each DVFS-scaled rail at its highest level."""

    shares: dict[str, float]
    sigma: float

    def __post_init__(self):
        if set(self.shares) != set(OTHER_RAILS) or not np.isclose(sum(self.shares.values()), 1.0):
            raise ValueError(f"other-rail shares {self.shares!r}: expected shares of {list(OTHER_RAILS)} summing to 1")
        if not 0.0 <= self.sigma <= 1.0:
            raise ValueError(f"static fraction {self.sigma!r}: expected a value in [0, 1]")


def default_other_rails() -> OtherRails:
    a = stored_assumptions()["other_rails"]
    return OtherRails({k: float(v) for k, v in a["shares"].items()}, float(a["static_fraction"]))


def check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise ValueError(f"energy scope {scope!r} is not known; expected one of {SCOPES}")


class SegmentCost(NamedTuple):
    """Per segment, arrays of the broadcast shape: ``time_s`` latency, ``gpu_s`` GPU-side time
    (arithmetic and DRAM traffic), ``cpu_s`` CPU-side time, ``energy_j`` (of the scope),
    ``gpu_energy_j`` (GPU rail alone)."""

    time_s: np.ndarray
    gpu_s: np.ndarray
    cpu_s: np.ndarray
    energy_j: np.ndarray
    gpu_energy_j: np.ndarray


def _col(work, name: str) -> np.ndarray:
    return np.asarray(work, dtype=np.float64)[..., WORK.index(name)]


def segment_times(work, f_gpu_mhz, f_emc_mhz, f_cpu_mhz, params: XavierParams, board: XavierBoard | None = None,
                  tpc_fraction=1.0) -> dict[str, np.ndarray]:
    """Latency parts in s (module docstring): ``cpu``, ``compute``, ``weights``, ``fc``,
    ``activations``, ``input``. ``work`` (..., 6) in :data:`WORK` order; frequencies in MHz;
    everything broadcasts over the leading axes."""
    board = board or load_board()
    f_gpu = np.asarray(f_gpu_mhz, dtype=np.float64) * 1e6
    bw = board.emc_bytes_per_cycle * np.asarray(f_emc_mhz, dtype=np.float64) * 1e6
    return {
        "cpu": _col(work, "layers") * params.tau_s * board.max_mhz("cpu") / np.asarray(f_cpu_mhz, dtype=np.float64),
        "compute": _col(work, "flops") / (params.eta_compute * board.gpu_flops_per_cycle * f_gpu * np.asarray(tpc_fraction, dtype=np.float64)),
        "weights": _col(work, "weight_bytes") / (params.eta_weights * bw),
        "fc": _col(work, "fc_bytes") / (params.eta_fc * bw),
        "activations": _col(work, "activation_bytes") / (params.eta_activations * bw),
        "input": _col(work, "input_bytes") / (params.eta_input * bw),
    }


def latency_s(work, f_gpu_mhz, f_emc_mhz, f_cpu_mhz, params: XavierParams, board: XavierBoard | None = None, tpc_fraction=1.0) -> np.ndarray:
    """Latency (s) of segments: the sum of :func:`segment_times`'s parts."""
    return sum(segment_times(work, f_gpu_mhz, f_emc_mhz, f_cpu_mhz, params, board, tpc_fraction).values())


def gpu_rail_energy_j(work, time_s, f_gpu_mhz, params: XavierParams, voltage: VoltageCurve, board: XavierBoard | None = None,
                      tpc_fraction=1.0) -> np.ndarray:
    """GPU-rail energy (J) of segments that run for ``time_s`` (module docstring)."""
    board = board or load_board()
    lv = board.levels_mhz["gpu"]
    v = voltage.relative(f_gpu_mhz, lv[0], lv[-1])
    clock = voltage.dynamic_scale(f_gpu_mhz, lv[0], lv[-1]) * np.asarray(tpc_fraction, dtype=np.float64)
    power = params.gpu_idle_w * v + (params.gpu_active_w - params.gpu_idle_w) * clock
    switching = v * v * (params.gpu_j_per_flop * _col(work, "flops") + params.gpu_j_per_byte * _col(work, "activation_bytes"))
    return power * time_s + switching


def other_rails_w(f_emc_mhz, f_cpu_mhz, params: XavierParams, voltage: VoltageCurve, rails: OtherRails | None = None,
                  board: XavierBoard | None = None) -> dict[str, np.ndarray]:
    """Power (W) of each non-GPU module rail while a network runs (module docstring)."""
    board = board or load_board()
    rails = rails or default_other_rails()
    lv, s = board.levels_mhz, rails.sigma
    out = {}
    for rail, domain in OTHER_RAILS.items():
        p = params.other_w * rails.shares[rail]
        if domain is None:
            out[rail] = np.asarray(p, dtype=np.float64)
            continue
        f = f_cpu_mhz if domain == "cpu" else f_emc_mhz
        lo, hi = lv[domain][0], lv[domain][-1]
        if rail == "ddr":  # DRAM I/O at a fixed voltage: only the clocked part scales, with f
            out[rail] = p * (s + (1.0 - s) * np.asarray(f, dtype=np.float64) / hi)
        else:
            out[rail] = p * (s * voltage.relative(f, lo, hi) + (1.0 - s) * voltage.dynamic_scale(f, lo, hi))
    return out


def segment_cost(work, f_gpu_mhz, f_emc_mhz, f_cpu_mhz, params: XavierParams | None = None, voltage: VoltageCurve | None = None,
                 board: XavierBoard | None = None, tpc_fraction=1.0, scope: str = "module", rails: OtherRails | None = None) -> SegmentCost:
    """Latency and energy of segments (module docstring). ``work`` (..., 6) in :data:`WORK`
    order; frequencies in MHz; broadcasts."""
    check_scope(scope)
    board = board or load_board()
    params = params or load_params()
    voltage = voltage or default_voltage_curve()
    parts = segment_times(work, f_gpu_mhz, f_emc_mhz, f_cpu_mhz, params, board, tpc_fraction)
    t = sum(parts.values())
    gpu = gpu_rail_energy_j(work, t, f_gpu_mhz, params, voltage, board, tpc_fraction)
    energy = gpu
    if scope == "module":
        energy = gpu + sum(other_rails_w(f_emc_mhz, f_cpu_mhz, params, voltage, rails, board).values()) * t
    return SegmentCost(t, t - parts["cpu"], parts["cpu"], energy, gpu)
