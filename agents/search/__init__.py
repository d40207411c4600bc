"""Black-box search baselines behind one ask/tell interface (see :mod:`.base`)."""

from codesign_gym.agents.search.base import DesignProblem, Evaluation, SearchMethod, SearchTrace, run_search
from codesign_gym.agents.search.evolution import CMAES, RegularizedEvolution
from codesign_gym.agents.search.methods import (
    SEARCH_METHODS,
    BayesianOptimization,
    GeneticAlgorithm,
    RandomSearch,
    SimulatedAnnealing,
    make_search_method,
)

__all__ = [
    "BayesianOptimization", "CMAES", "DesignProblem", "Evaluation", "GeneticAlgorithm", "RandomSearch", "RegularizedEvolution",
    "SEARCH_METHODS", "SearchMethod", "SearchTrace", "SimulatedAnnealing", "make_search_method", "run_search",
]
