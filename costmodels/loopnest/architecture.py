"""An accelerator as Timeloop sees it: storage levels from the outermost (DRAM) inward, then compute.

Each storage level has ``instances`` copies laid out as a ``mesh_x x mesh_y`` grid; the
fan-out from a level to the next inner one is the ratio of their instance counts (and of
their meshes, per axis). Capacity is in words (``None``: unbounded, e.g. DRAM); one access
moves a block of ``block_size`` words and costs one entry of the level's energy table.
A *dummy* level (Timeloop's ``dummy_storage``) holds nothing: it only names a fan-out so a
mapping can place spatial loops there.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence


@dataclasses.dataclass(frozen=True)
class ActionEnergy:
    """Energy of one action on one block (pJ); ``leak`` is pJ per instance per cycle."""

    read: float = 0.0
    write: float = 0.0
    update: float = 0.0
    leak: float = 0.0

    def __post_init__(self) -> None:
        for field in ("read", "write", "update", "leak"):
            value = getattr(self, field)
            if not value >= 0:
                raise ValueError(f"energy {field}={value!r} pJ; expected a non-negative number")


@dataclasses.dataclass(frozen=True)
class StorageLevel:
    """One storage level.

    ``capacity_words``: words per instance (``None`` = unbounded). ``word_bits``: bits per word.
    ``block_size``: words per access (Timeloop's ``width / (datawidth * cluster_size)``).
    ``cluster_size``: instances that share one physical access (e.g. a 512-bit register
    feeding 64 MAC lanes): an access is charged once per utilized cluster, not per instance. ``read_bandwidth`` /
    ``write_bandwidth`` / ``shared_bandwidth``: words per cycle per instance for reads, for
    writes (fills + updates), and for both together (``None`` = unlimited; Timeloop's
    attributes of those names). ``keeps``: data
    spaces this level may hold (``None`` = any; the mapping chooses keep/bypass).
    """

    name: str
    instances: int = 1
    mesh_x: int = 1
    mesh_y: int = 1
    capacity_words: int | None = None
    word_bits: int = 8
    block_size: int = 1
    energy: ActionEnergy = ActionEnergy()
    read_bandwidth: float | None = None
    write_bandwidth: float | None = None
    dummy: bool = False
    component_class: str = ""
    cluster_size: int = 1
    shared_bandwidth: float | None = None

    def __post_init__(self) -> None:
        for field in ("instances", "mesh_x", "mesh_y", "word_bits", "block_size", "cluster_size"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"storage level {self.name!r}: {field}={value!r}; expected a positive integer")
        if self.mesh_x * self.mesh_y != self.instances:
            raise ValueError(f"storage level {self.name!r}: mesh {self.mesh_x}x{self.mesh_y} != instances {self.instances}")
        if self.capacity_words is not None and (not isinstance(self.capacity_words, int) or self.capacity_words < 0):
            raise ValueError(f"storage level {self.name!r}: capacity_words={self.capacity_words!r}; expected a non-negative integer or None")
        for field in ("read_bandwidth", "write_bandwidth", "shared_bandwidth"):
            value = getattr(self, field)
            if value is not None and not value > 0:
                raise ValueError(f"storage level {self.name!r}: {field}={value!r}; expected a positive number or None")


@dataclasses.dataclass(frozen=True)
class ComputeLevel:
    """The MAC array: ``instances`` units on a ``mesh_x x mesh_y`` grid, ``mac_energy`` pJ per compute."""

    name: str
    instances: int = 1
    mesh_x: int = 1
    mesh_y: int = 1
    mac_energy: float = 0.0
    leak: float = 0.0

    def __post_init__(self) -> None:
        for field in ("instances", "mesh_x", "mesh_y"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"compute level {self.name!r}: {field}={value!r}; expected a positive integer")
        if self.mesh_x * self.mesh_y != self.instances:
            raise ValueError(f"compute level {self.name!r}: mesh {self.mesh_x}x{self.mesh_y} != instances {self.instances}")
        if not self.mac_energy >= 0:
            raise ValueError(f"compute level {self.name!r}: mac_energy={self.mac_energy!r}; expected a non-negative number of pJ")


@dataclasses.dataclass(frozen=True)
class Architecture:
    """Storage levels outermost first, then the compute level; ``cycle_seconds`` is the clock period."""

    name: str
    levels: tuple[StorageLevel, ...]
    compute: ComputeLevel
    cycle_seconds: float = 1e-9

    def __post_init__(self) -> None:
        if not self.levels:
            raise ValueError(f"architecture {self.name!r}: expected at least one storage level")
        names = [lvl.name for lvl in self.levels]
        if len(set(names)) != len(names):
            raise ValueError(f"architecture {self.name!r}: repeated level names {names}")
        chain = [*self.levels, self.compute]
        for outer, inner in zip(chain[:-1], chain[1:]):
            if inner.mesh_x % outer.mesh_x or inner.mesh_y % outer.mesh_y:
                raise ValueError(
                    f"architecture {self.name!r}: level {inner.name!r} mesh {inner.mesh_x}x{inner.mesh_y} is not a multiple "
                    f"of the enclosing level {outer.name!r} mesh {outer.mesh_x}x{outer.mesh_y}")

    @property
    def num_levels(self) -> int:
        return len(self.levels)

    def level_index(self, name: str) -> int:
        names = [lvl.name for lvl in self.levels]
        if name not in names:
            raise ValueError(f"unknown storage level {name!r}; expected one of {', '.join(names)}")
        return names.index(name)

    def fanout(self, level: int) -> tuple[int, int]:
        """(X, Y) fan-out from storage level ``level`` to the next inner level (or compute)."""
        chain = [*self.levels, self.compute]
        outer, inner = chain[level], chain[level + 1]
        return inner.mesh_x // outer.mesh_x, inner.mesh_y // outer.mesh_y

    def with_levels(self, levels: Sequence[StorageLevel], **changes) -> "Architecture":
        return dataclasses.replace(self, levels=tuple(levels), **changes)
