"""The NAAS-style network-plus-accelerator co-design space and its evaluation (pure numpy).

A **co-design** is a NAS-Bench-201 cell (six edge ops) plus an accelerator of the template in
:mod:`.accelerators` (DRAM -> global buffer L2 -> ``pe_x x pe_y`` PEs with a scratchpad L1 each):

* **sizing levels** (indices into level tables; every table is powers of two):

  ============================  ==========================================================
  ``pe_x``, ``pe_y``            1, 2, 4, ... up to the largest power of two <= the
                                baseline's PE count (eyeriss 168 -> 128)
  ``l1_words`` (per PE)         4, 8, ... up to ``min(MAX_L1_WORDS, on-chip cap)``
                                (1,024 words for every baseline); it keeps weights,
                                inputs and outputs, so fewer than 3 words cannot map
                                any layer
  ``l2_kib`` (global buffer)    1, 2, 4, ... up to the largest power of two <= the baseline's
                                on-chip bytes / 1024 (eyeriss 200.2 KiB -> 128)
  ``dram_words_per_cycle``      1, 2, 4, ... up to the baseline's DRAM bandwidth (eyeriss 8)
  ============================  ==========================================================

* **importance encoding** (NAAS): one real per conv loop dim ``R, S, P, Q, C, M``. Sorting
  them, most important first (ties: the earlier dim in ``R, S, P, Q, C, M`` first), gives
  the two dims spread across the PE array (the first is ``parallel_x``, the second
  ``parallel_y``) and the fixed loop order, outermost first, at the DRAM and global-buffer
  levels (:attr:`~.mapper.MapSpace.order`). Tile sizes are **not** encoded (NAAS encodes
  them as ratios): the inner mapping search (:mod:`.mapper`) finds the tiling, the PE-level
  loop order and the spatial factors within the encoded dataflow.

**Caps** (as NAAS): a design with more PEs, more on-chip bytes (global buffer plus every
scratchpad, 1 byte per word) or more DRAM bandwidth than the baseline it is compared with is
infeasible and is not priced. **Technology and clock** follow the baseline (eyeriss: 32 nm
energies, 200 MHz; the template baselines: their own), so gains are not a change of node.

**Evaluation.** Each distinct accelerator is priced once: its 14 distinct layers (the 8 fixed
rows of every NB201 network and the 6 distinct cell convolutions) go through
:func:`.network_cost.price_layers` (the same inner search as every baseline: ``samples``
random mappings, ``rounds`` refinement rounds, seed ``mapper_seed``), after which any of the
15,625 networks on it is a dot product with its op counts plus its element-wise traffic
(:func:`.network_cost.elementwise_cost`), exactly as :func:`.network_cost.price_space`.
The reference is the baseline accelerator itself (not the template) running NAS-Bench-201's
ResNet cell (index 11472), priced by the same inner search.

**Area** (``area_mm2``) is reported, not capped: global buffer, scratchpads and MACs from the
shipped Accelergy area table at the baseline's node (:func:`~.accelerators.template_area_um2`;
eyeriss: its own components, 1.26 mm^2 at 32 nm). The caps bound ``num_pes``, ``onchip_bytes``
and the DRAM bandwidth, as NAAS's.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import OrderedDict
from typing import Sequence

import numpy as np

from codesign_gym.costmodels.workloads import nb201

from .accelerators import (BASELINES, CONV_DIMS, ENERGY_SCOPES, TEMPLATE_BASELINES, Accelerator, AcceleratorParams, baseline,
                           build_template, template_area_um2, with_energy_scope)
from .network_cost import elementwise_cost, price_layers, price_space

#: NAS-Bench-201's ResNet cell, the reference network.
RESNET_INDEX = 11472
RESNET_ARCH = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
#: Inner-search effort of the co-design space unless a caller asks otherwise (smaller than
#: :data:`.network_cost.DEFAULT_SAMPLES` so an environment step stays about 0.1 s).
DEFAULT_SAMPLES = 256
DEFAULT_ROUNDS = 1
#: Smallest and largest per-PE scratchpad offered (words).
MIN_L1_WORDS = 4
MAX_L1_WORDS = 1024
#: Names of the sizing parameters, in design-vector order.
SIZING = ("pe_x", "pe_y", "l1_words", "l2_kib", "dram_words_per_cycle")
NUM_EDGES = len(nb201.EDGES)
NUM_OPS = len(nb201.OPS)
NUM_DIMS = len(CONV_DIMS)
#: |log2(EDP / reference EDP)| is clipped here wherever a score uses it (it bounds every feasible score).
LOG2_CLIP = 20.0
#: Technology (nm) and clock (MHz) of the eyeriss_like reference design (its ERT is 32 nm).
_EYERISS_NODE = (32.0, 200.0)


def _powers_of_two(limit: float) -> tuple[int, ...]:
    out, v = [], 1
    while v <= limit:
        out.append(v)
        v *= 2
    return tuple(out)


def importance_order(importance) -> np.ndarray:
    """Dim indices (into :data:`CONV_DIMS`) sorted by importance, most important first; ties keep
    ``R, S, P, Q, C, M`` order. ``importance``: (..., 6) reals -> (..., 6) int64.

    Raises:
        ValueError: the last axis is not 6 long, or a value is not finite.
    """
    imp = np.asarray(importance, dtype=np.float64)
    if imp.ndim == 0 or imp.shape[-1] != NUM_DIMS:
        raise ValueError(f"importance vector has shape {imp.shape}; expected {NUM_DIMS} values, one per loop dim "
                         f"{', '.join(CONV_DIMS)} (shape (..., {NUM_DIMS}))")
    if not np.all(np.isfinite(imp)):
        raise ValueError(f"importance values must be finite; got {imp.tolist()}")
    return np.argsort(-imp, axis=-1, kind="stable").astype(np.int64)


@dataclasses.dataclass(frozen=True)
class HardwareDesign:
    """A template accelerator: sizes and the importance-derived dataflow.

    ``loop_order``: the six conv dims, most important first: ``loop_order[0]`` / ``[1]`` are
    spread across the array's X / Y, and the whole tuple is the loop order (outermost first)
    at the DRAM and global-buffer levels.
    """

    pe_x: int
    pe_y: int
    l1_words: int
    l2_kib: int
    dram_words_per_cycle: int
    loop_order: tuple[str, ...] = ("C", "M", "P", "Q", "R", "S")

    def __post_init__(self) -> None:
        if sorted(self.loop_order) != sorted(CONV_DIMS):
            raise ValueError(f"loop_order {self.loop_order!r}; expected a permutation of {', '.join(CONV_DIMS)}")

    @property
    def parallel_x(self) -> str:
        return self.loop_order[0]

    @property
    def parallel_y(self) -> str:
        return self.loop_order[1]

    @property
    def num_pes(self) -> int:
        return self.pe_x * self.pe_y

    @property
    def onchip_bytes(self) -> int:
        """Global buffer plus every scratchpad, bytes (1 word = 1 byte)."""
        return self.l2_kib * 1024 + self.num_pes * self.l1_words

    def key(self) -> str:
        """A name that identifies the design completely (also the priced accelerator's name)."""
        return (f"naas-{self.pe_x}x{self.pe_y}-l1_{self.l1_words}w-l2_{self.l2_kib}KiB-bw{self.dram_words_per_cycle}-"
                f"{''.join(self.loop_order)}")

    def as_dict(self) -> dict:
        return {"pe_x": self.pe_x, "pe_y": self.pe_y, "l1_words": self.l1_words, "l2_kib": self.l2_kib,
                "dram_words_per_cycle": self.dram_words_per_cycle, "parallel_x": self.parallel_x, "parallel_y": self.parallel_y,
                "loop_order": "".join(self.loop_order), "num_pes": self.num_pes, "onchip_bytes": self.onchip_bytes}


@dataclasses.dataclass(frozen=True)
class _HardwareCosts:
    """Per-accelerator costs: the 8 fixed rows summed, the 6 cell-conv rows, and the accelerator
    (for its element-wise traffic cost)."""

    fixed_cycles: int
    fixed_energy_pj: float
    cell_cycles: np.ndarray  # (6,) int64
    cell_energy_pj: np.ndarray  # (6,) float64
    accelerator: Accelerator


class NAASSpace:
    """The co-design space on one baseline and dataset (see the module docstring).

    Args:
        baseline: a name in :data:`~.accelerators.BASELINES`; its PEs, on-chip bytes and DRAM
            bandwidth cap the designs, and its technology and clock are theirs.
        dataset: ``cifar10``, ``cifar100`` or ``ImageNet16-120`` (accuracies and input size).
        samples, rounds, mapper_seed: inner mapping-search effort, the same for every design
            and for the baseline.
        energy_scope: ``total`` (default) or ``onchip``: DRAM energy left out of every layer's
            mapping objective and cost, designs and baseline alike (MAESTRO's scope, NAAS's
            cost model); cycles still include DRAM bandwidth limits.
        max_cached: accelerators whose layer costs are kept (least recently used dropped).

    Raises:
        ValueError: an unknown baseline or dataset, or a non-positive effort.
    """

    def __init__(self, baseline: str = "eyeriss", dataset: str = "cifar10", samples: int = DEFAULT_SAMPLES,
                 rounds: int = DEFAULT_ROUNDS, mapper_seed: int = 0, max_cached: int = 65536, energy_scope: str = "total"):
        if baseline not in BASELINES:
            raise ValueError(f"unknown accelerator {baseline!r}; expected one of {', '.join(BASELINES)}")
        for name, value, low in (("samples", samples, 1), ("rounds", rounds, 0), ("mapper_seed", mapper_seed, 0), ("max_cached", max_cached, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name}={value!r}; expected an integer >= {low}")
        self.dataset = nb201.canonical_dataset(dataset)
        self.baseline_name = baseline
        self.samples, self.rounds, self.mapper_seed = int(samples), int(rounds), int(mapper_seed)
        self.max_cached = int(max_cached)
        if energy_scope not in ENERGY_SCOPES:
            raise ValueError(f"energy_scope {energy_scope!r}; expected one of {', '.join(ENERGY_SCOPES)}")
        self.energy_scope = energy_scope
        self.baseline = _cached_baseline(baseline, energy_scope)
        if baseline == "eyeriss":
            self.technology_nm, self.clock_mhz = _EYERISS_NODE
        else:
            params = TEMPLATE_BASELINES[baseline][0]
            self.technology_nm, self.clock_mhz = params.technology_nm, params.clock_mhz
        #: Caps from the baseline.
        self.max_pes = int(self.baseline.num_pes)
        self.max_onchip_bytes = int(self.baseline.onchip_bytes)
        self.max_dram_words_per_cycle = float(self.baseline.dram_words_per_cycle)
        #: Level tables, in :data:`SIZING` order.
        self.levels: dict[str, tuple[int, ...]] = {
            "pe_x": _powers_of_two(self.max_pes),
            "pe_y": _powers_of_two(self.max_pes),
            "l1_words": tuple(v for v in _powers_of_two(min(MAX_L1_WORDS, self.max_onchip_bytes)) if v >= MIN_L1_WORDS),
            "l2_kib": _powers_of_two(self.max_onchip_bytes / 1024),
            "dram_words_per_cycle": _powers_of_two(self.max_dram_words_per_cycle),
        }
        self.level_counts = np.array([len(self.levels[k]) for k in SIZING], dtype=np.int64)
        self._layers = nb201.space_layers(self.dataset)
        traffic = nb201.space_elementwise_traffic(self.dataset)
        self._reads, self._writes = traffic.read_elements, traffic.write_elements
        self.accuracies = nb201.load_accuracies().accuracy(self.dataset)
        self._cache: OrderedDict[str, _HardwareCosts] = OrderedDict()
        self.priced_accelerators = 0
        ref = self.baseline_costs()
        #: The reference: the baseline running the ResNet cell (same inner search).
        self.ref_accuracy = float(ref.accuracy[RESNET_INDEX])
        self.ref_latency_cycles = int(ref.latency_cycles[RESNET_INDEX])
        self.ref_energy_pj = float(ref.energy_pj[RESNET_INDEX])
        self.ref_edp = float(ref.edp[RESNET_INDEX])

    # ------------------------------------------------------------------ designs
    def hardware(self, levels: Sequence[int], importance: Sequence[float]) -> HardwareDesign:
        """The design of five sizing level indices (:data:`SIZING` order) and six importances.

        Raises:
            ValueError: wrong lengths or a level index outside its table.
        """
        lv = np.asarray(levels)
        if lv.shape != (len(SIZING),) or lv.dtype.kind not in "iu":
            raise ValueError(f"sizing levels {np.asarray(levels).tolist()!r}; expected {len(SIZING)} integer level indices "
                             f"({', '.join(SIZING)})")
        bad = (lv < 0) | (lv >= self.level_counts)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{SIZING[k]} level {int(lv[k])} is outside 0..{self.level_counts[k] - 1} "
                             f"(values {self.levels[SIZING[k]]})")
        order = importance_order(importance)
        values = [int(self.levels[name][int(i)]) for name, i in zip(SIZING, lv)]
        return HardwareDesign(*values, loop_order=tuple(CONV_DIMS[int(d)] for d in order))

    def baseline_costs(self):
        """:class:`~.network_cost.SpaceCosts` of all 15,625 networks on the baseline itself (cached)."""
        return _baseline_space(self.baseline_name, self.dataset, self.samples, self.rounds, self.mapper_seed, self.energy_scope)

    def overshoot(self, hw: HardwareDesign, max_pes: float | None = None, max_onchip_bytes: float | None = None,
                  max_dram_words_per_cycle: float | None = None) -> float:
        """How far ``hw`` exceeds the caps (default: the baseline's), the largest ``use / cap - 1``; <= 0 within."""
        caps = (max_pes or self.max_pes, max_onchip_bytes or self.max_onchip_bytes, max_dram_words_per_cycle or self.max_dram_words_per_cycle)
        uses = (hw.num_pes, hw.onchip_bytes, hw.dram_words_per_cycle)
        return max(u / c - 1.0 for u, c in zip(uses, caps))

    def params(self, hw: HardwareDesign) -> AcceleratorParams:
        """The template parameters of ``hw`` at the baseline's technology and clock."""
        return AcceleratorParams(pe_x=int(hw.pe_x), pe_y=int(hw.pe_y), l1_words=int(hw.l1_words), l2_kib=int(hw.l2_kib),
                                 dram_words_per_cycle=int(hw.dram_words_per_cycle), parallel_x=hw.parallel_x,
                                 parallel_y=hw.parallel_y, technology_nm=self.technology_nm, clock_mhz=self.clock_mhz)

    def area_mm2(self, hw: HardwareDesign | None) -> float:
        """On-chip area of ``hw`` (``None``: the baseline), mm^2 (:func:`~.accelerators.template_area_um2`)."""
        return (self.baseline.area_um2 if hw is None else template_area_um2(self.params(hw))) / 1e6

    def accelerator(self, hw: HardwareDesign) -> Accelerator:
        """The priced template accelerator of ``hw`` (its map space carries the fixed loop order)."""
        params = self.params(hw)
        name = f"{hw.key()}@{self.technology_nm:g}nm-{self.clock_mhz:g}MHz"
        acc = build_template(params, name=name, source=f"NAAS-style design capped by {self.baseline_name}")
        order = tuple(hw.loop_order)
        acc = with_energy_scope(acc, self.energy_scope)
        return dataclasses.replace(acc, mapspace=dataclasses.replace(acc.mapspace, order={0: order, 1: order}))

    def _costs(self, hw: HardwareDesign) -> _HardwareCosts:
        key = hw.key()
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        acc = self.accelerator(hw)
        fixed = price_layers(self._layers.fixed, acc, self.samples, self.rounds, self.mapper_seed)
        cells = price_layers(self._layers.cell_convs, acc, self.samples, self.rounds, self.mapper_seed)
        costs = _HardwareCosts(int(fixed.cycles.sum()), float(fixed.energy_pj.sum()), cells.cycles, cells.energy_pj, acc)
        self.priced_accelerators += 1
        self._cache[key] = costs
        if len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return costs

    def is_cached(self, hw: HardwareDesign) -> bool:
        return hw.key() in self._cache

    def network_costs(self, hw: HardwareDesign) -> tuple[np.ndarray, np.ndarray]:
        """Every NAS-Bench-201 network on ``hw``: ``(cycles, energy_pj)``, (15,625,) int64 and
        float64 in index order, from the design's 14 layer costs (priced once, then cached).

        Raises:
            ValueError: ``hw`` is beyond the baseline's cap (such designs are never priced).
        """
        if self.overshoot(hw) > 0:
            raise ValueError(f"design {hw.key()} exceeds the {self.baseline_name} cap ({hw.num_pes} PEs, {hw.onchip_bytes} on-chip "
                             f"bytes, {hw.dram_words_per_cycle} DRAM words/cycle); expected at most {self.max_pes} PEs, "
                             f"{self.max_onchip_bytes} bytes, {self.max_dram_words_per_cycle:g} words/cycle")
        c = self._costs(hw)
        counts = self._layers.counts
        ew_cycles, ew_energy = elementwise_cost(c.accelerator, self._reads, self._writes)
        return c.fixed_cycles + counts @ c.cell_cycles + ew_cycles, c.fixed_energy_pj + counts @ c.cell_energy_pj + ew_energy

    def log2_edp_ratio(self, edp) -> np.ndarray:
        """``log2(edp / ref_edp)`` clipped to +-:data:`LOG2_CLIP`; ``edp`` (N,) pJ x cycles (``inf``
        beyond the cap gives +LOG2_CLIP)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.clip(np.log2(np.asarray(edp) / self.ref_edp), -LOG2_CLIP, LOG2_CLIP)

    def best_networks(self, hardware: Sequence[HardwareDesign], accuracy_target: float | None = None, accuracy_weight: float = 1.0,
                      edp_weight: float = 1.0, fallback: int = RESNET_INDEX) -> np.ndarray:
        """The best of the 15,625 cells on each design, exactly: NB201 indices (N,) int64.

        With ``accuracy_target`` (%): the least EDP among cells with accuracy >= the target (none
        reaches it: the most accurate cells, least EDP among them). Without: the highest
        ``accuracy_weight * accuracy [%] - edp_weight * log2(EDP / ref_edp)`` (clipped,
        :meth:`log2_edp_ratio`). Ties go to the lower index; a design beyond the baseline's cap
        (never priced) gets ``fallback``. One pricing per distinct accelerator (then cached).
        """
        out = np.full(len(hardware), fallback, dtype=np.int64)
        acc = self.accuracies
        rows_by_key: dict[str, list[int]] = {}
        for i, hw in enumerate(hardware):
            if self.overshoot(hw) <= 0:
                rows_by_key.setdefault(hw.key(), []).append(i)
        for rows in rows_by_key.values():
            cycles, energy = self.network_costs(hardware[rows[0]])
            edp = cycles * energy
            if accuracy_target is not None:
                ok = acc >= accuracy_target
                pool = np.flatnonzero(ok) if ok.any() else np.flatnonzero(acc == acc.max())
                best = int(pool[np.argmin(edp[pool])])
            else:
                best = int(np.argmax(accuracy_weight * acc - edp_weight * self.log2_edp_ratio(edp)))
            out[rows] = best
        return out

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, arch, hardware: Sequence[HardwareDesign | None], strict: bool = False) -> dict[str, np.ndarray]:
        """Price ``N`` co-designs: ``arch`` (N,) NB201 indices (or cell strings) and ``hardware``
        (N,) designs, ``None`` meaning the baseline accelerator itself.

        Returns (N,) arrays: ``index``, ``accuracy`` (%), ``latency_cycles`` (int64),
        ``latency_ms``, ``energy_pj``, ``edp`` (pJ x cycles), ``num_pes``, ``onchip_bytes``,
        ``dram_words_per_cycle``, ``area_mm2`` (on chip), ``within_cap`` (bool), ``overshoot`` (largest ``use / cap - 1``),
        ``edp_reduction`` (reference EDP / EDP). Designs beyond the cap are not priced: cycles 0,
        ``latency_ms``, energy and EDP ``inf``, ``edp_reduction`` 0; with ``strict`` they raise.

        Raises:
            ValueError: an unknown arch string or index, mismatched lengths, or (``strict``) a
                design beyond the cap.
        """
        idx = self.arch_indices(arch)
        hardware = list(hardware)
        if len(hardware) != idx.size:
            raise ValueError(f"{idx.size} networks but {len(hardware)} hardware designs; expected one each")
        n = idx.size
        cycles = np.zeros(n, dtype=np.int64)
        energy = np.full(n, np.inf)
        num_pes = np.zeros(n, dtype=np.int64)
        onchip = np.zeros(n, dtype=np.int64)
        bw = np.zeros(n)
        over = np.zeros(n)
        area = np.array([self.area_mm2(hw) if hw is None or isinstance(hw, HardwareDesign) else np.nan for hw in hardware])
        clock = np.full(n, self.clock_mhz)
        base_rows = [i for i, hw in enumerate(hardware) if hw is None]
        if base_rows:
            rows = np.array(base_rows)
            space = self.baseline_costs()
            cycles[rows] = space.latency_cycles[idx[rows]]
            energy[rows] = space.energy_pj[idx[rows]]
            num_pes[rows], onchip[rows], bw[rows] = self.max_pes, self.max_onchip_bytes, self.max_dram_words_per_cycle
            clock[rows] = self.baseline.clock_mhz
        groups: dict[str, list[int]] = {}
        designs: dict[str, HardwareDesign] = {}
        for i, hw in enumerate(hardware):
            if hw is None:
                continue
            if not isinstance(hw, HardwareDesign):
                raise ValueError(f"hardware[{i}] is {hw!r}; expected a HardwareDesign or None (the baseline)")
            num_pes[i], onchip[i], bw[i] = hw.num_pes, hw.onchip_bytes, hw.dram_words_per_cycle
            over[i] = self.overshoot(hw)
            if over[i] > 0:
                if strict:
                    raise ValueError(f"design {hw.key()} exceeds the {self.baseline_name} cap: {hw.num_pes} PEs (cap {self.max_pes}), "
                                     f"{hw.onchip_bytes} on-chip bytes (cap {self.max_onchip_bytes}), "
                                     f"{hw.dram_words_per_cycle} DRAM words/cycle (cap {self.max_dram_words_per_cycle:g})")
                continue
            groups.setdefault(hw.key(), []).append(i)
            designs[hw.key()] = hw
        for key, rows_list in groups.items():
            rows = np.array(rows_list)
            all_cycles, all_energy = self.network_costs(designs[key])
            cycles[rows] = all_cycles[idx[rows]]
            energy[rows] = all_energy[idx[rows]]
        within = over <= 0
        with np.errstate(invalid="ignore"):
            edp = np.where(within, energy * cycles, np.inf)
        reduction = self.ref_edp / edp
        return {
            "index": idx, "accuracy": self.accuracies[idx].copy(), "latency_cycles": cycles,
            "latency_ms": np.where(within, cycles / (clock * 1e3), np.inf), "energy_pj": np.where(within, energy, np.inf), "edp": edp,
            "num_pes": num_pes, "onchip_bytes": onchip, "dram_words_per_cycle": bw, "area_mm2": area, "within_cap": within, "overshoot": over,
            "edp_reduction": reduction,
        }

    @staticmethod
    def arch_indices(arch) -> np.ndarray:
        """(N,) NB201 indices of ``arch``: an index, a cell string, or a sequence of either."""
        items = [arch] if isinstance(arch, (str, int, np.integer)) else list(np.asarray(arch, dtype=object).ravel())
        out = np.empty(len(items), dtype=np.int64)
        for i, a in enumerate(items):
            if isinstance(a, str):
                out[i] = nb201.arch_index(a)
            elif isinstance(a, (int, np.integer)) and not isinstance(a, bool) and 0 <= int(a) < nb201.NUM_ARCHS:
                out[i] = int(a)
            else:
                raise ValueError(f"network {a!r} is not a NAS-Bench-201 cell string or an index in 0..{nb201.NUM_ARCHS - 1}")
        return out


@functools.lru_cache(maxsize=None)
def _cached_baseline(name: str, energy_scope: str = "total") -> Accelerator:
    # built once per (name, scope): reading eyeriss's YAML and estimating areas is not free
    return with_energy_scope(baseline(name), energy_scope)


@functools.lru_cache(maxsize=32)
def _baseline_space(name: str, dataset: str, samples: int, rounds: int, seed: int, energy_scope: str):
    return price_space(_cached_baseline(name, energy_scope), dataset, samples=samples, rounds=rounds, seed=seed)
