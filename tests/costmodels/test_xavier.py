"""The Xavier / HADAS cost model: exact work tables, board facts, exit policies, the stored fits,
the power rails against measured rows (perf_prediction GPU rail) and HADAS's measured energies."""

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
    static_backbone,
    stored_fit,
    stored_rho,
    threshold_policy,
)
from codesign_gym.costmodels.xavier.evaluate import final_accuracy
from codesign_gym.costmodels.xavier.fit import fit_agx, fit_exit_rho, motivation_rows, predict_latency_s, predict_measured_power_w, read_rows

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
    assert w.blocks.dtype == np.int64 and w.blocks.shape == (17, 8) and w.exits.shape == (12, 8)
    assert w.exit_after.tolist() == list(range(5, 17)) and w.block_out[-1].tolist() == [216, 6]
    # the exit after the last block: 3x3 conv 216 -> 224 without padding on the 6x6 map, then two linear heads
    assert w.exits[-1, 0] == 216 * 224 * 9 * 4 * 4 + 224 * 100 + 224
    assert w.total("bytes") == 4 * (w.total("params") + w.total("activations"))
    # linear-layer parameters (the classifier; each exit's classifier and confidence) and the image fed in
    assert w.total("fc_params") == w.config.width[-1] * 100 + 100 and w.exits[-1, 6] == 224 * 100 + 100 + 224 + 1
    assert w.total("input_elements") == w.stem[7] == 3 * 192 * 192 and w.blocks[:, 7].sum() == 0


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
        assert refit["params"][key] == pytest.approx(value, rel=1e-6, abs=1e-15), key
    assert refit["measurement"]["gap_s"] == pytest.approx(stored["measurement"]["gap_s"], rel=1e-6)
    assert refit["provenance"]["sha256"] == stored["provenance"]["sha256"]
    for kind in ("latency", "power"):
        for split in ("training_dataset", "test_dim1", "test_dim2", "test_dim3"):
            assert stored["errors"][kind][split]["mape_pct"] == pytest.approx(refit["errors"][kind][split]["mape_pct"], rel=1e-6)
    assert load_params().eta_compute == stored["params"]["eta_compute"]
    rho = fit_exit_rho()
    assert rho["rho"] == pytest.approx(stored_rho(), abs=1e-5)
    every = np.ones((1, 12), dtype=bool)
    assert oracle_policy(latent_behaviour(exit_accuracy("a0"), stored_rho()), every).accuracy[0] == pytest.approx(89.95, abs=0.01)


def test_held_out_error_on_the_source_test_splits():
    """Held-out MAPE on perf_prediction's own test splits (never fitted on): GPU-rail power <= 12%
    on every split; latency <= 14% on real networks (dim1, dim2), 21.4% on the synthetic dim3."""
    err = stored_fit()["errors"]
    for split, lat_max, pow_max in (("test_dim1", 14.0, 9.0), ("test_dim2", 11.0, 9.0), ("test_dim3", 22.0, 12.0)):
        assert err["latency"][split]["mape_pct"] <= lat_max and err["power"][split]["mape_pct"] <= pow_max, split
        assert err["power"][split]["rows"] == 107 and err["latency"][split]["rows"] == 113


def test_power_rows_are_gpu_rail_readings():
    """Evidence of what the AGX power rows are: one INA3221 channel (152.6 mW LSB at the 19 V
    input: 8 mA x 19.07 V; some rows the mean of two readings), idle near 1.4 W, and growing with
    the inference time at a constant throughput (a duty-cycled reading, not a busy-power one)."""
    rows = read_rows("power_consumption_prediction", "training_dataset")
    low = rows.target[rows.target < 5000.0]
    half_steps = low / (152.6 / 2)
    assert np.mean(np.abs(half_steps - np.round(half_steps)) < 0.02) > 0.8
    assert rows.target.min() == 1221.0 and np.percentile(rows.target, 1) == pytest.approx(1374.0)
    t = read_rows("execution_time_prediction", "training_dataset")
    p = dict(zip(rows.names, rows.target))
    lat = dict(zip(t.names, t.target))
    small, large = "EfficientNet-B0 (800, 800, 3)", "EfficientNet-B0 (1600, 1600, 3)"
    flops = {n: w[0] for n, w in zip(t.names, t.work)}
    throughput = [flops[n] / lat[n] for n in (small, large)]
    assert throughput[1] == pytest.approx(throughput[0], rel=0.05) and p[large] / p[small] == pytest.approx(12914 / 6549)
    assert stored_fit()["measurement"]["gap_s"] == pytest.approx(0.114, abs=0.002)


def test_unseen_network_power_and_latency_match_measurements():
    """MobileNet1.0-v2 is absent from training (test_dim2): every measured GPU-rail reading (16
    sizes, 1.8-11.4 W) within 7%, the latency at 224 px (3.96 ms measured) within 5%."""
    params, gap = load_params(), stored_fit()["measurement"]["gap_s"]
    rows = read_rows("power_consumption_prediction", "test_dim2")
    pred = predict_measured_power_w(rows, params, gap) * 1e3
    mine = np.array([n.startswith("MobileNet1.0-v2 ") for n in rows.names])
    assert mine.sum() == 16 and np.max(np.abs(pred[mine] / rows.target[mine] - 1)) < 0.07
    t = read_rows("execution_time_prediction", "test_dim2")
    i = t.names.index("MobileNet1.0-v2 (224, 224, 3)")
    assert predict_latency_s(t, params)[i] * 1e3 == pytest.approx(t.target[i], rel=0.05)


def test_module_energy_against_hadas_measurements():
    """HADAS measured 173.8 mJ (a0) and 335.5 mJ (a6) per inference, static, highest levels. The
    module scope is calibrated on a0 (exact) and checked on a6 (within 15%); the GPU rail alone is
    2.2-2.7x lower, so the two sources differ in scope, not only in scale."""
    measured = motivation_rows()
    a0, a6 = static_backbone("a0"), static_backbone("a6")
    assert a0["energy_mj"] == pytest.approx(measured["a0"]["base_energy_mJ"], rel=1e-9)
    assert a6["energy_mj"] == pytest.approx(measured["a6"]["base_energy_mJ"], rel=0.15)
    for r, name in ((a0, "a0"), (a6, "a6")):
        assert 20.0 < r["power_w"] < 40.0  # a busy AGX module at MAXN
        assert 2.2 < measured[name]["base_energy_mJ"] / r["gpu_rail_energy_mj"] < 2.7
        assert static_backbone(name, scope="gpu_rail")["energy_mj"] == pytest.approx(r["gpu_rail_energy_mj"])
    check = stored_fit()["calibration"]["checks"]["a6"]
    assert check["model_module_mj"] == pytest.approx(a6["energy_mj"]) and abs(check["error_pct"]) < 15.0


def test_static_backbones_need_no_exit_accuracies():
    for dataset in ("cifar-100", "tiny-imagenet"):
        r = static_backbone("a6", dataset)
        assert r["energy_mj"] > static_backbone("a0", dataset)["energy_mj"] > 0
    assert final_accuracy("a6", "cifar-100") == (pytest.approx(87.64928343949045), "old_res")
    assert final_accuracy("a0", "cifar-100") == (pytest.approx(86.02707006369427), "current")
    assert final_accuracy("a6", "tiny-imagenet") == (None, None)
    space = XavierSpace("cifar-100", "old_res", backbones=("a6",))
    none = space.evaluate([0], np.zeros((1, space.max_exits), dtype=bool))
    assert none.energy_mj[0] == pytest.approx(static_backbone("a6")["energy_mj"], rel=1e-12)


def test_scopes_and_dvfs_move_the_rails():
    module, gpu = XavierSpace("cifar-100"), XavierSpace("cifar-100", scope="gpu_rail")
    none = np.zeros((3, module.max_exits), dtype=bool)
    levels = dict(gpu_mhz=[1377.0, 522.75, 1377.0], emc_mhz=2133.0, cpu_mhz=[2265.6, 2265.6, 1190.4])
    m, g = module.evaluate([0, 0, 0], none, **levels), gpu.evaluate([0, 0, 0], none, **levels)
    np.testing.assert_allclose(m.latency_ms, g.latency_ms)
    assert (g.energy_mj < m.energy_mj).all()
    assert g.energy_mj[1] < g.energy_mj[0] and m.energy_mj[1] < m.energy_mj[0]  # a lower GPU clock: lower V^2 f
    # a lower CPU clock stretches the per-layer CPU work: the GPU rail waits longer at its active power
    assert m.latency_ms[2] > m.latency_ms[0] and g.energy_mj[2] > g.energy_mj[0]
    with pytest.raises(ValueError, match="'board'"):
        XavierSpace("cifar-100", scope="board")


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(dataset="imagenet"), "'imagenet'"), (dict(exit_set="new"), "'new'"), (dict(backbones=("a9",)), "'a9'"),
     (dict(backbones=("a6",)), "no exit accuracies"), (dict(scope="wall"), "'wall'")],
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
