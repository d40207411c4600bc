"""The Jetson AGX Xavier's DVFS levels and power modes, from the shipped facts file.

``data/jetson/jetson_agx_xavier_dvfs_facts.json`` (compiled facts, sources named inside): GPU 14
levels 114.75-1377 MHz, CPU 29 levels 115.2-2265.6 MHz, EMC 9 levels 204-2133 MHz, the nvpmodel
power modes (caps per domain; the driver rounds a cap up to the next real level), the GPU's
1024 FP32 FLOPs per cycle (512 CUDA cores, FMA) and the memory bus (64 bytes per EMC clock).

Frequencies are handled in MHz (float64) throughout this package.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from importlib import resources

import numpy as np

DOMAINS = ("gpu", "cpu", "emc")


@dataclasses.dataclass(frozen=True)
class PowerMode:
    """One nvpmodel mode: ``cap_mhz`` per domain (the highest real level at or below the driver's
    rounded-up cap), ``active_tpc_fraction`` of the GPU's 4 TPCs left powered (TPC_PG_MASK)."""

    name: str
    cap_mhz: dict[str, float]
    active_tpc_fraction: float
    online_cpus: int


@dataclasses.dataclass(frozen=True)
class XavierBoard:
    """Frequency tables (MHz, ascending, float64) and peak rates of the Jetson AGX Xavier.

    Attributes:
        levels_mhz: ``{"gpu": (14,), "cpu": (29,), "emc": (9,)}``.
        gpu_flops_per_cycle: FP32 FLOPs per GPU clock with all TPCs on (1024).
        emc_bytes_per_cycle: DRAM bytes per EMC clock (64: 256-bit bus, 2 transfers per clock).
        modes: power modes by name (``MAXN``, ``MODE_10W``, ...).
    """

    levels_mhz: dict[str, np.ndarray]
    gpu_flops_per_cycle: float
    emc_bytes_per_cycle: float
    modes: dict[str, PowerMode]

    def max_mhz(self, domain: str) -> float:
        return float(self.levels_mhz[domain][-1])

    def level_index(self, domain: str, mhz, mode: str | None = None) -> np.ndarray:
        """Indices of frequencies ``mhz`` (MHz, any shape) in ``domain``'s level table.

        Raises:
            ValueError: naming a frequency that is not a real level (listing the levels) or one
                above the cap of power ``mode``.
        """
        table = self.levels_mhz[domain]
        values = np.asarray(mhz, dtype=np.float64)
        idx = np.searchsorted(table, values - 1e-6)
        idx_c = np.minimum(idx, table.size - 1)
        ok = np.isclose(table[idx_c], values, rtol=0.0, atol=1e-3)
        if not np.all(ok):
            bad = float(values[~ok].ravel()[0])
            raise ValueError(f"{domain} frequency {bad:g} MHz is not a level of the Jetson AGX Xavier; expected one of "
                             f"{[float(f'{v:g}') for v in table]}")
        if mode is not None:
            cap = self.mode(mode).cap_mhz[domain]
            over = values > cap + 1e-6
            if np.any(over):
                raise ValueError(f"{domain} frequency {float(values[over].ravel()[0]):g} MHz is above power mode {mode}'s cap of {cap:g} MHz")
        return idx_c.astype(np.int64)

    def mode(self, name: str) -> PowerMode:
        if name not in self.modes:
            raise ValueError(f"power mode {name!r} is not known; expected one of {list(self.modes)}")
        return self.modes[name]

    def allowed_levels(self, domain: str, mode: str | None = None) -> np.ndarray:
        """Levels (MHz) of ``domain`` allowed under ``mode`` (all levels without a mode)."""
        table = self.levels_mhz[domain]
        if mode is None:
            return table
        return table[table <= self.mode(mode).cap_mhz[domain] + 1e-6]


def _cap_level(table: np.ndarray, cap: float | None) -> float:
    """The driver rounds a cap up to the next real level (facts file, ``_mode_notes``)."""
    if cap is None:
        return float(table[-1])
    i = int(np.searchsorted(table, cap - 1e-6))
    return float(table[min(i, table.size - 1)])


@functools.lru_cache(maxsize=1)
def load_board() -> XavierBoard:
    """The board described by the shipped facts file (cached)."""
    path = resources.files("codesign_gym.costmodels.xavier").joinpath("data", "jetson", "jetson_agx_xavier_dvfs_facts.json")
    facts = json.loads(path.read_text())
    levels = {
        "gpu": np.array(facts["gpu"]["freq_levels_hz"], dtype=np.float64) / 1e6,
        "cpu": np.array(facts["cpu"]["freq_levels_khz"], dtype=np.float64) / 1e3,
        "emc": np.array(facts["emc"]["freq_levels_hz"], dtype=np.float64) / 1e6,
    }
    tpcs = int(facts["gpu"]["tpcs"])
    modes = {}
    for m in facts["nvpmodel_modes"]:
        name = m["name"].split(" ")[0]
        caps = {d: _cap_level(levels[d], m.get(f"{d}_max_mhz")) for d in DOMAINS}
        gated = bin(int(m.get("gpu_tpc_pg_mask") or 0)).count("1")
        modes[name] = PowerMode(name, caps, (tpcs - gated) / tpcs, int(m["online_cpus"]))
    # bus width in bytes x 2 transfers per EMC clock = 64 bytes (the facts file's "64 * f_emc_hz")
    bytes_per_cycle = facts["emc"]["bus_width_bits"] / 8 * 2
    return XavierBoard(levels, float(facts["gpu"]["peak_fp32_flops_per_cycle"]), float(bytes_per_cycle), modes)
