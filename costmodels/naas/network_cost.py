"""NAS-Bench-201 networks priced on an accelerator with the loop-nest model.

Each conv / linear layer is mapped by the inner search of :mod:`.mapper` (the same for every
accelerator) and costs its best mapping's cycles and dynamic energy; a grouped layer costs
``groups`` times one group's problem. Layers run one after another, so a network's cycles and
energy are sums over its layers.

Pooling and element-wise work (node sums, residual adds, average pools; counted by
:func:`~codesign_gym.costmodels.workloads.nb201.space_elementwise_traffic`) runs no MACs; it is
charged as memory traffic at the accelerator's global buffer: one read per element read and
one write per element written, at the buffer's per-block ERT energy divided by its block
size, and one block per cycle of latency. ``none`` and ``skip_connect`` edges cost nothing.

Because a NAS-Bench-201 network is fixed rows (stem, reduction blocks, classifier) plus
counts of six distinct cell convolutions, the whole space of 15,625 networks is priced by
mapping 14 layers once and one matrix product (:func:`price_space`).
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from codesign_gym.costmodels.loopnest import problem_from_layer
from codesign_gym.costmodels.workloads import nb201

from .accelerators import Accelerator
from .mapper import best_mapping

#: Inner-search effort used everywhere unless a caller asks otherwise.
DEFAULT_SAMPLES = 512
DEFAULT_ROUNDS = 2


@dataclasses.dataclass(frozen=True)
class LayerCosts:
    """Per-layer best-mapping costs of a layer table on one accelerator (arrays over rows)."""

    cycles: np.ndarray  # int64
    energy_pj: np.ndarray  # float64
    utilization: np.ndarray  # float64, fraction of the MACs busy


def price_layers(table, accelerator: Accelerator, samples: int = DEFAULT_SAMPLES, rounds: int = DEFAULT_ROUNDS,
                 seed: int = 0) -> LayerCosts:
    """Best-mapping cycles and energy of every row of ``table`` on ``accelerator``."""
    # Keyed by the accelerator's value (not its identity), so equal designs share entries and a
    # recycled object id can never return another design's costs.
    hardware = (accelerator.name, repr(accelerator.architecture), repr(accelerator.mapspace), samples, rounds, seed)
    rows = [_price_problem(accelerator, hardware, _layer_key(table, i)) for i in range(len(table))]
    cycles, energy, util = zip(*rows) if rows else ((), (), ())
    return LayerCosts(np.array(cycles, dtype=np.int64), np.array(energy, dtype=np.float64), np.array(util, dtype=np.float64))


def _layer_key(table, i: int) -> tuple:
    return tuple(int(getattr(table, c)[i]) for c in ("K", "C", "Y", "X", "R", "S", "stride", "padding", "groups"))


#: Best-mapping costs by (hardware, layer), least recently used dropped beyond CACHE_SIZE.
CACHE_SIZE = 65_536
_CACHE: "collections.OrderedDict[tuple, tuple[int, float, float]]" = collections.OrderedDict()


def _price_problem(accelerator: Accelerator, hardware: tuple, key: tuple) -> tuple[int, float, float]:
    cache_key = (hardware, key)
    hit = _CACHE.get(cache_key)
    if hit is not None:
        _CACHE.move_to_end(cache_key)
        return hit
    from codesign_gym.costmodels.workloads import LayerTable

    K, C, Y, X, R, S, stride, padding, groups = key
    row = LayerTable.from_rows("layer", [dict(type="CONV" if groups == 1 else "GROUPCONV", K=K, C=C, Y=Y, X=X, R=R, S=S,
                                             stride=stride, padding=padding, groups=groups)])
    samples, rounds, seed = hardware[3:]
    choice = best_mapping(problem_from_layer(row, 0), accelerator.architecture, accelerator.mapspace,
                          samples=samples, rounds=rounds, seed=seed)
    value = (choice.cycles * groups, choice.energy_pj * groups, float(choice.result.utilization[0]))
    _CACHE[cache_key] = value
    if len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value


def price_network(arch: str | int, accelerator: Accelerator, dataset: str, samples: int = DEFAULT_SAMPLES,
                  rounds: int = DEFAULT_ROUNDS, seed: int = 0) -> SpaceCosts:
    """One NAS-Bench-201 network (arch string or index) on ``accelerator``, priced layer by
    layer from its full layer table (a check on :func:`price_space`'s shortcut)."""
    ds = nb201.canonical_dataset(dataset)
    index = arch if isinstance(arch, (int, np.integer)) else nb201.arch_index(arch)
    table = nb201.network_table(int(index), ds)
    layers = price_layers(table, accelerator, samples, rounds, seed)
    traffic = nb201.elementwise_traffic(int(index), ds)
    ew_cycles, ew_energy = elementwise_cost(accelerator, traffic.read_elements, traffic.write_elements)
    cycles = np.array([int(layers.cycles.sum()) + int(ew_cycles)], dtype=np.int64)
    energy = np.array([float(layers.energy_pj.sum()) + float(ew_energy)])
    accuracy = np.array([nb201.load_accuracies().accuracy(ds)[int(index)]])
    return SpaceCosts(np.array([int(index)]), accuracy, cycles, cycles / (accelerator.clock_mhz * 1e3), energy)


def _global_buffer(accelerator: Accelerator):
    """The first on-chip storage level (after DRAM) that holds data."""
    for level in accelerator.architecture.levels[1:]:
        if not level.dummy:
            return level
    raise ValueError(f"accelerator {accelerator.name!r} has no on-chip buffer")


def elementwise_cost(accelerator: Accelerator, read_elements, write_elements) -> tuple[np.ndarray, np.ndarray]:
    """(cycles, energy pJ) of element-wise traffic at the global buffer (see the module docstring)."""
    glb = _global_buffer(accelerator)
    reads = np.asarray(read_elements, dtype=np.float64)
    writes = np.asarray(write_elements, dtype=np.float64)
    energy = (reads * glb.energy.read + writes * glb.energy.write) / glb.block_size
    cycles = np.ceil((reads + writes) / glb.block_size).astype(np.int64)
    return cycles, energy


@dataclasses.dataclass(frozen=True)
class SpaceCosts:
    """Costs of networks on one accelerator (arrays over networks; NB201 index order)."""

    index: np.ndarray
    accuracy: np.ndarray  # test accuracy, %
    latency_cycles: np.ndarray  # int64
    latency_ms: np.ndarray
    energy_pj: np.ndarray

    @property
    def edp(self) -> np.ndarray:
        """Energy-delay product, pJ x cycles."""
        return self.energy_pj * self.latency_cycles


def price_space(accelerator: Accelerator, dataset: str, samples: int = DEFAULT_SAMPLES, rounds: int = DEFAULT_ROUNDS,
                seed: int = 0) -> SpaceCosts:
    """All 15,625 NAS-Bench-201 networks on ``accelerator`` (one inner search per distinct layer)."""
    ds = nb201.canonical_dataset(dataset)
    layers = nb201.space_layers(ds)
    fixed = price_layers(layers.fixed, accelerator, samples, rounds, seed)
    cells = price_layers(layers.cell_convs, accelerator, samples, rounds, seed)
    traffic = nb201.space_elementwise_traffic(ds)
    ew_cycles, ew_energy = elementwise_cost(accelerator, traffic.read_elements, traffic.write_elements)
    cycles = int(fixed.cycles.sum()) + layers.counts @ cells.cycles + ew_cycles
    energy = float(fixed.energy_pj.sum()) + layers.counts @ cells.energy_pj + ew_energy
    accuracy = nb201.load_accuracies().accuracy(ds)
    index = np.arange(cycles.size)
    return SpaceCosts(index, accuracy, cycles, cycles / (accelerator.clock_mhz * 1e3), energy)
