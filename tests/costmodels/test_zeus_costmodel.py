"""Zeus trace cost model: values against hand-computed trace rows, early stopping, JIT profiling, bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from codesign_gym.costmodels.zeus import (
    GPUS,
    WORKLOADS,
    ZeusTrace,
    check_eta_beta,
    config_statistics,
    default_config,
    epoch_cap,
    jit_profile,
    load_trace,
    oracle_config,
    try_outcome,
)

# summary_power_v100.csv: cifar100,shufflenetv2,1024,adadelta,{100,175,250},time_per_epoch,average_power
TPE_100, AVG_100 = 11.276666666666666, 86.86460850784009
TPE_175, AVG_175 = 8.213333333333333, 137.93655889552275
TPE_250, AVG_250 = 7.613333333333333, 187.68996594563717
# summary_train.csv: cifar100,shufflenetv2,1024,adadelta,1e-1,run 1,0.6 -> target_epoch 74 (first row of bs 1024)


@pytest.fixture(scope="module")
def cifar() -> ZeusTrace:
    return load_trace("cifar100", "v100")


def test_join_matches_trace_rows(cifar):
    b, p = cifar.batch_size_index(1024), cifar.power_limit_index(250)
    assert cifar.time_per_epoch[b, p] == TPE_250 and cifar.average_power[b, p] == AVG_250
    assert cifar.target_epoch[b, 0] == 74 and cifar.num_runs[b] == 10
    assert cifar.max_power == 250 and cifar.spec.default_bs == 1024
    assert cifar.batch_sizes.tolist() == [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]


def test_reached_try_is_tta_times_power(cifar):
    b, p = cifar.batch_size_index(1024), cifar.power_limit_index(250)
    out = try_outcome(cifar, b, p, 0, cap=100.0, eta=0.5)
    tta = 74 * TPE_250
    eta_j = tta * AVG_250
    assert out.reached and out.ran and out.epochs == 74
    assert out.time_s == pytest.approx(tta, rel=1e-14) and out.energy_j == pytest.approx(eta_j, rel=1e-14)
    assert out.cost == pytest.approx(0.5 * eta_j + 0.5 * 250 * tta, rel=1e-14)


def test_missed_target_is_charged_the_capped_epochs(cifar):
    b, p = cifar.batch_size_index([2048, 4096]), cifar.power_limit_index([250, 250])
    # bs 2048 run 1 reaches at epoch 191 > max_epochs 100; bs 4096 run 4 never reaches (NaN)
    assert cifar.target_epoch[b[0], 0] == 191 and np.isnan(cifar.target_epoch[b[1], 3])
    out = try_outcome(cifar, b, p, [0, 3], cap=[100.0, 100.0], eta=0.5)
    assert not out.reached.any() and out.ran.all()
    np.testing.assert_array_equal(out.epochs, [100, 100])
    np.testing.assert_allclose(out.time_s, 100 * cifar.time_per_epoch[b, p], rtol=1e-14)


def test_early_stopping_cap_and_unaffordable_try(cifar):
    b, p = cifar.batch_size_index(1024), cifar.power_limit_index(100)
    per_epoch = 0.5 * TPE_100 * AVG_100 + 0.5 * 250 * TPE_100  # P_bs = 250 W for bs 1024
    caps = epoch_cap(cifar, [b, b, b, b], [p, p, p, p], 0.5, [np.inf, 10.5 * per_epoch, 0.5 * per_epoch, 1e12])
    np.testing.assert_array_equal(caps, [100, 10, 0, 100])
    out = try_outcome(cifar, [b, b], [p, p], [0, 0], caps[1:3], eta=0.5)
    np.testing.assert_array_equal(out.ran, [True, False])
    assert not out.reached.any() and out.epochs[0] == 10 and out.energy_j[1] == 0 and out.cost[1] == 0


def test_jit_profiling_picks_cheapest_epoch_cost_and_charges_the_mean_epoch(cifar):
    jit = jit_profile(cifar, 0.5)
    b = int(cifar.batch_size_index(1024))
    assert cifar.power_limits[jit.power_limit_index[b]] == 175
    assert jit.epoch_cost[b, cifar.power_limit_index(175)] == pytest.approx((0.5 * AVG_175 + 0.5 * 250) * TPE_175)
    assert jit.first_epoch_energy_j[b] == pytest.approx(np.mean(cifar.energy_per_epoch[b]))
    p = jit.power_limit_index[b]
    out = try_outcome(cifar, b, p, 0, 100.0, 0.5, profile=True, jit=jit)
    assert out.energy_j == pytest.approx(jit.first_epoch_energy_j[b] + 73 * cifar.energy_per_epoch[b, p])
    assert out.time_s == pytest.approx(jit.first_epoch_time_s[b] + 73 * TPE_175)


def _tiny(tpe, avg, target_epoch, max_epochs=10) -> ZeusTrace:
    tpe, avg, te = (np.asarray(x, dtype=float) for x in (tpe, avg, target_epoch))
    spec = dataclasses.replace(WORKLOADS["squad"], max_epochs=max_epochs, default_bs=8)
    return ZeusTrace("tiny", "v100", spec, np.array([8, 16]), np.array([100, 200]), tpe, avg, te,
                     (~np.isnan(te)).sum(axis=1) if not np.isnan(te).all() else np.full(2, te.shape[1]), 200.0)


def test_jit_tie_goes_to_the_higher_power_limit_and_unmeasured_is_skipped():
    # bs 8: equal epoch cost at 100 W and 200 W -> 200 W. bs 16: 200 W unmeasured -> 100 W, P_bs = 100 W.
    trace = _tiny([[2.0, 1.0], [1.0, np.nan]], [[150.0, 50.0], [80.0, np.nan]], [[3.0, 4.0], [2.0, 2.0]])
    # eta=1: epoch cost = avg * tpe: 300 vs 50 -> 200 W; eta=0: P_bs * tpe = 400 vs 200 -> 200 W
    for eta in (0.0, 1.0):
        assert jit_profile(trace, eta).power_limit_index[0] == 1
    tie = _tiny([[1.0, 1.0], [1.0, np.nan]], [[100.0, 100.0], [80.0, np.nan]], [[3.0, 4.0], [2.0, 2.0]])
    assert jit_profile(tie, 0.5).power_limit_index.tolist() == [1, 0]
    assert trace.bs_max_power.tolist() == [200.0, 100.0]
    assert jit_profile(trace, 0.5).first_epoch_time_s[1] == 1.0


def test_config_statistics_default_and_oracle(cifar):
    stats = config_statistics(cifar, 0.5)
    b, p = default_config(cifar)
    assert (cifar.batch_sizes[b], cifar.power_limits[p]) == (1024, 250)
    epochs = cifar.target_epoch[b, : cifar.num_runs[b]]
    assert stats.eta_j[b, p] == pytest.approx(np.mean(epochs * TPE_250 * AVG_250))
    assert stats.all_reach[b, p] and not stats.all_reach[cifar.batch_size_index(4096), p]
    ob, op = oracle_config(cifar, 0.5)
    assert stats.all_reach[ob, op]
    assert stats.mean_cost[ob, op] == np.min(np.where(stats.all_reach, stats.mean_cost, np.inf))


def test_every_gpu_and_workload_loads():
    for gpu in GPUS:
        for w in WORKLOADS:
            t = load_trace(w, gpu)
            assert t.spec.default_bs in t.batch_sizes and t.measured.any(axis=1).all()
    assert load_trace("imagenet", "p100").spec.default_bs == 128  # b0 256 capped at the trace's largest


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: load_trace("mnist", "v100"), "workload 'mnist' is not known; expected one of ['cifar100'"),
        (lambda: load_trace("cifar100", "h100"), "gpu 'h100' is not known; expected one of ['v100', 'a40', 'rtx6000', 'p100']"),
        (lambda: load_trace("cifar100", "v100", target_metric=0.61), "target_metric 0.61 is not recorded"),
        (lambda: load_trace("cifar100", "v100", default_bs=1000), "default batch size 1000 is not in the Zeus trace"),
        (lambda: load_trace("cifar100", "v100").batch_size_index(100), "batch size 100 is not in the Zeus trace of cifar100 on v100; expected one of [8, 16"),
        (lambda: load_trace("cifar100", "v100").power_limit_index(260), "power limit 260 is not in the Zeus trace of cifar100 on v100; expected one of [100, 125"),
        (lambda: check_eta_beta(1.5, 2.0), "eta 1.5 is outside [0, 1]"),
        (lambda: check_eta_beta(0.5, 1.0), "beta 1.0: expected a number > 1"),
    ],
)
def test_bad_input_names_the_value_and_the_valid_ones(call, fragment):
    with pytest.raises(ValueError) as err:
        call()
    assert fragment in str(err.value)
