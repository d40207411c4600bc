"""Regularized evolution and CMA-ES behind the ask/tell interface."""

from __future__ import annotations

import numpy as np
import pytest

from codesign_gym.agents.search import CMAES, SEARCH_METHODS, RandomSearch, RegularizedEvolution, Search, make_search_method
from codesign_gym.envs.problem import DesignSpace, Evaluation, Objective, Problem


class Sphere(Problem):
    """Integer designs, fitness = squared distance to a hidden target; a third of the space infeasible."""

    def __init__(self, dims=8, levels=10, seed=0):
        self.space = DesignSpace([f"x{i}" for i in range(dims)], np.full(dims, levels))
        self.objective = Objective("distance", "1")
        self.target = np.random.default_rng(seed).integers(0, levels, dims)

    def evaluate(self, designs):
        designs = self.space.check(designs)
        dist = ((designs - self.target) ** 2).sum(axis=1).astype(float)
        feasible = designs[:, 0] < 7
        overshoot = np.maximum(designs[:, 0] - 6, 0) / 6
        return Evaluation(np.where(feasible, dist, 1e3 + dist), dist, feasible, overshoot)

    def to_config(self, design):
        return {"x": np.asarray(design).tolist()}


def _ones(fit):
    return Evaluation(fit, fit, np.ones(fit.size, dtype=bool), np.zeros(fit.size))


def test_registered_by_name():
    assert SEARCH_METHODS["evolution"] is RegularizedEvolution and SEARCH_METHODS["cmaes"] is CMAES
    assert isinstance(make_search_method("evolution", np.array([3, 3]), seed=1, population=4, sample_size=2), RegularizedEvolution)


def test_evolution_fills_the_population_randomly_then_breeds_mutants_of_tournament_winners():
    nvec = np.array([5, 5, 5, 5])
    evo = RegularizedEvolution(nvec, seed=0, population=6, sample_size=6)
    first = evo.ask(6)
    fit = np.arange(6, dtype=float)  # design 0 is the fittest
    evo.tell(first, _ones(fit))
    children = evo.ask(20)
    # with the whole population in every tournament, every child is a one-gene mutant of design 0
    changed = (children != first[0]).sum(axis=1)
    assert (changed == 1).all() and ((children >= 0) & (children < nvec)).all()


def test_evolution_removes_the_oldest_not_the_worst():
    evo = RegularizedEvolution(np.array([10, 10]), seed=0, population=3, sample_size=1)
    designs = np.array([[0, 0], [1, 1], [2, 2], [3, 3]])
    fit = np.array([0.0, 5.0, 6.0, 7.0])  # the oldest is the best
    evo.tell(designs, _ones(fit))
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
    a = Search("cmaes").run(Sphere(), budget=60, seed=5)
    b = Search("cmaes").run(Sphere(), budget=60, seed=5)
    assert a.best_objective == b.best_objective and np.array_equal(a.last.best_design, b.last.best_design)
    assert [p.evals for p in a.points][:2] == [cma.popsize, 2 * cma.popsize]


def _mean_best(method: str) -> float:
    """Mean best distance of ``method`` over three seeded Spheres at 300 evaluations."""
    return float(np.mean([Search(method).run(Sphere(seed=seed), budget=300, seed=seed).best_objective for seed in range(3)]))


@pytest.mark.parametrize("name", ["evolution", "cmaes"])
def test_guided_methods_beat_random_search(name):
    assert _mean_best(name) < _mean_best("random")
    assert isinstance(make_search_method("random", np.array([2]), seed=0), RandomSearch)
