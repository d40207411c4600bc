"""Counts beyond int64 in both cost models: a clear error or an invalid point, never a wrapped number.

Dataflow model (MAESTRO semantics): a point whose counts may not fit int64 is priced exactly with
Python ints and refused with :class:`CountOverflowError` (naming the point and the quantity) when a
count does not fit; numpy and torch agree. Loop-nest model (Timeloop semantics): a problem whose
MACs or data spaces do not fit int64 is refused; a mapping whose factors could overflow is invalid
(code 5) with zero counts; float factors are refused, not truncated.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from codesign_gym.costmodels.dataflow import Hardware, evaluate
from codesign_gym.costmodels.dataflow._xp import EXACT, NUMPY
from codesign_gym.costmodels.dataflow.model import (
    INT64_MAX, SAFE_BOUND, CountOverflowError, DataflowResult, _count_bound, _evaluate_flat,
)
from codesign_gym.costmodels.dataflow.templates import TEMPLATES, depthwise_for, resolve_dataflow
from codesign_gym.costmodels.loopnest import evaluate as loopnest_evaluate
from codesign_gym.costmodels.loopnest.bench import bench_architecture
from codesign_gym.costmodels.loopnest.mapping import Mapping, mapping_from_levels
from codesign_gym.costmodels.loopnest.problem import conv_problem
from codesign_gym.costmodels.loopnest.random_mappings import random_mappings

DATAFLOWS = ("kcp", "cfx_dla", "yrp", "xp", "ykp", "cfx_shi", "cfx_eye")
INT_FIELDS = [f for f in DataflowResult._fields if f not in ("noc_bw_avg", "energy_mac_units", "energy_pj", "area", "power")]
FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _layer(K, C, Y, X, R, S, stride=1, type_=1):
    return {"type": [type_], "K": [K], "C": [C], "Y": [Y], "X": [X], "R": [R], "S": [S], "stride": [stride]}


# ---------------------------------------------------------------- dataflow model: the issue's cases
@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_issue_row_is_refused_naming_the_quantity(dataflow):
    layer = _layer(1048576, 1048576, 4096, 4096, 3, 3)
    hw = Hardware(num_pes=1024, ktile=1, noc_bw=64, offchip_bw=70000, noc_latency=1)
    with pytest.raises(CountOverflowError, match=r"macs=\d+ at flat index 0 .*K=1048576.*does not fit in int64") as info:
        evaluate(layer, hw, dataflow)
    assert info.value.index == 0 and info.value.value > INT64_MAX


def test_k_2_pow_62_runtime_is_refused():
    with pytest.raises(CountOverflowError, match="does not fit in int64") as info:
        evaluate(_layer(2 ** 62, 1, 3, 3, 1, 1), Hardware(num_pes=16), "kcp")
    assert info.value.value > INT64_MAX


def test_large_points_that_fit_are_exact_and_batch_independent():
    """A point past the screen (priced with Python ints) in a batch of ordinary points: the same
    numbers as alone, and the ordinary points unchanged."""
    big = _layer(2 ** 20, 2 ** 20, 64, 64, 3, 3)
    small = _layer(64, 32, 56, 56, 3, 3)
    batch = {k: big[k] + small[k] for k in big}
    hw = Hardware(num_pes=[8192, 256])
    both = evaluate(batch, hw, "kcp")
    alone_big = evaluate(big, Hardware(num_pes=8192), "kcp")
    alone_small = evaluate(small, Hardware(num_pes=256), "kcp")
    for f in DataflowResult._fields:
        assert getattr(both, f)[0] == getattr(alone_big, f)[0], f
        assert getattr(both, f)[1] == getattr(alone_small, f)[0], f
    assert alone_big.macs[0] > 2 ** 53  # beyond float64's exact integers: still exact
    torch = pytest.importorskip("torch")
    on_torch = evaluate({k: (v if k == "type" else torch.as_tensor(v)) for k, v in batch.items()},
                        Hardware(num_pes=torch.as_tensor([8192, 256])), "kcp")
    for f in DataflowResult._fields:
        assert np.array_equal(getattr(on_torch, f).numpy(), getattr(both, f)), f


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_screened_points_match_the_exact_counts(dataflow):
    """The screen's soundness: on random points far beyond the usual ranges, every point below
    SAFE_BOUND gets int64 counts equal to the exact (Python int) ones, and the bound exceeds them."""
    rng = np.random.default_rng(7)
    n = 60

    def lu(lo, hi):
        return np.exp(rng.uniform(np.log(lo), np.log(hi), n)).astype(np.int64)

    R, S = rng.integers(1, 12, n), rng.integers(1, 12, n)
    dw = rng.random(n) < 0.3
    v = {"type": np.where(dw, 2, 1), "K": lu(1, 2 ** 16), "C": lu(1, 2 ** 16), "Y": R + lu(1, 2 ** 12), "X": S + lu(1, 2 ** 12),
         "R": R, "S": S, "stride": rng.integers(1, 5, n), "padding": rng.integers(0, 3, n), "num_pes": lu(1, 2 ** 20),
         "ktile": lu(1, 2 ** 10), "noc_bw": lu(1, 2 ** 30), "offchip_bw": lu(1, 2 ** 30), "noc_latency": lu(1, 2 ** 10) - 1}
    v["K"] = np.where(dw, v["C"], v["K"])
    v["groups"] = np.where(dw, v["C"], 1)
    key, dirs = resolve_dataflow(dataflow)
    bound = _count_bound(NUMPY, v, (dirs, TEMPLATES[depthwise_for(key)]))
    exact = _evaluate_flat(EXACT, {k: EXACT.asint(a) for k, a in v.items()}, key, dirs, True)
    safe = bound < SAFE_BOUND
    assert 0 < safe.sum() < n  # both kinds of points are exercised
    fast = _evaluate_flat(NUMPY, {k: a[safe] for k, a in v.items()}, key, dirs, True)
    for f in INT_FIELDS:
        values = np.array(exact[f].tolist(), dtype=object)
        assert all(abs(x) <= b for x, b in zip(values.tolist(), bound.tolist())), f
        assert np.array_equal(values[safe].astype(np.int64), fast[f]), f


huge = st.integers(min_value=1, max_value=2 ** 62)
dims = st.one_of(st.integers(1, 512), huge)


def _exact_counts(layer: dict, hw: dict, dataflow: str) -> tuple:
    """The exact (Python int) integer results of one point, with evaluate's defaults."""
    key, dirs = resolve_dataflow(dataflow)
    v = {k: EXACT.asint(np.asarray(val)) for k, val in {**layer, "padding": [0], "groups": [1], **hw}.items()}
    res = _evaluate_flat(EXACT, v, key, dirs, True)
    return tuple(int(res[f][0]) for f in INT_FIELDS)


@FAST
@given(K=dims, C=dims, Y=dims, X=st.integers(1, 2 ** 40), R=st.integers(1, 11), P=st.one_of(st.integers(1, 4096), huge),
       lat=st.one_of(st.integers(0, 4), huge), bw=st.one_of(st.integers(1, 2 ** 20), huge), dataflow=st.sampled_from(DATAFLOWS))
def test_dataflow_fuzz_clear_error_or_exact_counts_numpy_and_torch_agree(K, C, Y, X, R, P, lat, bw, dataflow):
    """Random huge dims and hardware: a CountOverflowError naming the quantity, or int64 counts
    equal to the exact ones (so never wrapped: no negative count from an overflow), finite
    energies; numpy and torch give the same outcome."""
    torch = pytest.importorskip("torch")
    Y, X = max(Y, R), max(X, R)
    layer = _layer(K, C, Y, X, R, R)
    hw = dict(num_pes=[P], ktile=[4], noc_bw=[bw], offchip_bw=[bw], noc_latency=[lat])
    exact = _exact_counts(layer, hw, dataflow)
    fits = all(-INT64_MAX - 1 <= x <= INT64_MAX for x in exact)
    outcomes = []
    for to in (np.asarray, lambda a: torch.as_tensor(np.asarray(a, dtype=np.int64))):
        try:
            res = evaluate({k: (v if k == "type" else to(v)) for k, v in layer.items()},
                           Hardware(**{k: to(v) for k, v in hw.items()}), dataflow)
        except CountOverflowError as exc:
            assert "does not fit in int64" in str(exc) and exc.quantity in INT_FIELDS and not fits
            assert exc.value == exact[INT_FIELDS.index(exc.quantity)]
            outcomes.append(("error", exc.quantity, exc.value))
            continue
        vals = {f: np.asarray(getattr(res, f).cpu() if hasattr(getattr(res, f), "cpu") else getattr(res, f)) for f in DataflowResult._fields}
        assert all(vals[f].dtype == np.int64 for f in INT_FIELDS)
        assert tuple(int(vals[f][0]) for f in INT_FIELDS) == exact
        for f in ("energy_pj", "area", "power", "noc_bw_avg"):
            assert np.isfinite(vals[f]).all(), (f, vals[f])
        outcomes.append(("ok", exact))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("bad", [True, np.bool_(True), "16", 64.5, 2 ** 64, [16, "16"]])
def test_hardware_counts_must_be_integers(bad):
    with pytest.raises(ValueError, match="num_pes"):
        evaluate(_layer(4, 4, 4, 4, 1, 1), Hardware(num_pes=bad), "kcp")


def test_layer_type_bool_and_torch_bool_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="'type' has bool value"):
        evaluate({**_layer(4, 4, 4, 4, 1, 1), "type": [True]}, Hardware(num_pes=4), "kcp")
    with pytest.raises(ValueError, match="bool tensor"):
        evaluate(_layer(4, 4, 4, 4, 1, 1), Hardware(num_pes=torch.tensor([True])), "kcp")


def test_padding_check_does_not_wrap():
    """R <= Y + 2*padding is tested without forming Y + 2*padding (it may pass 2^63)."""
    layer = {**_layer(1, 1, 2 ** 62, 1, 5, 1), "padding": [2 ** 62]}
    with pytest.raises(ValueError, match="does not fit in int64|padded input"):
        evaluate(layer, Hardware(num_pes=1), "kcp")


# ---------------------------------------------------------------- loop-nest model
ARCH = bench_architecture()


def test_loopnest_problem_beyond_int64_is_refused():
    with pytest.raises(ValueError, match=r"MACs .* = 18446744073709551616 does not fit in int64"):
        conv_problem(C=2 ** 20, M=2 ** 20, P=4096, Q=4096)


def test_loopnest_large_problem_random_mappings_are_valid_or_marked():
    problem = conv_problem(C=2 ** 16, M=2 ** 16, P=1024, Q=1024, R=3, S=3)
    res = loopnest_evaluate(problem, ARCH, random_mappings(problem, ARCH, 200, np.random.default_rng(0)))
    _check_loopnest(res)


def _check_loopnest(res):
    """Valid rows: non-negative counts, cycles >= 1; rows of code 5 (overflow): reason names int64,
    every count 0. (Rows invalid for other reasons -- e.g. factors that do not multiply to the
    bounds -- are priced as given and their numbers carry no meaning.)"""
    ok = res.valid | (res.invalid_code == 5)
    for name in ("cycles", "compute_cycles", "utilized_instances", "utilized_capacity", "reads", "fills", "updates"):
        assert (getattr(res, name)[ok] >= 0).all(), name
    assert np.isfinite(res.energy_pj).all() and (res.energy_pj[ok] >= 0).all()
    assert np.isfinite(res.utilization).all()
    assert (res.cycles[res.valid] >= 1).all()
    for b in np.flatnonzero(res.invalid_code == 5):
        assert "int64" in res.reason(int(b))
        assert res.cycles[b] == 0 and res.energy_pj[b] == 0 and not res.reads[b].any()


@FAST
@given(level=st.integers(0, 3), dim=st.integers(0, 6), factor=st.integers(1, 2 ** 62), rows=st.integers(1, 4))
def test_loopnest_fuzz_huge_factors_invalid_with_reason(level, dim, factor, rows):
    problem = conv_problem(R=3, S=3, P=56, Q=56, C=64, M=64)
    m = random_mappings(problem, ARCH, rows, np.random.default_rng(factor % 1000))
    temporal = np.array(m.temporal)
    temporal[0, level, dim] = factor
    res = loopnest_evaluate(problem, ARCH, Mapping(temporal, m.permutation, m.spatial_x, m.spatial_y, m.keep))
    _check_loopnest(res)
    if factor > 2 ** 40:
        assert res.invalid_code[0] == 5


@FAST
@given(C=st.integers(1, 2 ** 24), M=st.integers(1, 2 ** 24), P=st.integers(1, 2 ** 16), R=st.integers(1, 7))
def test_loopnest_fuzz_problem_bounds(C, M, P, R):
    try:
        problem = conv_problem(C=C, M=M, P=P, Q=P, R=R, S=R)
    except ValueError as exc:
        assert "does not fit in int64" in str(exc)
        return
    _check_loopnest(loopnest_evaluate(problem, ARCH, random_mappings(problem, ARCH, 50, np.random.default_rng(0))))


def test_loopnest_float_factors_are_refused_not_truncated():
    problem = conv_problem(R=3, S=3, P=56, Q=56, C=64, M=64)
    m = random_mappings(problem, ARCH, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"64\.5"):
        Mapping(np.where(np.asarray(m.temporal) == 1, 1.0, 64.5), m.permutation, m.spatial_x, m.spatial_y, m.keep)
    with pytest.raises(ValueError, match=r"64\.5"):
        mapping_from_levels(problem, ARCH, {ARCH.levels[0].name: {"temporal": {"C": 64.5}}})
    with pytest.raises(ValueError, match="True"):
        mapping_from_levels(problem, ARCH, {ARCH.levels[0].name: {"temporal": {"C": True}}})


def test_loopnest_yaml_float_factor_and_bound_refused():
    from codesign_gym.costmodels.loopnest.problem import problem_from_shape
    from codesign_gym.costmodels.loopnest.timeloop_yaml import _factors

    problem = conv_problem(R=3, S=3, P=56, Q=56, C=64, M=64)
    with pytest.raises(ValueError, match=r"C=64\.5"):
        _factors({"C": 64.5}, problem, "level 'DRAM'")
    with pytest.raises(ValueError, match=r"bound of P is 64\.5"):
        problem_from_shape("p", ["P"], [{"name": "O", "projection": [[["P"]]]}], {"P": 64.5})
