"""Black-box search baselines behind one ask/tell interface (see :mod:`.base`)."""

from codesign_gym.agents.search.base import Search, SearchMethod, run_search
from codesign_gym.agents.search.evolution import CMAES, RegularizedEvolution
from codesign_gym.agents.search.finetune import FineTuningGA, name_groups
from codesign_gym.agents.search.methods import (
    SEARCH_METHODS,
    BayesianOptimization,
    GeneticAlgorithm,
    RandomSearch,
    SimulatedAnnealing,
    make_search_method,
)

__all__ = [
    "BayesianOptimization", "CMAES", "FineTuningGA", "GeneticAlgorithm", "RandomSearch", "RegularizedEvolution",
    "SEARCH_METHODS", "Search", "SearchMethod", "SimulatedAnnealing", "make_search_method", "name_groups", "run_search",
]
