"""Contract and semantics tests of codesign/NASAccelerator-v0: its Problem (evaluate, to_config,
reference, the network search's optimum) and the single and native vector envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import codesign_gym.envs  # noqa: F401  (registers the ids)
from codesign_gym.costmodels.naas.design import RESNET_INDEX
from codesign_gym.costmodels.workloads import nb201
from codesign_gym.envs.episode_info import FINAL_INFO_KEYS
from codesign_gym.envs.nas_accelerator import (
    LOG2_CLIP,
    METRIC_UNITS,
    NASAcceleratorEnv,
    NASAcceleratorProblem,
    NASAcceleratorVectorEnv,
)

ENV_ID = "codesign/NASAccelerator-v0"
RESNET_CODES = nb201.edge_ops()[RESNET_INDEX].tolist()
# a 16 x 8 array (C, M parallel), 8-word scratchpads, 64 KiB buffer, 8 words/cycle: within the eyeriss cap
HW = [4, 3, 1, 6, 3] + [0, 0, 1, 1, 3, 2]


@pytest.fixture(scope="module")
def problem() -> NASAcceleratorProblem:
    return NASAcceleratorProblem(action="multidiscrete")


QUICK = {"samples": 32, "rounds": 0}  # a light inner search: the checkers step random (mostly new) accelerators


@pytest.mark.parametrize("options", [QUICK, {"action": "multidiscrete", **QUICK}, {"mode": "sequential", "search": "network"},
                                     {"search": "hardware", "objective": "constrained", "action": "multidiscrete", **QUICK},
                                     {"search": "network", "dataset": "cifar100"}, {"search": "nested", "mode": "sequential", **QUICK}])
def test_single_env_passes_gymnasium_and_sb3_checkers(options):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    gym_check_env(gym.make(ENV_ID, **options).unwrapped, skip_render_check=True)
    sb3_check_env(NASAcceleratorEnv(**options), warn=False)


def test_spaces_per_mode(problem):
    assert NASAcceleratorEnv().action_space == gym.spaces.Box(0.0, 1.0, (17,), np.float32)
    assert NASAcceleratorEnv(search="network").action_space == gym.spaces.Box(0.0, 1.0, (6,), np.float32)
    md = NASAcceleratorEnv(problem=problem).action_space
    assert isinstance(md, gym.spaces.MultiDiscrete) and md.nvec.tolist() == [5] * 6 + [8, 8, 9, 8, 4] + [6] * 6
    assert NASAcceleratorEnv(search="hardware", action="multidiscrete").action_space.nvec.tolist() == [8, 8, 9, 8, 4] + [6] * 6
    seq = NASAcceleratorEnv(mode="sequential")
    assert seq.action_space == gym.spaces.Discrete(9) and seq.observation_space.shape == (34,)


def test_step_reports_the_cost_model_and_the_scalarized_reward(problem):
    env = NASAcceleratorEnv(problem=problem)
    env.reset(seed=0)
    action = np.array(RESNET_CODES + HW)
    _, reward, terminated, truncated, info = env.step(action)
    hw = problem.naas_space.hardware(HW[:5], HW[5:])
    m = problem.naas_space.evaluate([RESNET_INDEX], [hw])
    assert terminated and not truncated and info["valid"] and info["feasible"]
    assert set(FINAL_INFO_KEYS) | set(METRIC_UNITS) <= set(info)
    assert info["arch_index"] == RESNET_INDEX and info["accuracy"] == 93.91 and info["config"]["hardware"] == hw.key()
    assert info["edp"] == m["edp"][0] and info["energy_pj"] == m["energy_pj"][0] and info["latency_cycles"] == m["latency_cycles"][0]
    assert info["edp_reduction"] == pytest.approx(problem.naas_space.ref_edp / info["edp"])
    cfg = info["config"]
    assert (cfg["parallel_x"], cfg["parallel_y"], cfg["loop_order"], cfg["num_pes"], info["num_pes"]) == ("C", "M", "CMPQRS", 128, 128)
    assert cfg["arch_str"] == nb201.arch_from_index(RESNET_INDEX) and (info["pe_x"], info["pe_y"]) == (hw.pe_x, hw.pe_y)
    assert info["area_mm2"] == m["area_mm2"][0] == pytest.approx(problem.naas_space.area_mm2(hw)) and 0 < info["area_mm2"] < 1.26
    assert reward == pytest.approx(np.log2(info["edp_reduction"]))  # equal accuracy: only the EDP term
    assert info["fitness"] == info["objective"] == -reward  # scalarized: the objective is the negated reward
    np.testing.assert_array_equal(info["design"], action)


def test_box_action_quantizes_levels_and_ranks_importances(problem):
    box = NASAcceleratorProblem()
    a = np.zeros((1, 17))
    a[0, :6] = (np.array(RESNET_CODES) + 0.5) / 5
    a[0, 6:11] = (np.array(HW[:5]) + 0.5) / box.design_nvec[6:11]
    a[0, 11:] = [0.1, 0.1, 0.3, 0.3, 0.9, 0.7]  # C > M > P = Q > R = S
    d = box.quantize_box(a)
    assert d[0].tolist() == RESNET_CODES + HW[:5] + [1, 0, 3, 2, 5, 4]
    assert box.decode(d)[1][0].loop_order == problem.decode(np.array([RESNET_CODES + HW]))[1][0].loop_order
    a[0, 6] = 1.0  # the top of a level entry is its last level
    assert box.quantize_box(a)[0, 6] == 7
    with pytest.raises(ValueError, match="outside the action space"):
        box.quantize_box(a * 2)


def test_constrained_objective_ranks_infeasible_below_feasible():
    p = NASAcceleratorProblem(objective="constrained", action="multidiscrete")
    designs = np.array([RESNET_CODES + HW,  # feasible
                        [0] * 6 + HW,  # all-none cell: 10% accuracy
                        RESNET_CODES + [7, 7] + HW[2:],  # 128 x 128 PEs: beyond the cap
                        RESNET_CODES + [4, 3, 8, 7, 3] + HW[5:]])  # 1024-word scratchpads + 128 KiB: beyond on-chip bytes
    ev = p.evaluate(designs)
    m = ev.metrics
    assert ev.feasible.tolist() == [True, False, False, False] and m["valid"].tolist() == [True, True, False, False]
    assert ev.fitness[0] == pytest.approx(-np.log2(m["edp_reduction"][0]))
    assert (ev.fitness[1:] > LOG2_CLIP).all() and ev.fitness[2] > ev.fitness[1] - 10
    # the objective is the EDP (inf beyond the cap: never priced); relative to the reference it is 1 / edp_reduction
    assert p.objective.name == "edp" and p.objective.unit == "pJ*cycles" and ev.objective.tolist() == m["edp"].tolist()
    assert ev.objective[0] / p.reference().objective == pytest.approx(1 / m["edp_reduction"][0]) and np.isinf(ev.objective[2:]).all()
    assert ev.overshoot[0] == 0 and ev.overshoot[1] == pytest.approx(93.91 - m["accuracy"][1])


def test_budgets_below_the_cap_make_designs_infeasible_and_beyond_it_raise():
    p = NASAcceleratorProblem(objective="constrained", action="multidiscrete", max_pes=64)
    ev = p.evaluate(np.array([RESNET_CODES + HW]))  # 128 PEs
    assert ev.metrics["valid"][0] and not ev.feasible[0] and ev.overshoot[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="max_pes=256 is beyond the eyeriss cap 168"):
        NASAcceleratorProblem(objective="constrained", max_pes=256)
    with pytest.raises(ValueError, match="max_onchip_bytes"):
        NASAcceleratorProblem(objective="constrained", max_onchip_bytes=10**6)


def test_hardware_and_network_ablations():
    hw_only = NASAcceleratorProblem(search="hardware", action="multidiscrete")
    ev = hw_only.evaluate(np.array([HW]))
    assert ev.metrics["arch_index"][0] == RESNET_INDEX and ev.metrics["num_pes"][0] == 128
    assert hw_only.space.names == ("pe_x_level", "pe_y_level", "l1_words_level", "l2_kib_level", "dram_words_per_cycle_level",
                                   "importance_R", "importance_S", "importance_P", "importance_Q", "importance_C", "importance_M")
    net_only = NASAcceleratorProblem(search="network", action="multidiscrete", objective="constrained")
    ev = net_only.evaluate(np.array([RESNET_CODES]))
    assert ev.metrics["edp_reduction"][0] == 1.0 and ev.fitness[0] == 0.0 and ev.metrics["pe_x"][0] == 0
    assert net_only.to_config(np.array(RESNET_CODES))["hardware"] == "eyeriss"
    fixed = NASAcceleratorProblem(search="hardware", arch=nb201.arch_from_index(5))
    assert fixed.arch == 5


#: Fitness of four designs (ResNet cell, all-none cell, beyond the cap, another cell and accelerator) with QUICK, as the
#: pre-contract NASAcceleratorProblem.score computed them (the search methods' and env's numbers stay the same).
GOLDEN_FITNESS = {
    ("joint", "scalarized"): [0.5462754211540576, 77.94216387185031, 128.60768257722123, 2.5719980076755626],
    ("joint", "constrained"): [0.5462754211540576, 27.750110466716812, 28.60768257722124, 22.92922176974977],
    ("nested", "scalarized"): [-0.7879306535723685, -0.7879306535723685, 128.60768257722123, 0.8477049927801237],
    ("nested", "constrained"): [0.5462754211540576, 0.5462754211540576, 28.60768257722124, 1.2849626002299799],
}


@pytest.mark.parametrize("search, objective", sorted(GOLDEN_FITNESS))
def test_fitness_is_unchanged(search, objective):
    designs = np.array([RESNET_CODES + HW, [0] * 6 + HW, RESNET_CODES + [7, 7] + HW[2:], [2, 3, 4, 0, 1, 2] + [3, 4, 2, 5, 3, 5, 0, 4, 0, 0, 0]])
    p = NASAcceleratorProblem(objective=objective, action="multidiscrete", search=search, **QUICK)
    ev = p.evaluate(designs if search == "joint" else designs[:, 6:])
    np.testing.assert_allclose(ev.fitness, GOLDEN_FITNESS[search, objective], rtol=1e-12)


def test_problem_contract_metrics_units_label_options_and_reference():
    p = NASAcceleratorProblem(objective="constrained", action="multidiscrete", **QUICK)
    ev = p.evaluate(np.array([RESNET_CODES + HW, [0] * 6 + [7, 7] + HW[2:]]))
    assert list(ev.metrics) == list(METRIC_UNITS) and dict(ev.units) == METRIC_UNITS
    assert all(isinstance(v, np.ndarray) and v.shape == (2,) and v.dtype.kind in "biuf" for v in ev.metrics.values())
    assert p.label == "eyeriss|cifar10|joint" and p.env_id == "codesign/NASAccelerator-v0"
    assert NASAcceleratorProblem(**p.options).evaluate(np.array([RESNET_CODES + HW])).fitness[0] == ev.fitness[0]
    ref = p.reference()
    assert ref.design is None and ref.objective == p.naas_space.ref_edp and "ResNet cell" in ref.label and p.optimum() is None
    net = NASAcceleratorProblem(search="network", objective="constrained", action="multidiscrete")
    assert net.reference().design.tolist() == RESNET_CODES and net.evaluate(net.reference().design[None, :]).objective[0] == net.reference().objective
    assert NASAcceleratorProblem(search="network").reference().objective == 0.0  # scalarized: the reference's negated reward


@pytest.mark.parametrize("dataset", ["cifar10", "ImageNet16-120"])
def test_network_search_optimum_is_exhaustive(dataset):
    p = NASAcceleratorProblem(search="network", objective="constrained", action="multidiscrete", dataset=dataset)
    opt = p.optimum()
    costs = p.naas_space.baseline_costs()
    ok = np.flatnonzero(costs.accuracy >= p.accuracy_target)
    i = int(ok[np.argmin(costs.edp[ok])])  # the least EDP at the target, over all 15,625 cells
    assert opt.objective == costs.edp[i] and opt.design.tolist() == nb201.edge_ops()[i].tolist() and opt.evals == 15_625
    if dataset == "cifar10":  # the ResNet cell is the cheapest cell at its own accuracy on eyeriss
        assert i == RESNET_INDEX and opt.objective == p.reference().objective


@pytest.mark.parametrize("dataset", ["cifar10", "ImageNet16-120"])
def test_nested_search_runs_the_best_qualifying_cell_on_each_accelerator(dataset):
    nested = NASAcceleratorProblem(search="nested", objective="constrained", action="multidiscrete", dataset=dataset, **QUICK)
    hw_only = NASAcceleratorProblem(search="hardware", objective="constrained", action="multidiscrete", dataset=dataset, **QUICK)
    designs = np.array([HW, [3, 4, 2, 5, 3, 5, 0, 4, 0, 0, 0], [7, 7, 8, 7, 3] + [0] * 6])  # the last is beyond the cap
    m, mh = nested.evaluate(designs).metrics, hw_only.evaluate(designs).metrics
    s, hws = nested.naas_space, nested.decode(designs)[1]
    for i in range(2):
        cycles, energy = s.network_costs(hws[i])
        edp = cycles * energy
        ok = np.flatnonzero(s.accuracies >= nested.accuracy_target)
        assert m["edp"][i] == pytest.approx(edp[ok].min()) and m["accuracy"][i] >= nested.accuracy_target
        assert m["edp_reduction"][i] >= mh["edp_reduction"][i]  # the fixed ResNet cell is one of the candidates
    assert not m["valid"][2] and m["arch_index"][2] == RESNET_INDEX
    if dataset == "cifar10":  # the ResNet cell is the cheapest cell at its own accuracy
        assert (m["arch_index"][:2] == RESNET_INDEX).all()
    else:
        assert (m["arch_index"][:2] != RESNET_INDEX).all() and (m["edp_reduction"][:2] > mh["edp_reduction"][:2]).all()
    with pytest.raises(ValueError, match="exceeds the eyeriss cap"):
        s.network_costs(hws[2])


def test_nested_scalarized_search_takes_the_highest_reward_cell():
    p = NASAcceleratorProblem(search="nested", action="multidiscrete", accuracy_weight=1.0, edp_weight=2.0, **QUICK)
    ev = p.evaluate(np.array([HW]))
    s = p.naas_space
    cycles, energy = s.network_costs(p.decode(np.array([HW]))[1][0])
    reward = s.accuracies - 2.0 * np.clip(np.log2(cycles * energy / s.ref_edp), -LOG2_CLIP, LOG2_CLIP)
    assert -ev.fitness[0] == pytest.approx(reward.max() - s.ref_accuracy) and ev.metrics["arch_index"][0] == np.argmax(reward)
    assert NASAcceleratorEnv(search="nested", action="multidiscrete").action_space.nvec.tolist() == [8, 8, 9, 8, 4] + [6] * 6


def test_onchip_energy_scope_prices_designs_and_reference_without_dram_energy():
    p = NASAcceleratorProblem(search="nested", objective="constrained", action="multidiscrete", energy_scope="onchip", **QUICK)
    s = p.naas_space
    assert s.energy_scope == "onchip" and s.baseline.name == "eyeriss-onchip"
    m = p.evaluate(np.array([HW])).metrics
    cycles, energy = s.network_costs(p.decode(np.array([HW]))[1][0])
    i = m["arch_index"][0]
    assert m["energy_pj"][0] == energy[i] and m["edp_reduction"][0] == pytest.approx(s.ref_edp / (cycles[i] * energy[i]))


def test_sequential_mode_decides_one_entry_per_step_then_scores():
    env = NASAcceleratorEnv(mode="sequential", search="network")
    obs, _ = env.reset(seed=0)
    assert obs[0] == 1 and obs.sum() == 1
    # Discrete(5) over 5-choice entries: the action is the op code
    for t, code in enumerate(RESNET_CODES):
        obs, reward, terminated, _, info = env.step(code)
        if t < 5:
            assert not terminated and reward == 0 and info["entry"] == t + 1 and obs[t + 1] == 1
    assert terminated and info["arch_index"] == RESNET_INDEX and reward == pytest.approx(0.0)
    seq = NASAcceleratorEnv(mode="sequential")
    seq.reset()
    for a in [8] * 17:  # the top action is every entry's last choice
        _, _, terminated, _, info = seq.step(a)
    assert terminated and info["design"].tolist() == (seq.problem.design_nvec - 1).tolist()


def test_same_seed_same_episode():
    def run(seed):
        env = NASAcceleratorEnv(search="network", mode="sequential")
        env.reset(seed=seed)
        env.action_space.seed(seed)
        out = []
        for _ in range(12):  # two episodes
            _, r, done, _, info = env.step(env.action_space.sample())
            if done:
                out.append((r, info["arch_index"]))
                env.reset()
        return out

    assert run(3) == run(3) and len(run(3)) == 2


@pytest.mark.parametrize(
    "options, match",
    [(dict(dataset="mnist"), "'mnist'"), (dict(accelerator="tpu"), "'tpu'"), (dict(arch="|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"), "cell string"),
     (dict(arch=20000), "20000"), (dict(objective="latency"), "'latency'"), (dict(mode="nested"), "'nested'"), (dict(action="tuple"), "'tuple'"),
     (dict(search="mapping"), "'mapping'"), (dict(accuracy_weight=0.0, edp_weight=0.0), "both 0"), (dict(accuracy_target=120.0), "120.0"),
     (dict(importance_levels=1), "importance_levels=1"), (dict(edp_weight=-1.0), "edp_weight=-1.0"),
     (dict(energy_scope="dram"), "energy_scope 'dram'")],
)
def test_bad_options_raise_clear_errors(options, match):
    with pytest.raises(ValueError, match=match):
        NASAcceleratorProblem(**options)


def test_actions_outside_the_space_are_rejected(problem):
    env = NASAcceleratorEnv(problem=problem)
    env.reset(seed=0)
    bad = np.array(RESNET_CODES + HW)
    bad[0] = 5
    with pytest.raises(ValueError, match="outside the design space.*nvec"):
        env.step(bad)
    with pytest.raises(ValueError, match="outside the action space"):
        env.step(np.zeros(16, dtype=np.int64))  # an importance entry short
    box = NASAcceleratorEnv()
    box.reset()
    with pytest.raises(ValueError, match="outside the action space"):
        box.step(np.full(17, 1.5, dtype=np.float32))
    seq = NASAcceleratorEnv(mode="sequential")
    seq.reset()
    with pytest.raises(ValueError, match="outside the action space"):
        seq.step(9)
    with pytest.raises(RuntimeError, match="reset"):
        NASAcceleratorEnv(problem=problem).step(bad)


def test_vector_env_final_info_has_the_common_keys_and_matches_the_problem(problem):
    venv = NASAcceleratorVectorEnv(num_envs=3, problem=problem)
    venv.reset(seed=0)
    designs = np.array([RESNET_CODES + HW, [1] * 6 + HW, [4] * 6 + HW])
    _, reward, terminated, _, info = venv.step(designs)
    ev = problem.evaluate(designs)
    assert terminated.all() and set(FINAL_INFO_KEYS) | set(METRIC_UNITS) <= set(info) and info["_design"].all()
    np.testing.assert_array_equal(reward, -ev.fitness)
    np.testing.assert_array_equal(info["edp"], ev.metrics["edp"])
    np.testing.assert_array_equal(info["design"], designs)
    assert info["config"][1] == problem.to_config(designs[1])
    _, reward, terminated, _, info = venv.step(designs)  # NEXT_STEP autoreset: nothing ends, nothing is priced
    assert not terminated.any() and (reward == 0).all() and set(info) == {"action_mask", "_action_mask"}
