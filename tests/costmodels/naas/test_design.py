"""The NAAS co-design space: level tables, importance encoding, caps, and evaluation that agrees
exactly with pricing the design's accelerator through ``price_space``."""

from __future__ import annotations

import numpy as np
import pytest

from codesign_gym.costmodels.naas.accelerators import CONV_DIMS, baseline
from codesign_gym.costmodels.naas.design import (
    RESNET_ARCH,
    RESNET_INDEX,
    HardwareDesign,
    NAASSpace,
    importance_order,
)
from codesign_gym.costmodels.naas.network_cost import price_space
from codesign_gym.costmodels.workloads import nb201


@pytest.fixture(scope="module")
def space() -> NAASSpace:
    return NAASSpace("eyeriss", "cifar10")


def test_level_tables_are_powers_of_two_up_to_the_eyeriss_caps(space):
    assert space.max_pes == 168 and space.max_onchip_bytes == 204_992 and space.max_dram_words_per_cycle == 8
    assert space.levels["pe_x"] == space.levels["pe_y"] == (1, 2, 4, 8, 16, 32, 64, 128)
    assert space.levels["l1_words"] == (4, 8, 16, 32, 64, 128, 256, 512, 1024)
    assert space.levels["l2_kib"] == (1, 2, 4, 8, 16, 32, 64, 128)
    assert space.levels["dram_words_per_cycle"] == (1, 2, 4, 8)
    assert (space.technology_nm, space.clock_mhz) == (32.0, 200.0)
    assert nb201.arch_index(RESNET_ARCH) == RESNET_INDEX


def test_reference_is_the_baseline_running_the_resnet_cell(space):
    ref = price_space(baseline("eyeriss"), "cifar10", samples=space.samples, rounds=space.rounds)
    assert space.ref_edp == ref.edp[RESNET_INDEX] and space.ref_accuracy == 93.91
    m = space.evaluate([RESNET_INDEX, 0], [None, None])
    assert m["edp_reduction"][0] == 1.0 and m["num_pes"][0] == 168 and m["within_cap"].all()
    assert m["latency_cycles"][1] == ref.latency_cycles[0] and m["energy_pj"][1] == ref.energy_pj[0]


def test_importance_order_sorts_most_important_first_with_stable_ties():
    np.testing.assert_array_equal(importance_order([0.1, 0.9, 0.5, 0.5, 0.2, 0.0]), [1, 2, 3, 4, 0, 5])
    np.testing.assert_array_equal(importance_order(np.zeros((2, 6))), [[0, 1, 2, 3, 4, 5]] * 2)
    with pytest.raises(ValueError, match="expected 6 values"):
        importance_order([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite"):
        importance_order([np.nan] * 6)


def test_hardware_decodes_levels_parallel_dims_and_loop_order(space):
    hw = space.hardware([4, 3, 1, 6, 3], [0, 0, 1, 1, 3, 2])  # C > M > P = Q > R = S
    assert (hw.pe_x, hw.pe_y, hw.l1_words, hw.l2_kib, hw.dram_words_per_cycle) == (16, 8, 8, 64, 8)
    assert hw.loop_order == ("C", "M", "P", "Q", "R", "S") and (hw.parallel_x, hw.parallel_y) == ("C", "M")
    assert hw.num_pes == 128 and hw.onchip_bytes == 64 * 1024 + 128 * 8
    acc = space.accelerator(hw)
    assert acc.mapspace.order == {0: hw.loop_order, 1: hw.loop_order}
    assert acc.mapspace.spatial_x[1] == ("C",) and acc.mapspace.spatial_y[1] == ("M",)
    assert acc.clock_mhz == 200.0 and acc.num_pes == 128
    with pytest.raises(ValueError, match="expected 6 values"):
        space.hardware([4, 3, 1, 6, 3], [0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="l1_words level 9"):
        space.hardware([4, 3, 9, 6, 3], [0] * 6)
    with pytest.raises(ValueError, match="5 integer level indices"):
        space.hardware([4, 3, 1, 6], [0] * 6)
    with pytest.raises(ValueError, match="permutation"):
        HardwareDesign(4, 4, 8, 8, 1, loop_order=("C", "C", "P", "Q", "R", "S"))


def test_evaluation_matches_price_space_on_the_designs_accelerator(space):
    hw = space.hardware([3, 4, 2, 5, 2], [5, 4, 0, 1, 2, 3])  # R, S across the array
    nets = [RESNET_INDEX, 0, 6111, 15624, 777]
    m = space.evaluate(nets, [hw] * len(nets))
    ref = price_space(space.accelerator(hw), "cifar10", samples=space.samples, rounds=space.rounds)
    np.testing.assert_array_equal(m["latency_cycles"], ref.latency_cycles[nets])
    np.testing.assert_allclose(m["energy_pj"], ref.energy_pj[nets], rtol=1e-12)
    np.testing.assert_allclose(m["edp_reduction"], space.ref_edp / ref.edp[nets], rtol=1e-12)
    np.testing.assert_allclose(m["latency_ms"], ref.latency_cycles[nets] / 200e3)
    np.testing.assert_array_equal(m["accuracy"], nb201.load_accuracies().cifar10[nets])


def test_each_accelerator_is_priced_once(space):
    hw = space.hardware([2, 2, 0, 3, 1], [1, 2, 3, 4, 5, 6])
    before = space.priced_accelerators
    space.evaluate([1, 2], [hw, hw])
    space.evaluate([3], [HardwareDesign(**{**hw.__dict__})])
    assert space.priced_accelerators == before + 1 and space.is_cached(hw)


def test_designs_beyond_the_cap_are_not_priced_or_raise_when_strict(space):
    big = HardwareDesign(16, 16, 8, 8, 8)  # 256 PEs > 168
    fat = HardwareDesign(16, 8, 1024, 128, 8)  # 128 KiB + 128 KiB scratchpads > 204,992 bytes
    fast = HardwareDesign(8, 8, 8, 8, 16)  # 16 words/cycle > 8
    before = space.priced_accelerators
    m = space.evaluate([0, 0, 0], [big, fat, fast])
    assert not m["within_cap"].any() and space.priced_accelerators == before
    assert np.isinf(m["edp"]).all() and (m["edp_reduction"] == 0).all() and (m["overshoot"] > 0).all()
    assert m["overshoot"][0] == pytest.approx(256 / 168 - 1)
    with pytest.raises(ValueError, match="exceeds the eyeriss cap: 256 PEs"):
        space.evaluate([0], [big], strict=True)


def test_area_is_the_accelergy_table_sum_over_components(space):
    from codesign_gym.costmodels.loopnest.area import mac_area, storage_area

    # eyeriss: its ART at 32 nm, global buffer once plus 168 x (three scratchpads + MAC)
    assert space.area_mm2(None) == pytest.approx((217363.36892 + 168 * (70.091961 + 5816.44278 + 123.627348 + 191.82)) / 1e6)
    hw = space.hardware([3, 4, 1, 4, 3], [0, 0, 1, 1, 3, 2])  # 8 x 16 PEs, 8-word scratchpads, 16 KiB buffer
    expected = storage_area("smartbuffer_SRAM", 16 * 1024 // 8, 64, 32.0) + 128 * (storage_area("smartbuffer_RF", 8, 16, 32.0) + mac_area("intmac", 32.0, 8))
    assert space.area_mm2(hw) == pytest.approx(expected / 1e6)
    m = space.evaluate([RESNET_INDEX, RESNET_INDEX], [None, hw])
    assert m["area_mm2"].tolist() == [space.area_mm2(None), space.area_mm2(hw)]
    bigger = space.hardware([3, 4, 3, 4, 3], [0, 0, 1, 1, 3, 2])  # 32-word scratchpads
    assert space.area_mm2(bigger) > space.area_mm2(hw)


def test_onchip_energy_scope_leaves_dram_out_of_designs_and_baseline_alike(space):
    onchip = NAASSpace("eyeriss", "cifar10", energy_scope="onchip", samples=64, rounds=0)
    total = NAASSpace("eyeriss", "cifar10", samples=64, rounds=0)
    assert onchip.baseline.name == "eyeriss-onchip" and onchip.baseline.architecture.levels[0].energy.read == 0.0
    assert total.baseline.architecture.levels[0].energy.read > 0
    # the reference loses its DRAM energy (85 uJ of eyeriss's 246 uJ at full effort), keeps the same layers and accuracy
    assert onchip.ref_energy_pj < total.ref_energy_pj and onchip.ref_accuracy == total.ref_accuracy
    hw = onchip.hardware([3, 4, 1, 4, 3], [0, 0, 1, 1, 3, 2])
    acc = onchip.accelerator(hw)
    assert acc.name.endswith("-onchip") and acc.architecture.levels[0].energy.write == 0.0
    # evaluation is the on-chip accelerator's own pricing, as for the total scope
    m = onchip.evaluate([RESNET_INDEX], [hw])
    ref = price_space(acc, "cifar10", samples=64, rounds=0)
    assert m["latency_cycles"][0] == ref.latency_cycles[RESNET_INDEX] and m["energy_pj"][0] == pytest.approx(ref.energy_pj[RESNET_INDEX])
    assert m["energy_pj"][0] < total.evaluate([RESNET_INDEX], [hw])["energy_pj"][0]


def test_template_baselines_cap_with_their_own_resources():
    s = NAASSpace("shidiannao", "ImageNet16-120", samples=32, rounds=0)
    assert s.max_pes == 64 and s.levels["pe_x"][-1] == 64 and s.levels["l2_kib"][-1] == 256
    assert (s.technology_nm, s.clock_mhz) == (45.0, 1000.0) and s.dataset == "ImageNet16-120"
    assert s.ref_accuracy == nb201.load_accuracies().imagenet16_120[RESNET_INDEX]


@pytest.mark.parametrize("kwargs, match", [({"baseline": "tpu"}, "'tpu'"), ({"dataset": "mnist"}, "'mnist'"),
                                           ({"samples": 0}, "samples=0"), ({"rounds": -1}, "rounds=-1"),
                                           ({"energy_scope": "dram"}, "energy_scope 'dram'")])
def test_bad_options_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NAASSpace(**kwargs)


def test_unknown_networks_raise(space):
    with pytest.raises(ValueError, match="bad NAS-Bench-201 cell string"):
        space.evaluate("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", [None])
    with pytest.raises(ValueError, match="15624"):
        space.evaluate([15625], [None])
    assert CONV_DIMS == ("R", "S", "P", "Q", "C", "M")


def test_best_networks_is_exact_over_the_15625_cells():
    s = NAASSpace("eyeriss", "ImageNet16-120", samples=32, rounds=0)
    hw = s.hardware([4, 3, 1, 6, 3], [0, 0, 1, 1, 3, 2])
    beyond = s.hardware([7, 7, 8, 7, 3], np.zeros(6))  # beyond the cap: never priced
    cycles, energy = s.network_costs(hw)
    edp = cycles * energy
    ok = np.flatnonzero(s.accuracies >= s.ref_accuracy)
    constrained = s.best_networks([hw, beyond, hw], accuracy_target=s.ref_accuracy, fallback=7)
    assert constrained.tolist() == [ok[np.argmin(edp[ok])], 7, ok[np.argmin(edp[ok])]]
    scalarized = s.best_networks([hw], accuracy_weight=1.0, edp_weight=2.0)
    assert scalarized[0] == np.argmax(s.accuracies - 2.0 * s.log2_edp_ratio(edp))
    assert s.best_networks([hw], accuracy_target=101.0)[0] in np.flatnonzero(s.accuracies == s.accuracies.max())
