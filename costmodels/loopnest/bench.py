"""Throughput of :func:`.model.evaluate`: mappings per second on a 4-level architecture.

The architecture is a 4-level hierarchy (DRAM, a 128 KiB global buffer, a 16 x 16 array of
PE scratchpads and registers) with energies from the shipped tables; the problem is a
ResNet-style 3x3 convolution (C=M=64, P=Q=56). Mappings are random (see
:mod:`.random_mappings`); invalid ones are priced too, as a search would.
"""

from __future__ import annotations

import time

import numpy as np

from .architecture import ActionEnergy, Architecture, ComputeLevel, StorageLevel
from .energy_tables import mac_energy, storage_energy
from .model import evaluate
from .problem import conv_problem
from .random_mappings import random_mappings


def bench_architecture() -> Architecture:
    """DRAM -> global buffer (16384 x 64 bit, 45 nm) -> 256 PE scratchpads (192 x 16 bit) ->
    256 registers (one 16-bit word) -> 256 MACs, energies from :mod:`.energy_tables`."""
    def level(name, cls, depth, width, word_bits, instances, mesh_x, tech=45.0, capacity=None):
        e = storage_energy(cls, depth, width, tech)
        return StorageLevel(name, instances=instances, mesh_x=mesh_x, mesh_y=instances // mesh_x,
                            capacity_words=capacity, word_bits=word_bits, block_size=max(1, width // word_bits),
                            energy=ActionEnergy(e["read"], e["write"], e["update"], e["leak"]), component_class=cls)

    levels = (
        level("DRAM", "DRAM", None, 64, 8, 1, 1),
        level("shared_glb", "smartbuffer_SRAM", 16384, 64, 8, 1, 1, capacity=131072),
        level("pe_spad", "smartbuffer_SRAM", 192, 16, 16, 256, 16, capacity=192),
        level("reg", "smartbuffer_RF", 16, 16, 16, 256, 16, capacity=16),
    )
    return Architecture("bench4", levels, ComputeLevel("mac", 256, 16, 16, mac_energy=mac_energy("intmac", 45.0, 8)))


def run_benchmark(batch_sizes=(1, 1_000, 10_000, 100_000), seed: int = 0, min_seconds: float = 0.5) -> list[dict]:
    """One row per batch size: mappings per CPU-second of this process (best of repeated
    timings over at least ``min_seconds``). CPU time, not wall time, so that other load on
    the machine does not count; run with ``OMP_NUM_THREADS=1`` for a one-core figure."""
    problem = conv_problem(R=3, S=3, P=56, Q=56, C=64, M=64)
    arch = bench_architecture()
    rng = np.random.default_rng(seed)
    rows = []
    for batch in batch_sizes:
        mappings = random_mappings(problem, arch, batch, rng)
        evaluate(problem, arch, mappings)  # warm-up
        runs, start = 0, time.process_time()
        best = float("inf")
        while True:
            t0 = time.process_time()
            result = evaluate(problem, arch, mappings)
            best = min(best, time.process_time() - t0)
            runs += 1
            if time.process_time() - start >= min_seconds:
                break
        rows.append({"batch": batch, "mappings_per_s": batch / best, "valid_fraction": float(result.valid.mean()), "runs": runs})
    return rows
