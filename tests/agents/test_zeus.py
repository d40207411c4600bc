"""Zeus's optimizer (pruning exploration, Gaussian Thompson sampling, JIT) and the baselines, the
reproduction of Zeus's V100 energy-vs-Default figures, and the policies as Methods (ZeusMethod,
the RLlib evaluation hook)."""

from __future__ import annotations

import numpy as np
import pytest

from codesign_gym.agents.registry import make_method
from codesign_gym.agents.zeus import (
    GaussianThompsonSampling,
    GridSearchPolicy,
    PruningExploration,
    ZeusMethod,
    after_training,
    make_policy,
    rl_method_options,
    simulate,
)
from codesign_gym.envs.batch_size_power_limit import BatchSizePowerLimitProblem

#: Zeus's trace-driven simulator, V100, eta 0.5, beta 2, 10 seeds: energy vs Default (%).
ZEUS_V100 = {"cifar100": -74.1, "imagenet": -19.4, "squad": -18.9, "librispeech": -38.5, "movielens": -65.6, "sentiment140": -20.9}


def _explore(candidates, default, reaches, cost):
    ex, order = PruningExploration(candidates, default), []
    while (bs := ex.current()) is not None:
        order.append(bs)
        ex.report(bs, cost[bs], reaches(bs, len(order)))
    return order, ex.survivors


def test_pruning_goes_down_then_up_and_stops_at_first_failure_each_round():
    cost = {0: 9.0, 1: 5.0, 2: 3.0, 3: 4.0, 4: 6.0, 5: 8.0, 6: 7.0}
    # 0 and 6 always fail; round 1 from default 3: down 3 2 1 0(fail), up 4 5 6(fail)
    # round 2 re-centred on the cheapest (2) over survivors [1..5]: down 2 1, up 3 4 5
    order, survivors = _explore(list(range(7)), 3, lambda bs, _: bs not in (0, 6), cost)
    assert order == [3, 2, 1, 0, 4, 5, 6, 2, 1, 3, 4, 5]
    assert survivors == [1, 2, 3, 4, 5]


def test_pruning_second_round_drops_batch_sizes_that_fail_then():
    cost = {0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0}
    # round 2 (from 0, the cheapest): 0, then up 1 (fails at the 6th try) -> 2, 3 not tried again
    order, survivors = _explore(list(range(4)), 2, lambda bs, n: not (bs == 1 and n == 6), cost)
    assert order == [2, 1, 0, 3, 0, 1]
    assert survivors == [0]


def test_thompson_sampling_is_deterministic_per_seed_and_exact_on_zero_variance():
    def picks(seed):
        ts = GaussianThompsonSampling([0, 1, 2], seed)
        for arm, rewards in ((0, [-5.0, -6.0]), (1, [-5.5, -5.0]), (2, [-9.0, -3.0])):
            ts.fit(arm, np.array(rewards))
        return [ts.choose() for _ in range(30)]

    assert picks(3) == picks(3) and picks(3) != picks(4)
    ts = GaussianThompsonSampling([0, 1], 0)
    ts.fit(0, np.array([-2.0, -2.0]))  # zero variance: infinite precision, the sample is the mean
    ts.fit(1, np.array([-1.0, -1.0]))
    assert ts.precision[0] == np.inf and all(ts.choose() == 1 for _ in range(10))
    ts.fit(1, np.array([-1.0, -3.0]))
    assert ts.precision[1] == pytest.approx(2 / np.var([-1.0, -3.0])) and ts.mean[1] == pytest.approx(-2.0)


def test_thompson_sampling_draw_stream():
    """Each choice draws one permutation of the arms, then one normal per arm in arm order."""
    ts = GaussianThompsonSampling([0, 1], 11)
    ts.fit(0, np.array([-1.0, -2.0]))
    ts.fit(1, np.array([-1.5, -1.7]))
    rng = np.random.default_rng(11)
    rng.choice(np.array([0, 1]), 2, replace=False)
    s = [rng.normal(ts.mean[a], np.sqrt(1 / ts.precision[a])) for a in (0, 1)]
    assert ts.choose() == int(np.argmax(s))


def test_zeus_starts_at_b0_with_jit_profiling_and_is_deterministic():
    problem = BatchSizePowerLimitProblem(workload="squad", gpu="v100", power_limit="jit", recurrences=40)
    policy = make_policy("zeus", problem, 0)
    assert problem.trace.batch_sizes[policy.act()] == 32
    a, b = simulate(problem, make_policy("zeus", problem, 0), 0), simulate(problem, make_policy("zeus", problem, 0), 0)
    np.testing.assert_array_equal(a.energy_j, b.energy_j)
    c = simulate(problem, make_policy("zeus", problem, 1), 1)
    assert not np.array_equal(a.energy_j, c.energy_j)
    assert a.cost.size == 40 and a.reached.all()


def test_policies_check_the_power_limit_mode_and_names():
    choose = BatchSizePowerLimitProblem(workload="squad", gpu="v100", recurrences=5)
    with pytest.raises(ValueError, match="needs power_limit='jit'"):
        make_policy("zeus", choose, 0)
    with pytest.raises(ValueError, match=r"method 'bogus' is not known; expected one of \['default', 'grid', 'oracle', 'zeus'\]"):
        make_policy("bogus", choose, 0)


def test_default_and_oracle_repeat_their_configuration_and_grid_visits_everything():
    problem = BatchSizePowerLimitProblem(workload="sentiment140", gpu="v100", recurrences=40)
    tr = problem.trace
    oracle = (int(tr.batch_sizes[problem.oracle[0]]), int(tr.power_limits[problem.oracle[1]]))
    for method, expected in (("default", (128, 250)), ("oracle", oracle)):
        assert simulate(problem, make_policy(method, problem, 0), 0).final_config == expected
    grid = GridSearchPolicy(problem, 0)
    assert len(grid.grid) == problem.trace.measured.sum() == 35
    seen = set()
    for _ in range(35):
        a = tuple(grid.act())
        seen.add(a)
        grid.observe({"reached": True, "cost": 1.0 + len(seen)})
    assert len(seen) == 35 and tuple(grid.act()) == grid.grid[0]


def test_reproduces_zeus_v100_energy_vs_default_within_3pp():
    """Our zeus on V100 (eta 0.5, beta 2, seeds 0..9) against Zeus's simulator figures (about 5 s)."""
    for workload, reference in ZEUS_V100.items():
        problem = BatchSizePowerLimitProblem(workload=workload, gpu="v100", eta=0.5, beta=2.0, power_limit="jit")
        default_eta = problem.stats.eta_j[problem.default]
        ratios = [simulate(problem, make_policy("zeus", problem, s), s).energy_j[-10:].mean() / default_eta - 1 for s in range(10)]
        assert 100 * np.mean(ratios) == pytest.approx(reference, abs=3.0), workload


def test_method_traces_the_recommendation_per_recurrence_priced_by_the_problem():
    problem = BatchSizePowerLimitProblem(workload="squad", gpu="v100")  # choose mode, 98 recurrences by default
    seen = []
    trace = make_method("zeus").run(problem, 25, 3, on_progress=lambda t: seen.append(t.evals))
    assert trace.method == "zeus" and seen == list(range(1, 26)) and trace.evals == 25
    # the same episode as simulate() on a jit problem of 25 recurrences
    jit = BatchSizePowerLimitProblem(workload="squad", gpu="v100", power_limit="jit", recurrences=25)
    sim = simulate(jit, make_policy("zeus", jit, 3), 3)
    assert trace.extras["cum_cost"] == pytest.approx(sim.cost.sum()) and trace.extras["tries"] == sim.evals
    np.testing.assert_array_equal(trace.extras["energy_j"], sim.energy_j)
    np.testing.assert_array_equal([p.best_design for p in trace.points], sim.designs)
    ev = problem.evaluate(sim.designs)
    np.testing.assert_array_equal([p.best_fitness for p in trace.points], ev.fitness)
    last = trace.last
    assert last.feasible and last.best_objective == ev.objective[-1]
    assert problem.to_config(last.best_design) == {"batch_size": sim.final_config[0], "power_limit_w": sim.final_config[1]}
    assert trace.extras["final_bs"] == sim.final_config[0] and len(trace.extras["regret_curve"]) == 25
    assert trace.extras["reference"]["oracle"]["cost"] == problem.oracle_cost


def test_methods_are_deterministic_per_seed_and_check_problem_and_budget():
    problem = BatchSizePowerLimitProblem(workload="cifar100", gpu="v100")
    a, b = ZeusMethod("grid").run(problem, 12, 0), ZeusMethod("grid").run(problem, 12, 0)
    assert a.extras == b.extras and ZeusMethod("grid").run(problem, 12, 1).extras != a.extras
    oracle = ZeusMethod("oracle").run(problem, 3, 0)
    assert all(p.best_objective == problem.optimum().objective for p in oracle.points)
    default = ZeusMethod("default").run(problem, 3, 0)
    assert all(p.best_fitness == 1.0 and p.best_objective == problem.reference().objective for p in default.points)
    with pytest.raises(ValueError, match="budget 0: expected a positive number"):
        ZeusMethod("zeus").run(problem, 0, 0)
    with pytest.raises(ValueError, match="method 'rl' is not known"):
        ZeusMethod("rl")

    class Other:
        env_id = "codesign/PatchInference-v0"

    assert "runs on codesign/BatchSizePowerLimit-v0 problems only" in ZeusMethod("zeus").supports(Other())
    assert ZeusMethod("zeus").supports(problem) is None


class _FixedModule:
    """An RLlib module stand-in whose greedy action is always batch size index ``bs``."""

    def __init__(self, bs: int, n: int):
        self.bs, self.n = bs, n

    def forward_inference(self, batch):
        import torch

        logits = torch.zeros((1, self.n))
        logits[0, self.bs] = 1.0
        return {"action_dist_inputs": logits}


def test_after_training_runs_one_greedy_jit_episode_of_the_budget():
    pytest.importorskip("torch")
    problem = BatchSizePowerLimitProblem(workload="sentiment140", gpu="v100")

    class Algo:
        def get_module(self):
            return _FixedModule(2, problem.num_batch_sizes)

    trace = after_training(Algo(), problem, 6, 0)
    assert trace.evals == 6 and trace.extras["final_bs"] == int(problem.trace.batch_sizes[2])
    assert {int(p.best_design[0]) for p in trace.points} == {2}
    assert trace.last.best_design[1] == problem.jit.power_limit_index[2]
    opts = rl_method_options(problem, 5)
    assert opts["after_training"] is after_training and opts["train_episodes"] == 5
    assert opts["episode_length"] == 2 * problem.recurrences and opts["env_options"] == {"power_limit": "jit"}
    with pytest.raises(ValueError, match="rl_episodes 0"):
        rl_method_options(problem, 0)
