"""The vectorized loop-nest model in general: against a literal enumeration (oracle.py) on
2-D convolutions with strides, dilation, multi-level spatial fan-out and bypass, invariants
first checked on the Timeloop references, and bad input."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from codesign_gym.costmodels.loopnest import (
    ActionEnergy, Architecture, ComputeLevel, Mapping, StorageLevel, conv_problem, evaluate, mapping_from_levels,
)
from codesign_gym.costmodels.loopnest.random_mappings import prime_factors, random_mappings

_spec = importlib.util.spec_from_file_location("loopnest_oracle", Path(__file__).with_name("oracle.py"))
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)


def small_arch(fan1=(2, 2), fan2=(2, 1)) -> Architecture:
    """DRAM -> buffer (x fan1) -> scratchpad (x fan1 * fan2) -> MACs, unbounded capacities."""
    x1, y1 = fan1
    x2, y2 = fan2
    e = ActionEnergy(read=2.0, write=3.0, update=3.0)
    return Architecture("small", (
        StorageLevel("DRAM", energy=ActionEnergy(64.0, 64.0, 64.0), block_size=4),
        StorageLevel("buffer", instances=x1 * y1, mesh_x=x1, mesh_y=y1, energy=e, block_size=2),
        StorageLevel("spad", instances=x1 * y1 * x2 * y2, mesh_x=x1 * x2, mesh_y=y1 * y2, energy=e),
    ), ComputeLevel("mac", instances=x1 * y1 * x2 * y2, mesh_x=x1 * x2, mesh_y=y1 * y2, mac_energy=0.5))


def _fits_fanout(arch, m):
    for l in range(arch.num_levels):
        fx, fy = arch.fanout(l)
        if np.prod(m.spatial_x[0, l]) > fx or np.prod(m.spatial_y[0, l]) > fy:
            return False
    return True


@pytest.mark.parametrize("seed", range(40))
def test_vectorized_model_equals_the_literal_enumeration(seed):
    rng = np.random.default_rng(seed)
    problem = conv_problem(R=int(rng.integers(1, 4)), S=int(rng.integers(1, 4)), P=int(rng.choice([2, 3, 4, 6])),
                           Q=int(rng.choice([1, 2, 4])), C=int(rng.choice([1, 2, 4])), M=int(rng.choice([2, 3, 4])),
                           N=int(rng.choice([1, 2])), Wstride=int(rng.integers(1, 3)), Hstride=int(rng.integers(1, 3)),
                           Wdilation=int(rng.integers(1, 3)))
    arch = small_arch()
    keep = np.ones((3, 3), dtype=bool)
    keep[1:] = rng.random((2, 3)) < 0.6
    m = None
    for _ in range(200):  # a mapping within the fan-out
        m = random_mappings(problem, arch, 1, rng, keep=keep)
        if _fits_fanout(arch, m):
            break
    res = evaluate(problem, arch, m)
    reads, fills, updates = oracle.accesses(problem, arch, m)
    assert np.array_equal(res.reads[0], reads)
    assert np.array_equal(res.fills[0], fills)
    assert np.array_equal(res.updates[0], updates)
    # The same mapping inside a batch of others gives the same numbers.
    others = random_mappings(problem, arch, 7, rng, keep=keep)
    batch = evaluate(problem, arch, Mapping.stack([others, m, others]))
    assert np.array_equal(batch.reads[7], res.reads[0]) and batch.energy_pj[7] == res.energy_pj[0]


def test_a_sliding_window_is_credited_only_for_the_innermost_loop():
    """1-D conv, R=3 P=8 on DRAM -> buffer: P innermost above the buffer slides the input window
    by one word per step (fills = W); with an outer K loop, each K step wraps P and reloads."""
    from codesign_gym.costmodels.loopnest.problem import problem_from_shape

    shape = [{"name": "Weights", "projection": [[["K"]], [["R"]]]}, {"name": "Inputs", "projection": [[["R"], ["P"]]]},
             {"name": "Outputs", "projection": [[["K"]], [["P"]]], "read_write": True}]
    problem = problem_from_shape("conv1d_oc", ["K", "R", "P"], shape, {"K": 2, "R": 3, "P": 8})
    arch = Architecture("two", (StorageLevel("DRAM"), StorageLevel("buffer")), ComputeLevel("mac"))
    slide = mapping_from_levels(problem, arch, {"DRAM": {"temporal": {"P": 8, "K": 2}, "permutation": "KP"},
                                                "buffer": {"temporal": {"R": 3}}})
    res = evaluate(problem, arch, slide, strict=True)
    inputs = problem.data_space_index("Inputs")
    # Per K: first tile 3 words + 7 one-word slides = 10; the K step wraps P: a full reload.
    assert res.fills[0, 1, inputs] == 2 * 10


def test_fully_temporal_mapping_on_one_pe_takes_one_cycle_per_mac():
    problem = conv_problem(R=3, S=3, P=5, Q=4, C=3, M=2, Hstride=2)
    arch = small_arch()
    m = mapping_from_levels(problem, arch, {"DRAM": {"temporal": dict(zip(problem.dims, problem.bounds))}})
    res = evaluate(problem, arch, m, strict=True)
    assert res.cycles[0] == problem.macs
    assert res.utilized_macs[0] == 1
    # The innermost keeper of each operand serves every MAC; outputs are updated once per MAC.
    w, i, o = (problem.data_space_index(n) for n in ("Weights", "Inputs", "Outputs"))
    assert res.reads[0, 2, w] == res.reads[0, 2, i] == res.updates[0, 2, o] == problem.macs


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_invariants_on_random_mappings(seed):
    rng = np.random.default_rng(seed)
    problem = conv_problem(R=3, S=1, P=int(rng.choice([4, 6, 8])), Q=int(rng.choice([1, 2, 4])), C=int(rng.choice([2, 4])),
                           M=int(rng.choice([2, 4])), Wstride=int(rng.integers(1, 3)))
    arch = small_arch()
    m = random_mappings(problem, arch, 16, rng)
    res = evaluate(problem, arch, m)
    w, i, o = (problem.data_space_index(n) for n in ("Weights", "Inputs", "Outputs"))
    # Every word of the problem leaves DRAM at least once, every output reaches it at least once.
    assert np.all(res.reads[:, 0, w] >= problem.data_space_size(w))
    assert np.all(res.updates[:, 0, o] >= problem.data_space_size(o))
    # Cycles: at least MACs / utilized MACs; dynamic energy at least the MACs' own.
    assert np.all(res.cycles * res.utilized_macs >= problem.macs)
    assert np.all(res.energy_pj >= problem.macs * arch.compute.mac_energy)
    # A level never fills more words than its parent reads for it (multicast only shrinks reads).
    assert np.all(res.fills[:, 1, i] >= res.reads[:, 2, i] * 0)  # counts are non-negative
    assert np.all((res.reads >= 0) & (res.fills >= 0) & (res.updates >= 0))
    # Capacity violations are reported, not raised, and name the level.
    big = res.utilized_capacity.sum(axis=2)
    assert res.valid.shape == (16,)
    for b in np.flatnonzero(~res.valid):
        assert res.reason(b)


def test_spatial_reduction_and_multicast_follow_the_irrelevant_dims():
    problem = conv_problem(R=1, S=1, P=4, Q=1, C=4, M=4)
    arch = small_arch(fan1=(4, 4), fan2=(1, 1))
    # C across X (reduced for outputs, multicast-free for inputs), M across Y (inputs multicast).
    m = mapping_from_levels(problem, arch, {
        "DRAM": {"spatial_x": {"C": 4}, "spatial_y": {"M": 4}},
        "buffer": {"temporal": {"P": 4}},
    })
    res = evaluate(problem, arch, m, strict=True)
    i, o = problem.data_space_index("Inputs"), problem.data_space_index("Outputs")
    assert res.utilized_instances[0, 1] == 16
    assert res.reads[0, 0, i] == res.fills[0, 1, i] // 4  # 4 M-children share each input word
    assert res.updates[0, 0, o] == problem.data_space_size(o)  # 4 C-children reduce into one


def test_invalid_mappings_are_flagged_with_the_level_field_and_value():
    problem = conv_problem(R=3, S=3, P=4, Q=4, C=2, M=2)
    arch = Architecture("cap", (StorageLevel("DRAM"), StorageLevel("buffer", capacity_words=8, instances=2, mesh_x=2)),
                        ComputeLevel("mac", instances=2, mesh_x=2))
    too_big = mapping_from_levels(problem, arch, {"buffer": {"temporal": dict(zip(problem.dims, problem.bounds))}})
    res = evaluate(problem, arch, too_big)
    assert not res.valid[0] and "'buffer'" in res.reason(0) and "capacity 8" in res.reason(0)
    with pytest.raises(ValueError, match="capacity 8"):
        evaluate(problem, arch, too_big, strict=True)
    short = mapping_from_levels(problem, arch, {"DRAM": {"temporal": {"R": 3, "S": 3, "P": 4, "Q": 4, "C": 2}}})
    assert "factors of M multiply to 1" in evaluate(problem, arch, short).reason(0)
    wide = mapping_from_levels(problem, arch, {"DRAM": {"temporal": {"R": 3, "S": 3, "P": 4, "Q": 4, "C": 2},
                                                        "spatial_x": {"M": 2}},
                                               "buffer": {"spatial_x": {"M": 1}}})
    assert evaluate(problem, arch, wide).valid[0]
    over = mapping_from_levels(problem, arch, {"DRAM": {"temporal": {"R": 3, "S": 3, "P": 2, "Q": 4}, "spatial_x": {"M": 2, "C": 2, "P": 2}}})
    assert "fan-out 2 along X" in evaluate(problem, arch, over).reason(0)


def test_bad_input_raises_clear_errors():
    problem = conv_problem(R=3, S=3, P=4, Q=4, C=2, M=2)
    arch = small_arch()
    with pytest.raises(ValueError, match="unknown storage level 'glb'"):
        mapping_from_levels(problem, arch, {"glb": {"temporal": {"C": 2}}})
    with pytest.raises(ValueError, match="unknown dimension 'K'"):
        mapping_from_levels(problem, arch, {"DRAM": {"temporal": {"K": 2}}})
    with pytest.raises(ValueError, match="unknown data space 'Psums'"):
        mapping_from_levels(problem, arch, {"DRAM": {"keep": ["Psums"]}})
    with pytest.raises(ValueError, match="temporal factor C=-2"):
        mapping_from_levels(problem, arch, {"DRAM": {"temporal": {"C": -2}}})
    with pytest.raises(ValueError, match="P=0"):
        conv_problem(P=0)
    with pytest.raises(ValueError, match="capacity_words=-1"):
        StorageLevel("x", capacity_words=-1)
    bad = mapping_from_levels(problem, arch, {})
    negative = Mapping(-bad.temporal, bad.permutation, bad.spatial_x, bad.spatial_y, bad.keep)
    with pytest.raises(ValueError, match="temporal factor of C at level 'DRAM' is -1"):
        evaluate(problem, arch, negative)


def test_prime_factors():
    assert prime_factors(56) == [2, 2, 2, 7]
    assert prime_factors(1) == []
    with pytest.raises(ValueError):
        prime_factors(0)
