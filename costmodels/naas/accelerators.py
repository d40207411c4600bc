"""Accelerators for the network-plus-accelerator search: a NAAS-style template and named baselines.

**Template** (searched designs, and the NVDLA and ShiDianNao baselines): DRAM -> a global
buffer (L2, one SRAM) -> a ``pe_x x pe_y`` array of PEs, each with a scratchpad (L1, a
register file) -> one MAC per PE. Words are 8 bits (int8). Energies come from the shipped
Accelergy tables (:mod:`codesign_gym.costmodels.loopnest.energy_tables`) at the design's
technology node: the global buffer as a CACTI SRAM of ``l2_kib`` KiB with a 64-bit port, the
scratchpad as a register file of ``l1_words`` x 16 bits, the MAC as the table's ``intmac``;
sizes the table lacks use its fitted scaling; areas likewise from the shipped Accelergy area table
(:func:`template_area_um2`). DRAM costs the tables' 8 pJ/bit and moves
``dram_words_per_cycle`` words per cycle (Timeloop's bandwidth throttling stretches the
cycles when a mapping needs more). The dataflow is what may be spread across the array:
``parallel_x`` and ``parallel_y`` (conv dims R, S, P, Q, C, M).

**Baselines** (:data:`BASELINES`): ``eyeriss`` is the Timeloop/Accelergy ``eyeriss_like``
reference architecture itself (its own levels, energies and mapspace constraints, from
``data/eyeriss_like``); ``nvdla256``, ``nvdla1024`` and ``shidiannao`` are the template with
the parameters and dataflows documented on each entry. Every baseline's PE count, on-chip
memory and DRAM bandwidth cap the search, as in NAAS.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import yaml

from codesign_gym.costmodels.loopnest import ActionEnergy, Architecture, ComputeLevel, StorageLevel
from codesign_gym.costmodels.loopnest.area import estimate_area, mac_area, storage_area, total_area_um2
from codesign_gym.costmodels.loopnest.energy_tables import mac_energy, storage_energy
from codesign_gym.costmodels.loopnest.timeloop_yaml import read_architecture, read_ert

from .mapper import MapSpace

DATA = Path(__file__).parent / "data"
CONV_DIMS = ("R", "S", "P", "Q", "C", "M")
WORD_BITS = 8


@dataclasses.dataclass(frozen=True)
class AcceleratorParams:
    """A template accelerator. ``l1_words``: scratchpad words per PE; ``l2_kib``: global buffer
    KiB; ``dram_words_per_cycle``: DRAM bandwidth; ``clock_mhz`` converts cycles to ms."""

    pe_x: int
    pe_y: int
    l1_words: int
    l2_kib: int
    dram_words_per_cycle: int
    parallel_x: str = "C"
    parallel_y: str = "M"
    technology_nm: float = 45.0
    clock_mhz: float = 1000.0

    def __post_init__(self) -> None:
        for field in ("pe_x", "pe_y", "l1_words", "l2_kib", "dram_words_per_cycle"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"accelerator {field}={value!r}; expected a positive integer")
        for field in ("parallel_x", "parallel_y"):
            if getattr(self, field) not in CONV_DIMS:
                raise ValueError(f"accelerator {field}={getattr(self, field)!r}; expected one of {', '.join(CONV_DIMS)}")
        if self.parallel_x == self.parallel_y:
            raise ValueError(f"parallel_x and parallel_y are both {self.parallel_x!r}; expected two different dims")
        if not self.clock_mhz > 0:
            raise ValueError(f"clock_mhz={self.clock_mhz!r}; expected a positive frequency")

    @property
    def num_pes(self) -> int:
        return self.pe_x * self.pe_y

    @property
    def onchip_bytes(self) -> int:
        """Global buffer plus every scratchpad, bytes (1 word = 1 byte)."""
        return self.l2_kib * 1024 + self.num_pes * self.l1_words * WORD_BITS // 8


@dataclasses.dataclass(frozen=True)
class Accelerator:
    """A priced accelerator: its loop-nest architecture, map space and clock."""

    name: str
    architecture: Architecture
    mapspace: MapSpace
    clock_mhz: float
    num_pes: int
    onchip_bytes: int
    dram_words_per_cycle: float
    area_um2: float  #: on-chip area: buffers, scratchpads and MACs (NoC not modelled), um^2
    source: str = ""


@functools.lru_cache(maxsize=4096)
def template_area_um2(params: AcceleratorParams) -> float:
    """On-chip area of a template accelerator (um^2), from the shipped Accelergy area table
    (:mod:`codesign_gym.costmodels.loopnest.area`) at the design's node: the global buffer as a
    CACTI SRAM of 64-bit rows, plus per PE a ``l1_words`` x 16-bit register file and an 8-bit
    ``intmac``. The NoC is not modelled (the references give it a dummy 1 um^2)."""
    tech = params.technology_nm
    glb = storage_area("smartbuffer_SRAM", params.l2_kib * 1024 // 8, 64, tech)
    per_pe = storage_area("smartbuffer_RF", params.l1_words, 16, tech) + mac_area("intmac", tech, 8)
    return glb + params.num_pes * per_pe


def build_template(params: AcceleratorParams, name: str = "design", l1_keeps: tuple[str, ...] = ("Weights", "Inputs", "Outputs"),
                   source: str = "") -> Accelerator:
    """The template architecture and its map space for ``params`` (see the module docstring)."""
    tech = params.technology_nm
    dram = storage_energy("DRAM", None, 64, None)
    l2_depth = params.l2_kib * 1024 // 8  # 64-bit rows
    glb = storage_energy("smartbuffer_SRAM", l2_depth, 64, tech)
    l1 = storage_energy("smartbuffer_RF", params.l1_words, 16, tech)
    n = params.num_pes
    bw = float(params.dram_words_per_cycle)
    levels = (
        StorageLevel("DRAM", block_size=8, word_bits=WORD_BITS, energy=ActionEnergy(dram["read"], dram["write"], dram["update"]),
                     read_bandwidth=bw, write_bandwidth=bw, component_class="DRAM"),
        StorageLevel("GlobalBuffer", capacity_words=params.l2_kib * 1024, block_size=8, word_bits=WORD_BITS,
                     energy=ActionEnergy(glb["read"], glb["write"], glb["update"]), component_class="smartbuffer_SRAM"),
        StorageLevel("PEBuffer", instances=n, mesh_x=params.pe_x, mesh_y=params.pe_y, capacity_words=params.l1_words,
                     block_size=1, word_bits=WORD_BITS, energy=ActionEnergy(l1["read"], l1["write"], l1["update"]),
                     component_class="smartbuffer_RF"),
    )
    compute = ComputeLevel("MAC", instances=n, mesh_x=params.pe_x, mesh_y=params.pe_y, mac_energy=mac_energy("intmac", tech, 8))
    arch = Architecture(name, levels, compute)
    space = MapSpace(spatial_x={1: (params.parallel_x,)}, spatial_y={1: (params.parallel_y,)}, temporal={},
                     keep={0: ("Weights", "Inputs", "Outputs"), 1: ("Weights", "Inputs", "Outputs"), 2: l1_keeps})
    return Accelerator(name, arch, space, params.clock_mhz, n, params.onchip_bytes, bw, template_area_um2(params), source)


@functools.lru_cache(maxsize=1)
def eyeriss() -> Accelerator:
    """The ``eyeriss_like`` reference design with its own mapspace constraints (row stationary):
    Q across PE columns (X); C, S and M across the rows of a column (Y); the global buffer
    bypasses weights; each scratchpad keeps one data space; weights_spad loops over C and R,
    psum_spad over M, ifmap_spad none. Clock 200 MHz (Eyeriss, JSSC 2017: 100-250 MHz,
    measured at 200 MHz). DRAM: the design's 64-bit port, 8 words per cycle."""
    spec = yaml.safe_load((DATA / "eyeriss_like" / "parsed-processed-input.yaml").read_text())
    arch = read_architecture(spec, read_ert(DATA / "eyeriss_like" / "ERT.yaml"), name="eyeriss")
    levels = list(arch.levels)
    levels[0] = dataclasses.replace(levels[0], read_bandwidth=8.0, write_bandwidth=8.0)
    arch = arch.with_levels(levels)
    idx = {lvl.name: i for i, lvl in enumerate(arch.levels)}
    space = MapSpace(
        spatial_x={idx["inter_PE_column_spatial"]: ("Q", "M")},
        spatial_y={idx["inter_PE_spatial"]: ("S", "C", "M")},
        temporal={idx["ifmap_spad"]: (), idx["weights_spad"]: ("C", "R"), idx["psum_spad"]: ("M",)},
        keep={idx["DRAM"]: ("Weights", "Inputs", "Outputs"), idx["shared_glb"]: ("Inputs", "Outputs"),
              idx["ifmap_spad"]: ("Inputs",), idx["weights_spad"]: ("Weights",), idx["psum_spad"]: ("Outputs",)},
    )
    onchip = sum(lvl.capacity_words * lvl.instances * lvl.word_bits // 8 for lvl in arch.levels[1:] if lvl.capacity_words and not lvl.dummy)
    area = total_area_um2(estimate_area(spec, technology_nm=32.0))
    return Accelerator("eyeriss", arch, space, 200.0, arch.compute.instances, onchip, 8.0, area,
                       source="Timeloop/Accelergy exercises, example_designs/eyeriss_like (MIT)")


#: Template baselines: parameters, dataflow and where the numbers come from.
TEMPLATE_BASELINES: dict[str, tuple[AcceleratorParams, tuple[str, ...], str]] = {
    "nvdla256": (
        AcceleratorParams(pe_x=16, pe_y=16, l1_words=2, l2_kib=128, dram_words_per_cycle=8, parallel_x="C", parallel_y="M",
                          technology_nm=45.0, clock_mhz=1000.0),
        ("Weights",),
        "NVDLA weight-stationary MAC array over C x K (Atomic-C x Atomic-K), here 16 x 16; a double-buffered weight "
        "per MAC (2 words); 128 KiB convolution buffer and a 64-bit DRAM port as nv_small; 1 GHz; 45 nm table energies",
    ),
    "nvdla1024": (
        AcceleratorParams(pe_x=64, pe_y=16, l1_words=2, l2_kib=512, dram_words_per_cycle=64, parallel_x="C", parallel_y="M",
                          technology_nm=45.0, clock_mhz=1000.0),
        ("Weights",),
        "NVDLA nv_full: Atomic-C 64 x Atomic-K 16 = 1024 MACs, weight stationary over C x K; double-buffered weight per MAC; "
        "512 KiB convolution buffer; 512-bit DRAM interface (64 words/cycle); 1 GHz; 45 nm table energies",
    ),
    "shidiannao": (
        AcceleratorParams(pe_x=8, pe_y=8, l1_words=2, l2_kib=256, dram_words_per_cycle=8, parallel_x="P", parallel_y="Q",
                          technology_nm=45.0, clock_mhz=1000.0),
        ("Outputs",),
        "ShiDianNao (ISCA 2015): 8 x 8 PEs, output stationary over output cols x rows, each PE accumulating its output "
        "(2 words); NBin 64 KB + NBout 64 KB + SB 128 KB = 256 KiB on chip; 1 GHz; 64-bit DRAM port; 45 nm table energies "
        "(the chip was 65 nm)",
    ),
}

BASELINES = ("eyeriss", *TEMPLATE_BASELINES)


#: What the energy of a design counts: ``total`` (DRAM traffic, buffers, scratchpads, MACs) or
#: ``onchip`` (DRAM energy left out, MAESTRO's scope and so NAAS's; DRAM bandwidth still limits cycles).
ENERGY_SCOPES = ("total", "onchip")


def with_energy_scope(accelerator: Accelerator, scope: str) -> Accelerator:
    """``accelerator`` unchanged for ``total``; for ``onchip`` with a zero-energy DRAM level (so
    the inner search neither pays for nor optimises DRAM traffic) and ``-onchip`` in its name.

    Raises:
        ValueError: an unknown scope.
    """
    if scope not in ENERGY_SCOPES:
        raise ValueError(f"energy_scope {scope!r}; expected one of {', '.join(ENERGY_SCOPES)}")
    if scope == "total":
        return accelerator
    levels = list(accelerator.architecture.levels)
    levels[0] = dataclasses.replace(levels[0], energy=ActionEnergy(0.0, 0.0, 0.0))
    return dataclasses.replace(accelerator, name=f"{accelerator.name}-onchip", architecture=accelerator.architecture.with_levels(levels))


def baseline(name: str) -> Accelerator:
    """A named baseline accelerator (:data:`BASELINES`)."""
    if name == "eyeriss":
        return eyeriss()
    if name not in TEMPLATE_BASELINES:
        raise ValueError(f"unknown accelerator {name!r}; expected one of {', '.join(BASELINES)}")
    params, keeps, source = TEMPLATE_BASELINES[name]
    return build_template(params, name=name, l1_keeps=keeps, source=source)
