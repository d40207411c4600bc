"""The ConfuciuX experiment: every method on the same resource-assignment problem and budget.

``codesign-gym run confuciux --model cfx/mobilenet_v2 --dataflow dla --objective latency
--constraint area:0.5 --budget N --seeds S`` prices the problem once
(:class:`~codesign_gym.envs.resource_assignment.ResourceAssignmentProblem`), writes the exact
optimum as the ``exact`` row (multiple-choice knapsack, separable objectives only; every
``gap_to_opt`` refers to it), then runs each method x seed for ``N`` whole-design evaluations
(RL: episodes). RL methods train ConfuciuX's LSTM policy, one sequence per episode of ``L``
layers; ``rl_ga`` is ConfuciuX's REINFORCE then its fine-tuning GA, with ConfuciuX's split of the
budget (at 3,673: 333 episodes, then the GA; see
:class:`~codesign_gym.agents.rllib.method.RLThenGA`). The generic summary and convergence plot
are the report (``codesign-gym report DIR``).
"""

from __future__ import annotations

import dataclasses

from codesign_gym.experiments.runner.spec import METHOD, ExperimentDef, option

#: Design evaluations ConfuciuX's RL+GA used in its MobileNetV2/ResNet-50 runs (our anchor budget):
#: its 500 epochs, 333 REINFORCE episodes then 167 GA generations of 20 designs.
CONFUCIUX_BUDGET = 3673
OBJECTIVES = ("latency", "energy", "edp")


@dataclasses.dataclass(frozen=True)
class ConfuciuxOptions:
    """The problem of ``run confuciux`` (checked when it is built) and the search batch size."""

    model: str = option("cfx/mobilenet_v2", "workload: zoo name, cfx/<name> or a layer-table CSV")
    dataflow: str = option("dla", "dla|shi|eye (= cfx_dla|cfx_shi|cfx_eye) or another built-in")
    objective: str = option("latency", "latency (cycles), energy (pJ) or edp (cycles*pJ)", choices=OBJECTIVES)
    constraint: str = option("area:0.5", "KIND:RATIO with KIND area|power and 0 < RATIO <= 1")
    batch_size: int | None = option(None, "designs per search round (none: each method's own, e.g. 32 for genetic, 1 for annealing)",
                                    role=METHOD)

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"--objective {self.objective!r}: expected one of {OBJECTIVES}")
        if self.batch_size is not None and (isinstance(self.batch_size, bool) or self.batch_size < 1):
            raise ValueError(f"--batch-size {self.batch_size}: expected a positive number of designs per round")


def problems(options: ConfuciuxOptions) -> list:
    """The one problem: ``options``' workload, dataflow, objective and constraint."""
    from codesign_gym.envs.resource_assignment import ResourceAssignmentProblem

    problem = ResourceAssignmentProblem(workload=options.model, dataflow=options.dataflow, objective=options.objective,
                                        constraint=options.constraint)
    return [(problem, None)]


def method_options(options: ConfuciuxOptions, problem) -> dict:
    """RLlib settings: ConfuciuX's LSTM policy, one sequence spanning an episode of ``L`` layers."""
    return {"module": "lstm", "episode_length": problem.num_layers}


EXPERIMENT = ExperimentDef(
    name="confuciux",
    help="ConfuciuX resource assignment: PEs and buffer per layer under an area/power budget",
    options=ConfuciuxOptions,
    problems=problems,
    default_methods=("exact", "random", "genetic", "annealing", "bayesian", "model_based", "reinforce", "rl_ga"),
    default_budget=600,
    default_seeds=3,
    method_options=method_options,
    budget_help="whole-design evaluations per method and seed (RL: episodes)",
)
