"""Timeloop's bandwidth throttling, as the loop-nest model reproduces it.

What Timeloop does (v3.0.3, ``BufferLevel::ComputePerformance`` in ``src/model/buffer.cpp`` and
``Topology::ComputeStats`` in ``src/model/topology.cpp``; the fork behind the DOSA rows below
has the same code):

1. per storage level and data space, the per-instance demand is ``double(count) / compute_cycles``
   words per cycle: reads for the read demand, fills + updates for the write demand;
2. the level's read (write) demand is the sum of these over the data spaces, in problem order,
   accumulated in doubles from 0.0;
3. its slowdown starts at 1.0 and takes the minimum with ``read_bandwidth / read demand``,
   ``write_bandwidth / write demand`` and ``shared_bandwidth / (write + read demand)``, each only
   where that bandwidth is given and strictly below the demand;
4. the level takes ``ceil(compute_cycles / slowdown)`` cycles; the run takes the largest over the
   levels and compute. Slowdowns of different levels do not multiply.

The constructed cases use slowdowns that are exact in binary (0.5, 0.25), so their cycle counts
follow by hand with no rounding question; two cases (the issue's and a tiny one) are about how
Timeloop's doubles round, and the DOSA rows are real Timeloop output.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from codesign_gym.costmodels.loopnest import (
    Architecture, ComputeLevel, Mapping, StorageLevel, conv_problem, evaluate, mapping_from_levels, read_spec,
)
from codesign_gym.costmodels.loopnest.model import throttled_cycles
from codesign_gym.costmodels.loopnest.timeloop_yaml import read_architecture

TIMELOOP = Path(__file__).resolve().parents[2] / "data" / "timeloop"
DOSA_ROWS = Path(__file__).with_name("data") / "dosa_gemmini_timeloop_rows.csv"


def one_level(**bandwidths) -> Architecture:
    """DRAM (unbounded, the only storage level) -> one MAC."""
    return Architecture("one_level", (StorageLevel("DRAM", **bandwidths),), ComputeLevel("mac"))


def two_level(dram: dict, buffer: dict) -> Architecture:
    """DRAM -> one buffer -> one MAC."""
    return Architecture("two_level", (StorageLevel("DRAM", **dram), StorageLevel("buffer", **buffer)), ComputeLevel("mac"))


# Problem of the constructed cases: pointwise, C=4, M=2, P=8 -> 64 MACs; Weights C x M = 8 words,
# Inputs C x P = 32, Outputs M x P = 16.
SMALL = dict(C=4, M=2, P=8)


def _single_level_run(arch):
    """All 64 iterations are temporal loops of DRAM, which is the innermost keeper of every data
    space: compute cycles 64; reads W 64 + I 64 (one per MAC) + O 64 - 16 = 48 (every update but
    the first of each output point reads the partial sum) = 176; updates O 64; no fills (top level).
    Per cycle: read demand 64/64 + 64/64 + 48/64 = 2.75, write demand 64/64 = 1.0."""
    problem = conv_problem(**SMALL)
    m = mapping_from_levels(problem, arch, {"DRAM": {"temporal": {"C": 4, "M": 2, "P": 8}}})
    res = evaluate(problem, arch, m, strict=True)
    assert res.compute_cycles[0] == 64
    assert res.reads[0, 0].tolist() == [64, 64, 48] and res.updates[0, 0].tolist() == [0, 0, 64]
    assert res.fills[0, 0].tolist() == [0, 0, 0]
    return res


def test_unthrottled_when_every_demand_is_within_its_bandwidth():
    # read 2.75 <= 2.75, write 1.0 <= 1.0: equal is not short (Timeloop tests bandwidth < demand).
    res = _single_level_run(one_level(read_bandwidth=2.75, write_bandwidth=1.0))
    assert res.cycles[0] == 64


def test_read_bandwidth_throttles_one_level():
    # read_bandwidth 1.375 < 2.75: slowdown 1.375 / 2.75 = 0.5; cycles ceil(64 / 0.5) = 128
    # (= 176 reads / 1.375 words per cycle). Write 1.0 < 2: not limiting.
    res = _single_level_run(one_level(read_bandwidth=1.375, write_bandwidth=2.0))
    assert res.cycles[0] == 128
    assert res.utilization[0] == pytest.approx(64 / 128)


def test_shared_bandwidth_caps_reads_plus_writes():
    # read 2.75 <= 3, write 1.0 <= 1: neither alone throttles; reads + writes = 3.75 words per cycle
    # against shared_bandwidth 1.875: slowdown 0.5, cycles 128 (= 240 accesses / 1.875).
    res = _single_level_run(one_level(read_bandwidth=3.0, write_bandwidth=1.0, shared_bandwidth=1.875))
    assert res.cycles[0] == 128
    # shared 0.9375: slowdown 0.25 -> 256; the smallest ratio wins over read 2.2 (2.2 / 2.75 = 0.8).
    res = _single_level_run(one_level(read_bandwidth=2.2, shared_bandwidth=0.9375))
    assert res.cycles[0] == 256


def test_write_demand_is_per_instance():
    """DRAM fans P out over 4 PE buffers (P4 spatial); each PE loops C4 M2 P2 (16 cycles) and keeps
    every data space, so per PE: fills W 8 (all of C x M), I 4 x 2 = 8, O 0 (first fills of
    outputs are elided), updates O 16 (one per MAC), reads W 16 + I 16 + O 16 - 4 = 44.
    Write demand per instance (8 + 8 + 16) / 16 = 2.0 words/cycle; write_bandwidth 1.0 gives
    slowdown 0.5 and 32 cycles. (Totals over the 4 PEs would give 4x the demand and 128.)
    Read demand 44 / 16 = 2.75 equals read_bandwidth 2.75: not limiting."""
    problem = conv_problem(**SMALL)
    arch = Architecture("pe4", (
        StorageLevel("DRAM"),
        StorageLevel("pe", instances=4, mesh_x=4, read_bandwidth=2.75, write_bandwidth=1.0),
    ), ComputeLevel("mac", instances=4, mesh_x=4))
    m = mapping_from_levels(problem, arch, {"DRAM": {"spatial_x": {"P": 4}}, "pe": {"temporal": {"C": 4, "M": 2, "P": 2}}})
    res = evaluate(problem, arch, m, strict=True)
    assert res.compute_cycles[0] == 16
    assert res.utilized_instances[0].tolist() == [1, 4]
    assert (res.fills[0, 1] // 4).tolist() == [8, 8, 0] and (res.updates[0, 1] // 4).tolist() == [0, 0, 16]
    assert (res.reads[0, 1] // 4).tolist() == [16, 16, 12]
    assert res.cycles[0] == 32


def _two_level_run(dram: dict, buffer: dict):
    """DRAM -> buffer -> MAC; all loops at the buffer (compute cycles 64), both keep everything.
    Buffer: reads W 64 + I 64 + O 48 = 176 (2.75/cycle); fills W 8 + I 32 + O 0 and updates O 64:
    writes 104 (1.625/cycle). DRAM serves the buffer's fills, W 8 + I 32 + O 0 = 40 reads
    (0.625/cycle), and takes its 16 output drains as updates (0.25/cycle)."""
    problem = conv_problem(**SMALL)
    arch = two_level(dram, buffer)
    m = mapping_from_levels(problem, arch, {"buffer": {"temporal": {"C": 4, "M": 2, "P": 8}}})
    res = evaluate(problem, arch, m, strict=True)
    assert res.compute_cycles[0] == 64
    assert res.reads[0].tolist() == [[8, 32, 0], [64, 64, 48]]
    assert res.fills[0].tolist() == [[0, 0, 0], [8, 32, 0]]
    assert res.updates[0].tolist() == [[0, 0, 16], [0, 0, 64]]
    return res


def test_two_levels_throttled_at_once_take_the_slower_not_the_product():
    # DRAM read_bandwidth 0.3125 < 0.625: slowdown 0.5 -> 128 cycles on its own;
    # buffer read_bandwidth 0.6875 < 2.75: slowdown 0.25 -> 256 cycles on its own.
    # Timeloop takes the largest level's cycles: 256 (not 64 / (0.5 * 0.25) = 512).
    res = _two_level_run({"read_bandwidth": 0.3125}, {"read_bandwidth": 0.6875})
    assert res.cycles[0] == 256
    # DRAM binding instead: read_bandwidth 0.078125 (slowdown 0.125 -> 512) with the buffer's
    # write_bandwidth 0.8125 < 1.625 (slowdown 0.5 -> 128): 512.
    res = _two_level_run({"read_bandwidth": 0.078125}, {"write_bandwidth": 0.8125})
    assert res.cycles[0] == 512
    # A read limit at one level and a shared limit at the other: DRAM write_bandwidth 0.0625 < 0.25
    # (0.25 -> 256) and buffer shared_bandwidth 1.09375 < 2.75 + 1.625 = 4.375 (0.25 -> 256): 256.
    res = _two_level_run({"write_bandwidth": 0.0625}, {"shared_bandwidth": 1.09375})
    assert res.cycles[0] == 256


def test_timeloops_double_rounding_can_add_a_cycle():
    """Pointwise C=6, M=3 on DRAM alone: 18 MACs = 18 cycles; reads W 18 + I 18 + O 18 - 3 = 15
    = 51. At read_bandwidth 1.0 exact arithmetic gives 51 cycles, but Timeloop's doubles give 52:
    demand 18/18 + 18/18 + 15/18 = 2.8333333333333335 (15/18 rounds up), slowdown
    1 / 2.8333333333333335 = 0.35294117647058820 (< 6/17), 18 / 0.3529411764705882 =
    51.00000000000001, whose ceiling is 52. The model follows Timeloop's steps."""
    problem = conv_problem(C=6, M=3)
    arch = one_level(read_bandwidth=1.0)
    m = mapping_from_levels(problem, arch, {"DRAM": {"temporal": {"C": 6, "M": 3}}})
    res = evaluate(problem, arch, m, strict=True)
    assert res.compute_cycles[0] == 18 and res.reads[0, 0].tolist() == [18, 18, 15]
    assert math.ceil(18 / (1.0 / (0.0 + 18 / 18 + 18 / 18 + 15 / 18))) == 52
    assert res.cycles[0] == 52


def test_issue_21_pointwise_layer_on_simple_weight_stationary():
    """C=32, M=16, P=Q=56 on the simple_weight_stationary design: Timeloop v3.0.3 gives 12,576
    cycles (issue #21). Compute cycles 6,272 (1,605,632 MACs on 256 PEs). shared_glb (one
    instance, read and write bandwidth 16 words/cycle) keeps everything:
    fills W 512 (C x M, once) + I 100,352 (C x P x Q, once), updates O 100,352 (M x P x Q = 50,176
    outputs, each visited twice by the pe_spad C2 loop), so writes 201,216 = 32.08/cycle;
    reads W 512 + I 100,352 + O 50,176 (the second visit's partial sums) = 151,040 = 24.08/cycle.
    Write is the tighter: exactly 201,216 / 16 = 12,576 cycles. Timeloop's doubles:
    512/6272 + 16 + 16 = 32.08163265306122, 16 / that = 0.4987277353689568,
    6272 / that = 12575.999999999998, ceiling 12,576. The former formula,
    ceil(6272 * 201216 / (6272 * 16)), met 12576.000000000002 and gave 12,577."""
    spec = read_spec(TIMELOOP / "simple_weight_stationary" / "parsed-processed-input.yaml")
    arch = spec.architecture
    problem = conv_problem(C=32, M=16, P=56, Q=56)
    m = mapping_from_levels(problem, arch, {
        "DRAM": {"temporal": {"Q": 2, "P": 2}, "permutation": "QP"},
        "shared_glb": {"temporal": {"Q": 7}},
        "inter_PE_spatial": {"spatial_x": {"C": 16}, "spatial_y": {"M": 16}},
        "pe_spad": {"temporal": {"P": 2, "Q": 2, "C": 2}, "permutation": "PQC", "keep": ["Weights"]},
        "weight_reg": {"temporal": {"P": 14, "Q": 2}, "permutation": "PQ", "keep": ["Weights"]},
        "input_activation_reg": {"keep": ["Inputs"]},
        "output_activation_reg": {"keep": ["Outputs"]},
    })
    res = evaluate(problem, arch, m, strict=True)
    glb = arch.level_index("shared_glb")
    assert res.compute_cycles[0] == 6272
    assert res.reads[0, glb].tolist() == [512, 100352, 50176]
    assert res.fills[0, glb].tolist() == [512, 100352, 0] and res.updates[0, glb].tolist() == [0, 0, 100352]
    assert res.cycles[0] == 12576


def test_bandwidth_attributes_of_a_timeloop_input():
    """read_bandwidth / write_bandwidth / shared_bandwidth are read as given; the deprecated
    ``bandwidth`` means read = write = bandwidth / 2 unless those are given (BufferLevel::ParseSpecs)."""
    spec = yaml.safe_load((TIMELOOP / "simple_weight_stationary" / "parsed-processed-input.yaml").read_text())
    local = spec["architecture"]["subtree"][0]["local"]
    names = [c["name"].split("[")[0] for c in local]
    dram, glb = local[names.index("DRAM")]["attributes"], local[names.index("shared_glb")]["attributes"]
    dram["bandwidth"] = 8
    glb["shared_bandwidth"] = 24
    levels = {lvl.name: lvl for lvl in read_architecture(spec).levels}
    assert (levels["DRAM"].read_bandwidth, levels["DRAM"].write_bandwidth, levels["DRAM"].shared_bandwidth) == (4.0, 4.0, None)
    assert (levels["shared_glb"].read_bandwidth, levels["shared_glb"].write_bandwidth, levels["shared_glb"].shared_bandwidth) == (16.0, 16.0, 24.0)
    dram["read_bandwidth"] = 6
    levels = {lvl.name: lvl for lvl in read_architecture(spec).levels}
    assert (levels["DRAM"].read_bandwidth, levels["DRAM"].write_bandwidth) == (6.0, 4.0)
    assert levels["pe_spad"].shared_bandwidth is None and levels["pe_spad"].read_bandwidth is None
    with pytest.raises(ValueError, match="shared_bandwidth"):
        StorageLevel("x", shared_bandwidth=0.0)


def test_throttled_cycles_beyond_int64_are_marked_invalid():
    # 176 reads at 1e-300 words per cycle: ~1.8e302 cycles, far beyond int64.
    problem = conv_problem(**SMALL)
    arch = one_level(read_bandwidth=1e-300)
    m = mapping_from_levels(problem, arch, {"DRAM": {"temporal": {"C": 4, "M": 2, "P": 8}}})
    res = evaluate(problem, arch, m)
    assert res.invalid_code[0] == 5 and res.cycles[0] == 0 and res.energy_pj[0] == 0
    assert "throttled cycles would not fit in int64" in res.reason(0)


# --- Real Timeloop output: DOSA's Gemmini runs (tests/costmodels/loopnest/data/SOURCE.md) ----------

_DIM = {"K": "M"}  # DOSA's cnn-layer K is our M


def _gemmini(row) -> Architecture:
    pe = int(row["arch.meshX"])
    return Architecture("gemmini", (
        StorageLevel("DRAM", word_bits=8, block_size=64, shared_bandwidth=8.0),
        StorageLevel("Scratchpad", capacity_words=int(row["arch.mem2_entries"]), word_bits=8,
                     shared_bandwidth=float(row["arch.mem2_shared_bandwidth"])),
        StorageLevel("Accumulator", instances=pe, mesh_x=pe, capacity_words=int(row["arch.mem1_entries"]), word_bits=32,
                     shared_bandwidth=float(row["arch.mem1_shared_bandwidth"])),
        StorageLevel("Registers", instances=pe * pe, mesh_x=pe * pe, capacity_words=1, word_bits=8),
    ), ComputeLevel("MACC", pe * pe, pe * pe))


def _dosa_problem(row):
    g = {k[5:]: int(v) for k, v in row.items() if k.startswith("prob.") and k != "prob.shape"}
    return conv_problem(R=g["R"], S=g["S"], P=g["P"], Q=g["Q"], C=g["C"], M=g["K"], N=g["N"], Wstride=g["Wstride"],
                        Hstride=g["Hstride"], Wdilation=g["Wdilation"], Hdilation=g["Hdilation"])


def _dosa_mapping(problem, text) -> tuple:
    """DOSA's mapping string -> (temporal, permutation, spatial_x, spatial_y, keep) of one mapping."""
    L, D = 4, problem.num_dims
    t, sx, sy = (np.ones((L, D), dtype=np.int64) for _ in range(3))
    perm, keep = np.zeros((L, D), dtype=np.int64), np.zeros((L, 3), dtype=bool)
    parts = text.split(" - ")
    assert len(parts) == L
    for l, part in enumerate(parts):
        tag, *tokens = part.split()
        kept = tag[tag.index("[") + 1:-1]
        keep[l] = [ds in kept for ds in "WIO"]
        order = []
        for tok in tokens:
            dim, factor, axis = re.fullmatch(r"([RSPQCKN])(\d+)([XY]?)", tok).groups()
            d = problem.dims.index(_DIM.get(dim, dim))
            {"X": sx, "Y": sy, "": t}[axis][l, d] *= int(factor)
            if not axis and d not in order:
                order.append(d)
        perm[l] = order + [d for d in range(D) if d not in order]
    return t, perm, sx, sy, keep


def _dosa_rows():
    with DOSA_ROWS.open(newline="") as f:
        return list(csv.DictReader(f))


def test_real_timeloop_throttled_runs_dosa_gemmini():
    """48 rows of DOSA's Timeloop runs (pointwise layers): throttled by DRAM, the Scratchpad, the
    Accumulator, two or three levels at once, and rows where Timeloop's doubles round one cycle
    above exact arithmetic. The fork that produced them throttles with v3.0.3's code but does not
    elide the first fill of outputs at the Accumulator (SOURCE.md): its Accumulator write counts
    are the model's plus one per output point an instance holds, which is added here before
    the model's throttling computes the cycles. Mappings of one (arch, layer) are priced as a batch."""
    rows = _dosa_rows()
    groups: dict = {}
    for i, row in enumerate(rows):
        key = tuple(v for k, v in row.items() if k.startswith(("arch.", "prob.")))
        groups.setdefault(key, []).append(i)
    got = np.zeros(len(rows), dtype=np.int64)
    unthrottled = 0
    for idx in groups.values():
        arch, problem = _gemmini(rows[idx[0]]), _dosa_problem(rows[idx[0]])
        parts = [_dosa_mapping(problem, rows[i]["mapping.mapping"]) for i in idx]
        m = Mapping(*(np.stack([p[j] for p in parts]) for j in range(5)))
        res = evaluate(problem, arch, m)
        assert res.valid.all()
        # The v2-era fill: one per output point per Accumulator instance (its partition).
        above = np.prod(m.spatial_x[:, :2] * m.spatial_y[:, :2], axis=1)  # (B, D) fan-out above the Accumulator
        out_dims = [problem.dims.index(d) for d in ("N", "M", "P", "Q")]
        partition = np.prod((np.asarray(problem.bounds) // above)[:, out_dims], axis=1)
        fills = res.fills.copy()
        fills[:, 2, 2] += partition * res.utilized_instances[:, 2]
        cycles, over, _ = throttled_cycles(arch, res.compute_cycles, res.reads, fills, res.updates, res.utilized_instances)
        assert not over.any()
        got[idx] = cycles
        unthrottled += int((cycles == res.compute_cycles).sum())
    want = np.array([int(r["target.cycle"]) for r in rows])
    assert got.tolist() == want.tolist()
    assert unthrottled == 4
