"""HADAS's nested NSGA-II (optuna) and the random archive on the EarlyExitDVFS problem; one tiny
REINFORCE run on RLlib that fills the archive through the env's info."""

from __future__ import annotations

import numpy as np
import pytest

from codesign_gym.agents.hadas import NestedNSGA2, random_archive
from codesign_gym.envs.early_exit_dvfs import EarlyExitDVFSProblem


@pytest.fixture(scope="module")
def problem() -> EarlyExitDVFSProblem:
    return EarlyExitDVFSProblem()


def test_nested_nsga2_spends_exactly_the_budget_and_is_seeded(problem):
    a = NestedNSGA2(problem, seed=3, outer_population=4, inner_population=5, inner_generations=2).run(37)
    b = NestedNSGA2(problem, seed=3, outer_population=4, inner_population=5, inner_generations=2).run(37)
    assert len(a) == 37 and a.designs == b.designs
    designs = np.array(a.designs)
    m = problem.evaluate_designs(designs)
    np.testing.assert_allclose(m["energy_mj"], a.energy_mj) and np.testing.assert_allclose(m["accuracy"], a.accuracy)
    # each outer trial searches one backbone: blocks of inner_population * inner_generations designs share it
    assert all(len(set(designs[i : i + 10, 0])) == 1 for i in range(0, 30, 10))


def test_nested_nsga2_improves_on_its_first_generation(problem):
    a = NestedNSGA2(problem, seed=0, outer_population=8, inner_population=10, inner_generations=4).run(400)
    energy, acc = np.array(a.energy_mj), np.array(a.accuracy)
    first = (acc[:10] >= 85).any() and energy[:10][acc[:10] >= 85].min()
    later = energy[acc >= 85].min()
    assert later <= (first if first else np.inf)


def test_random_archive_and_bad_budgets(problem):
    a = random_archive(problem, 50, seed=1)
    assert len(a) == 50 and np.array(a.designs).shape == (50, problem.design_nvec.size)
    with pytest.raises(ValueError, match="budget=0"):
        random_archive(problem, 0)
    with pytest.raises(ValueError, match="inner_population=1"):
        NestedNSGA2(problem, inner_population=1)


def test_reinforce_fills_the_archive_from_the_env():
    ray = pytest.importorskip("ray")
    from codesign_gym.experiments.hadas_rl import train_rl_archive

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        rows, episodes, _ = train_rl_archive("reinforce", {"dataset": "cifar-100"}, seed=0, budget=16)
    finally:
        ray.shutdown()
    assert episodes >= 16 and len(rows) >= 16
    p = EarlyExitDVFSProblem()
    m = p.evaluate_designs(np.array([r[0] for r in rows], dtype=np.int64))
    np.testing.assert_allclose(m["energy_mj"], [r[2] for r in rows], rtol=1e-9)
