"""The compiled plans (codesign_gym.costmodels.dataflow.plan) against the eager analysis they trace."""

from __future__ import annotations

import numpy as np
import pytest

from codesign_gym.costmodels.dataflow import plan as P
from codesign_gym.costmodels.dataflow._xp import NUMPY
from codesign_gym.costmodels.dataflow.analysis import Analyzer
from codesign_gym.costmodels.dataflow.templates import TEMPLATES

CONV_TEMPLATES = ("kcp", "yrp", "xp", "ykp", "cfx_dla", "cfx_shi", "cfx_eye")


def _inputs(rng, n, huge=False):
    hi = 200_000 if huge else 300
    R = rng.integers(1, 8, n)
    S = np.where(rng.random(n) < 0.5, R, rng.integers(1, 8, n))
    return {"K": rng.integers(1, hi, n), "C": rng.integers(1, hi, n), "R": R, "S": S,
            "Yo": rng.integers(1, 60, n), "Xo": rng.integers(1, 60, n), "stride": rng.integers(1, 4, n),
            "P": rng.integers(1, 50_000 if huge else 700, n), "ktile": rng.integers(1, 40 if huge else 13, n),
            "bw": rng.choice([1, 3, 64, 81_920_000], n), "lat": rng.integers(0, 4, n),
            "offchip": rng.choice([1, 7, 70_000], n)}


def _eager(dirs, kind, inp):
    dims = {"K": inp["K"] if kind == "CONV" else np.ones_like(inp["K"]), "C": inp["C"], "R": inp["R"], "S": inp["S"],
            "Y": inp["Yo"] + inp["R"] - 1, "X": inp["Xo"] + inp["S"] - 1}
    return Analyzer(NUMPY, dirs, kind, dims, inp["stride"], inp["P"], inp["ktile"], inp["bw"], inp["lat"],
                    inp["offchip"]).run()


def _assert_same(got, ref, n):
    for k, v in ref.items():
        v = np.broadcast_to(v, (n,))
        assert got[k].dtype == v.dtype, k
        assert np.array_equal(got[k], v), (k, int(np.sum(got[k] != v)))


@pytest.mark.parametrize("name,kind", [(t, "CONV") for t in CONV_TEMPLATES]
                         + [("depthwise", "DSCONV"), ("cfx_depthwise", "DSCONV")])
def test_plans_equal_eager_analysis(name, kind):
    rng = np.random.default_rng(abs(hash(name)) % 1000)
    inp = _inputs(rng, 1500)
    got = P.run_plans(NUMPY, TEMPLATES[name], kind, inp)
    _assert_same(got, _eager(TEMPLATES[name], kind, inp), 1500)


@pytest.mark.parametrize("name", ["cfx_dla", "cfx_shi", "cfx_eye"])
def test_points_outside_the_training_sample_fall_back_exactly(name, monkeypatch):
    # a plan specialised on a deliberately narrow sample must flag the points it does not cover,
    # and the conservative plan must then give the exact result for them
    narrow = P.training_sample(None, n=64)
    narrow.update(K=np.full(64, 64), C=np.full(64, 64), P=np.full(64, 16), ktile=np.full(64, 4))
    monkeypatch.setattr(P, "training_sample", lambda stride, **kw: dict(narrow))
    spec = P.get_plan.__wrapped__(TEMPLATES[name], "CONV", None)
    monkeypatch.undo()
    inp = _inputs(np.random.default_rng(1), 800, huge=True)
    assert spec(NUMPY, inp, 800)[P.FALLBACK].any()
    got = P.run_specialised(NUMPY, spec, lambda: P.get_plan(TEMPLATES[name], "CONV", None, False), inp, 800)
    _assert_same(got, _eager(TEMPLATES[name], "CONV", inp), 800)


def test_conservative_plan_is_exact_everywhere():
    inp = _inputs(np.random.default_rng(2), 600, huge=True)
    got = P.get_plan(TEMPLATES["cfx_eye"], "CONV", None, False)(NUMPY, inp, 600)
    _assert_same(got, _eager(TEMPLATES["cfx_eye"], "CONV", inp), 600)


def test_plans_are_cached():
    assert P.get_plan(TEMPLATES["kcp"], "CONV", 1) is P.get_plan(TEMPLATES["kcp"], "CONV", 1)


@pytest.mark.parametrize("name,kind", [("cfx_dla", "CONV"), ("cfx_shi", "CONV"), ("cfx_eye", "CONV"),
                                       ("cfx_depthwise", "DSCONV")])
def test_routed_signature_plans_equal_eager_analysis(name, kind, monkeypatch):
    # route every signature group, however small, to its own plan
    monkeypatch.setattr(P, "ROUTE_MIN", 1)
    rng = np.random.default_rng(7)
    inp = _inputs(rng, 3000)
    inp["stride"] = np.where(rng.random(3000) < 0.7, 1, inp["stride"])
    got = P.run_plans(NUMPY, TEMPLATES[name], kind, inp)
    _assert_same(got, _eager(TEMPLATES[name], kind, inp), 3000)


def test_routed_points_a_signature_plan_flags_fall_back_exactly(monkeypatch):
    # every signature "plan" is one specialised on a deliberately narrow sample: its flagged points
    # must go on to the generic plan (and the conservative one) and still come out exact
    dirs = TEMPLATES["cfx_eye"]
    narrow = P.training_sample(None, n=64)
    narrow.update(K=np.full(64, 64), C=np.full(64, 64), P=np.full(64, 16), ktile=np.full(64, 4))
    monkeypatch.setattr(P, "training_sample", lambda stride, **kw: dict(narrow))
    spec = P.get_plan.__wrapped__(dirs, "CONV", None)
    monkeypatch.undo()
    monkeypatch.setattr(P, "ROUTE_MIN", 1)
    inp = _inputs(np.random.default_rng(3), 900, huge=True)
    assert spec(NUMPY, inp, 900)[P.FALLBACK].any()
    generic = P.get_plan(dirs, "CONV", None)
    got = P.run_routed(NUMPY, generic, lambda code: spec, lambda: P.get_plan(dirs, "CONV", None, False), inp, 900)
    _assert_same(got, _eager(dirs, "CONV", inp), 900)


def test_router_signature_is_a_small_code():
    plan = P.get_plan(TEMPLATES["cfx_eye"], "CONV", 1)
    assert plan.router is not None
    code = plan.router(NUMPY, _inputs(np.random.default_rng(4), 500), 500)["code"]
    assert code.min() >= 0 and code.max() < 1 << P.ROUTE_BITS


@pytest.mark.parametrize("const", [("bw", "lat", "offchip", "ktile"), tuple(P.INPUTS)])
def test_inputs_constant_over_the_batch_run_as_scalars_exactly(const, monkeypatch):
    monkeypatch.setattr(P, "ROUTE_MIN", 1)
    inp = _inputs(np.random.default_rng(5), 1200)
    for k in const:
        inp[k] = np.full(1200, inp[k][0])
    assert all(np.ndim(P._scalarise(NUMPY, inp, 1200)[k]) == 0 for k in const)
    got = P.run_plans(NUMPY, TEMPLATES["cfx_shi"], "CONV", inp)
    _assert_same(got, _eager(TEMPLATES["cfx_shi"], "CONV", inp), 1200)


def test_routed_plans_on_torch_match_numpy(monkeypatch):
    torch = pytest.importorskip("torch")
    from codesign_gym.costmodels.dataflow._xp import namespace

    monkeypatch.setattr(P, "ROUTE_MIN", 1)
    inp = _inputs(np.random.default_rng(6), 1500)
    inp["bw"] = np.full(1500, 64)
    ref = P.run_plans(NUMPY, TEMPLATES["cfx_eye"], "CONV", inp)
    tin = {k: torch.as_tensor(v) for k, v in inp.items()}
    got = P.run_plans(namespace(*tin.values()), TEMPLATES["cfx_eye"], "CONV", tin)
    for k, v in ref.items():
        assert np.array_equal(got[k].numpy(), v), k
