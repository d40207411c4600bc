"""Regularized evolution and CMA-ES behind the ask/tell interface."""

from __future__ import annotations

import numpy as np
import pytest

from codesign_gym.agents.search import CMAES, SEARCH_METHODS, RandomSearch, RegularizedEvolution, make_search_method, run_search
from codesign_gym.envs.design_space import Evaluation


class Sphere:
    """Integer designs, fitness = squared distance to a hidden target; a third of the space infeasible."""

    def __init__(self, dims=8, levels=10, seed=0):
        self.design_nvec = np.full(dims, levels)
        self.target = np.random.default_rng(seed).integers(0, levels, dims)

    def score(self, designs):
        dist = ((designs - self.target) ** 2).sum(axis=1).astype(float)
        feasible = designs[:, 0] < 7
        return Evaluation(fitness=np.where(feasible, dist, 1e3 + dist), objective=dist, feasible=feasible)


def test_registered_by_name():
    assert SEARCH_METHODS["evolution"] is RegularizedEvolution and SEARCH_METHODS["cmaes"] is CMAES
    assert isinstance(make_search_method("evolution", np.array([3, 3]), seed=1, population=4, sample_size=2), RegularizedEvolution)


def test_evolution_fills_the_population_randomly_then_breeds_mutants_of_tournament_winners():
    nvec = np.array([5, 5, 5, 5])
    evo = RegularizedEvolution(nvec, seed=0, population=6, sample_size=6)
    first = evo.ask(6)
    fit = np.arange(6, dtype=float)  # design 0 is the fittest
    evo.tell(first, Evaluation(fit, fit, np.ones(6, dtype=bool)))
    children = evo.ask(20)
    # with the whole population in every tournament, every child is a one-gene mutant of design 0
    changed = (children != first[0]).sum(axis=1)
    assert (changed == 1).all() and ((children >= 0) & (children < nvec)).all()


def test_evolution_removes_the_oldest_not_the_worst():
    evo = RegularizedEvolution(np.array([10, 10]), seed=0, population=3, sample_size=1)
    designs = np.array([[0, 0], [1, 1], [2, 2], [3, 3]])
    fit = np.array([0.0, 5.0, 6.0, 7.0])  # the oldest is the best
    evo.tell(designs, Evaluation(fit, fit, np.ones(4, dtype=bool)))
    kept = [m[0].tolist() for m in evo._members]
    assert kept == [[1, 1], [2, 2], [3, 3]]


def test_mutation_changes_exactly_one_gene_and_skips_fixed_ones():
    evo = RegularizedEvolution(np.array([1, 4, 1, 2]), seed=3, population=2, sample_size=1)
    parent = np.array([0, 2, 0, 1])
    for _ in range(50):
        child = evo.mutate(parent)
        diff = np.flatnonzero(child != parent)
        assert diff.size == 1 and diff[0] in (1, 3) and 0 <= child[diff[0]] < [1, 4, 1, 2][diff[0]]


@pytest.mark.parametrize("bad", [dict(population=1), dict(sample_size=0), dict(population=4, sample_size=5), dict(local_mutation=1.5)])
def test_evolution_bad_options(bad):
    with pytest.raises(ValueError):
        RegularizedEvolution(np.array([3, 3]), **bad)


def test_cmaes_batches_one_generation_and_is_seeded():
    nvec = np.full(8, 10)
    cma = CMAES(nvec, seed=0)
    assert cma.preferred_batch == cma.popsize == 4 + int(np.floor(3 * np.log(8)))
    a = run_search(CMAES(nvec, seed=5), Sphere(), budget=60)
    b = run_search(CMAES(nvec, seed=5), Sphere(), budget=60)
    assert a.best_objective == b.best_objective and np.array_equal(a.best_design, b.best_design)


@pytest.mark.parametrize("name", ["evolution", "cmaes"])
def test_guided_methods_beat_random_search(name):
    results = {}
    for method in ("random", name):
        vals = []
        for seed in range(3):
            problem = Sphere(seed=seed)
            trace = run_search(make_search_method(method, problem.design_nvec, seed=seed), problem, budget=300)
            vals.append(trace.best_objective[-1])
        results[method] = np.mean(vals)
    assert results[name] < results["random"]
    assert isinstance(RandomSearch(np.array([2]), seed=0), RandomSearch)
