"""The HADAS experiment: backbone, early exits, exit threshold and DVFS of a Jetson AGX Xavier.

``codesign-gym run hadas --dataset cifar-100 --budget N --seeds S``

Runs each method x seed for ``N`` whole-design evaluations of ``codesign/EarlyExitDVFS-v0``'s
problem (:class:`~codesign_gym.envs.early_exit_dvfs.EarlyExitDVFSProblem`, scalarized objective):
``hadas`` (nested NSGA-II, :mod:`codesign_gym.agents.hadas`), ``random``, and the RL methods
``reinforce``/``ppo`` (one-step episodes on RLlib). ``results.csv`` holds the common row schema
(``best_objective``: the problem's scalarized cost); every evaluation is archived
(``archives/<problem>/<method>-seed<k>.csv``). The report (:mod:`.report`) writes ``hadas.md``
(hypervolume of each run's archive per method, the energy-reduction table, the model against
HADAS's measurements) and ``pareto.png``.
"""

from __future__ import annotations

import dataclasses

from codesign_gym.costmodels.xavier import DATASET_CLASSES, EXIT_SETS, POLICIES
from codesign_gym.costmodels.xavier.model import SCOPES
from codesign_gym.agents.rllib.run_options import ONE_STEP_EPISODES
from codesign_gym.experiments.runner.spec import METHOD, ExperimentDef, option

#: Options of the methods on this problem: the RL methods train an MLP policy on one-step
#: episodes (8 sub-envs per runner, 16 episodes per batch); search baselines price 64 designs per
#: batch (the cost model's sums are batch-size dependent in the last bit; 64 keeps the seeded
#: archives of earlier runs bit for bit).
METHOD_OPTIONS = {**ONE_STEP_EPISODES, "batch_size": 64}


@dataclasses.dataclass(frozen=True)
class HadasOptions:
    """The problem (``dataset``, ``exit_set``, ``policy``, ``energy_scope``) and the nested NSGA-II's sizes."""

    dataset: str = option("cifar-100", "dataset of the exit accuracies", choices=tuple(DATASET_CLASSES))
    exit_set: str = option("current", "exit head data: current (a0..a5) or old_res (older head, a0..a6)", choices=EXIT_SETS)
    policy: str = option("threshold", "exit policy the searches optimise: threshold (modelled) or oracle (upper bound)", choices=POLICIES)
    energy_scope: str = option("module", "what the energy counts: module (every module rail, as HADAS measured) or gpu_rail "
                               "(the GPU rail alone)", choices=SCOPES)
    outer_population: int = option(64, "HADAS outer NSGA-II population (as HADAS)", role=METHOD)
    inner_population: int = option(10, "HADAS inner NSGA-II population (as HADAS)", role=METHOD)
    inner_generations: int = option(2, "inner generations per outer trial", role=METHOD)

    def __post_init__(self) -> None:
        from codesign_gym.agents.hadas import check_populations

        for name, allowed in (("dataset", tuple(DATASET_CLASSES)), ("exit_set", EXIT_SETS), ("policy", POLICIES), ("energy_scope", SCOPES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} {getattr(self, name)!r} is not known; expected one of {list(allowed)}")
        check_populations(self.outer_population, self.inner_population, self.inner_generations)


def problems(options: HadasOptions) -> list:
    """The one problem: the scalarized EarlyExitDVFS problem of ``options`` (every method on it)."""
    from codesign_gym.envs.early_exit_dvfs import EarlyExitDVFSProblem

    return [(EarlyExitDVFSProblem(dataset=options.dataset, exit_set=options.exit_set, policy=options.policy,
                                  energy_scope=options.energy_scope), None)]


EXPERIMENT = ExperimentDef(
    name="hadas",
    help="HADAS: backbone, early exits, exit threshold and DVFS on a Jetson AGX Xavier model",
    options=HadasOptions,
    problems=problems,
    default_methods=("hadas", "random", "reinforce"),
    default_budget=640,
    default_seeds=3,
    method_options=METHOD_OPTIONS,
    report="codesign_gym.experiments.hadas.report:write_report",
    archive=True,
)
