"""The Xavier / HADAS cost model: exact work tables, board facts, exit policies, the stored fits."""

from __future__ import annotations

import numpy as np
import pytest

from codesign_gym.costmodels.xavier import (
    BACKBONES,
    ExitBehaviour,
    VoltageCurve,
    XavierSpace,
    exit_accuracy,
    latent_behaviour,
    load_backbone,
    load_board,
    load_params,
    oracle_policy,
    stored_fit,
    stored_rho,
    threshold_policy,
)
from codesign_gym.costmodels.xavier.fit import fit_agx, fit_exit_rho

#: AttentiveNAS's published MFLOPs (README: MACs of conv and linear layers, ImageNet, 1000 classes).
ATTENTIVENAS_MFLOPS = {"a0": 203, "a1": 279, "a2": 317, "a3": 357, "a4": 444, "a5": 491, "a6": 709}


@pytest.fixture(scope="module")
def space() -> XavierSpace:
    return XavierSpace("cifar-100")


@pytest.mark.parametrize("name", BACKBONES)
def test_macs_match_attentivenas_published_flops(name):
    assert round(load_backbone(name, num_classes=1000).total("macs") / 1e6) == ATTENTIVENAS_MFLOPS[name]


def test_work_tables_are_exact_integers_and_exits_follow_their_blocks():
    w = load_backbone("a0", "cifar-100")
    assert w.blocks.dtype == np.int64 and w.blocks.shape == (17, 6) and w.exits.shape == (12, 6)
    assert w.exit_after.tolist() == list(range(5, 17)) and w.block_out[-1].tolist() == [216, 6]
    # the exit after the last block: 3x3 conv 216 -> 224 without padding on the 6x6 map, then two linear heads
    assert w.exits[-1, 0] == 216 * 224 * 9 * 4 * 4 + 224 * 100 + 224
    assert w.total("bytes") == 4 * (w.total("params") + w.total("activations"))


def test_board_levels_caps_and_bad_frequencies():
    b = load_board()
    assert b.levels_mhz["gpu"].size == 14 and b.levels_mhz["cpu"].size == 29 and b.levels_mhz["emc"].size == 9
    assert b.max_mhz("gpu") == 1377.0 and b.levels_mhz["emc"][0] == 204.0
    assert b.mode("MODE_10W").cap_mhz["gpu"] == 522.75 and b.mode("MODE_10W").active_tpc_fraction == 0.5  # 520 rounds up
    assert b.allowed_levels("gpu", "MODE_15W")[-1] == 675.75
    with pytest.raises(ValueError, match="500 MHz is not a level"):
        b.level_index("gpu", 500.0)
    with pytest.raises(ValueError, match="above power mode MODE_15W's cap"):
        b.level_index("gpu", 1377.0, "MODE_15W")
    with pytest.raises(ValueError, match="'TURBO'"):
        b.mode("TURBO")


def test_latent_model_keeps_every_exit_accuracy_and_spans_nested_to_independent():
    acc = exit_accuracy("a0")
    assert acc.size == 13 and acc[-1] == pytest.approx(86.02707006369427)
    every = np.ones((1, 12), dtype=bool)
    for rho in (0.0, 0.5, 0.99):
        beh = latent_behaviour(acc, rho)
        np.testing.assert_allclose(beh.correct.mean(axis=0) * 100, acc, atol=0.01)
    nested = oracle_policy(latent_behaviour(acc, 0.999), every).accuracy[0]
    independent = oracle_policy(latent_behaviour(acc, 0.0), every).accuracy[0]
    assert nested == pytest.approx(acc.max(), abs=0.2) and independent > 99.9


def test_policies_on_per_sample_data():
    # three inputs, two exits + final: correct (0/1) and confidences measured per sample
    correct = np.array([[1, 0, 1], [0, 1, 1], [0, 0, 0]], dtype=float)
    conf = np.array([[0.9, 0.2, 1], [0.3, 0.95, 1], [0.1, 0.1, 1]])
    beh = ExitBehaviour(np.full(3, 1 / 3), correct, conf)
    o = oracle_policy(beh, np.array([[True, True], [False, True]]))
    np.testing.assert_allclose(o.share, [[1 / 3, 1 / 3, 1 / 3], [0, 1 / 3, 2 / 3]])
    np.testing.assert_allclose(o.accuracy, [200 / 3, 200 / 3])
    t = threshold_policy(beh, np.array([[True, True]]), 0.9)
    np.testing.assert_allclose(t.share, [[1 / 3, 1 / 3, 1 / 3]]) and np.testing.assert_allclose(t.accuracy, [200 / 3])
    with pytest.raises(ValueError, match="outside \\[0, 1\\]"):
        threshold_policy(beh, np.array([[True, True]]), 1.2)


def test_oracle_bounds_threshold_and_no_exits_is_the_static_network(space):
    rng = np.random.default_rng(0)
    k = np.repeat(np.arange(len(space.backbones)), 20)
    masks = rng.random((k.size, space.max_exits)) < 0.4
    masks &= np.arange(space.max_exits)[None, :] < space.num_exits[k][:, None]
    thr = rng.choice([0.5, 0.8, 0.95], size=k.size)
    o = space.evaluate(k, masks, "oracle")
    t = space.evaluate(k, masks, "threshold", thr)
    assert (o.accuracy >= t.accuracy - 1e-9).all()
    np.testing.assert_allclose(o.exit_share.sum(axis=1), 1.0) and np.testing.assert_allclose(t.exit_share.sum(axis=1), 1.0)
    none = space.evaluate(k, np.zeros_like(masks), "threshold", 0.5)
    np.testing.assert_allclose(none.energy_mj, none.static_energy_mj)
    np.testing.assert_allclose(none.accuracy, [space.accuracy_table[i][-1] for i in k], atol=0.01)
    assert (none.power_w > 0).all() and np.allclose(none.power_w, none.energy_mj / none.latency_ms)


def test_expected_over_frequencies_agrees_with_evaluate(space):
    masks = np.zeros((2, space.num_exits[0]), dtype=bool)
    masks[0] = True
    masks[1, [2, 7]] = True
    out = space.policy_outcome(0, masks, "threshold", 0.9)
    g, e, c = np.array([1377.0, 522.75]), np.array([2133.0, 1600.0]), np.array([2265.6, 1190.4])
    lat, en = space.expected_over_frequencies(0, masks, out.share, g, e, c)
    full = np.zeros((2, space.max_exits), dtype=bool)
    full[:, : masks.shape[1]] = masks
    for f in range(2):
        r = space.evaluate([0, 0], full, "threshold", 0.9, g[f], e[f], c[f])
        np.testing.assert_allclose(en[:, f], r.energy_mj, rtol=1e-12) and np.testing.assert_allclose(lat[:, f], r.latency_ms, rtol=1e-12)


def test_lower_frequencies_are_slower_and_voltage_curves_are_ordered(space):
    none = np.zeros((2, space.max_exits), dtype=bool)
    r = space.evaluate([0, 0], none, gpu_mhz=[1377.0, 114.75], emc_mhz=[2133.0, 204.0], cpu_mhz=[2265.6, 115.2])
    assert r.latency_ms[1] > r.latency_ms[0]
    f = np.array([114.75, 675.75, 1377.0])
    lo, mid, hi = (VoltageCurve(kind).dynamic_scale(f, 114.75, 1377.0) for kind in ("proportional", "linear", "constant"))
    assert (lo <= mid + 1e-12).all() and (mid <= hi + 1e-12).all() and np.allclose([lo[-1], mid[-1], hi[-1]], 1.0)
    with pytest.raises(ValueError, match="'cubic'"):
        VoltageCurve("cubic")


def test_stored_fits_are_reproduced_from_the_shipped_rows():
    stored = stored_fit()
    refit = fit_agx()
    for key, value in stored["params"].items():
        assert refit["params"][key] == pytest.approx(value, rel=1e-6, abs=1e-12), key
    assert refit["provenance"]["sha256"] == stored["provenance"]["sha256"]
    for split in ("test_dim1", "test_dim2", "test_dim3"):  # held-out error is recorded and bounded as stored
        assert stored["errors"]["latency"][split]["mape_pct"] == pytest.approx(refit["errors"]["latency"][split]["mape_pct"], rel=1e-6)
    assert load_params().eta_compute == stored["params"]["eta_compute"]
    rho = fit_exit_rho()
    assert rho["rho"] == pytest.approx(stored_rho(), abs=1e-5)
    every = np.ones((1, 12), dtype=bool)
    assert oracle_policy(latent_behaviour(exit_accuracy("a0"), stored_rho()), every).accuracy[0] == pytest.approx(89.95, abs=0.01)


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(dataset="imagenet"), "'imagenet'"), (dict(exit_set="new"), "'new'"), (dict(backbones=("a9",)), "'a9'"),
     (dict(backbones=("a6",)), "no exit accuracies")],
)
def test_bad_space_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        XavierSpace(**kwargs)


def test_bad_designs_are_named(space):
    with pytest.raises(ValueError, match="exit 13 is beyond backbone a0's 12 exits"):
        m = np.zeros((1, space.max_exits), dtype=bool)
        m[0, 12] = True
        space.evaluate([0], m)
    with pytest.raises(ValueError, match="'greedy'"):
        space.evaluate([0], np.zeros((1, space.max_exits), dtype=bool), "greedy")
    with pytest.raises(ValueError, match="emc frequency 1000 MHz"):
        space.evaluate([0], np.zeros((1, space.max_exits), dtype=bool), emc_mhz=1000.0)
