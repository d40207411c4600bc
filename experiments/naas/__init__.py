"""The NAAS experiment: a NAS-Bench-201 network and its accelerator searched together.

``codesign-gym run naas --accelerator eyeriss --dataset cifar10 --budget N --seeds S``

On ``codesign/NASAccelerator-v0``'s problem (:class:`~codesign_gym.envs.nas_accelerator.NASAcceleratorProblem`)
with the constrained objective (minimise EDP, pJ x cycles, subject to accuracy >= the ResNet
cell's; resources capped by the baseline), one problem per search:

- **joint** (network + accelerator in one design vector) with ``--methods`` (search baselines;
  RL methods as one-step episodes on RLlib, an MLP policy);
- **nested**, the joint search in NAAS's two-level form (the method picks the accelerator; the
  best cell on it is found exactly, one accelerator pricing per evaluation) with
  ``--nested-methods`` (``none``: skip it);
- the ablations (``--ablations``) with ``--ablation-methods``: **hardware** (network fixed to the
  ResNet cell) and **network** (hardware fixed to the baseline itself; its exact optimum over the
  15,625 cells gives ``gap_to_opt``).

``--searches S ...`` runs exactly those searches, each with ``--methods`` (a sweep's trial).
``results.csv``: ``best_objective`` is the EDP (pJ x cycles), ``ratio_to_ref`` the EDP over the
baseline's running the ResNet cell. Every evaluation is archived; the report (:mod:`.report`)
writes ``naas.md`` (EDP reduction at equal or better accuracy per search and method, best design
per search) and ``pareto.png``.
"""

from __future__ import annotations

import dataclasses

from codesign_gym.agents.rllib.run_options import ONE_STEP_EPISODES
from codesign_gym.experiments.runner.spec import ExperimentDef, option

SEARCHES = ("joint", "nested", "hardware", "network")
ABLATIONS = ("hardware", "network")
DEFAULT_METHODS = ("random", "evolution", "cmaes", "bayesian", "reinforce")
DEFAULT_ABLATION_METHODS = ("random", "evolution", "cmaes")
DEFAULT_NESTED_METHODS = ("random", "evolution", "cmaes")
#: Options of the RL methods: an MLP policy on one-step episodes, 8 sub-envs per runner, 16 episodes per batch.
_BASELINES = ("eyeriss", "nvdla256", "nvdla1024", "shidiannao")


def _none_is_empty(values) -> tuple:
    """A method or search list (or one name) as a tuple; the single word ``none`` is the empty list."""
    values = (values,) if isinstance(values, str) else tuple(values)
    return () if tuple(str(v).lower() for v in values) == ("none",) else values


@dataclasses.dataclass(frozen=True)
class NaasOptions:
    """The problem (baseline, dataset, target, energy scope, inner-search effort) and which
    searches run with which methods."""

    accelerator: str = option("eyeriss", "baseline that caps the search and is the reference", choices=_BASELINES)
    dataset: str = option("cifar10", "cifar10|cifar100|ImageNet16-120")
    nested_methods: tuple[str, ...] = option(DEFAULT_NESTED_METHODS, "methods of the nested joint search (NAAS's two-level form: the "
                                             "method picks the accelerator, the best cell on it is exact); none: skip it")
    ablations: tuple[str, ...] = option(ABLATIONS, "ablations to run: hardware network; none: no ablation")
    ablation_methods: tuple[str, ...] = option(DEFAULT_ABLATION_METHODS, "methods of the ablations")
    searches: tuple[str, ...] | None = option(None, "run exactly these searches (joint nested hardware network), each with --methods; "
                                              "unset: joint, nested and the ablations, each with its own methods")
    accuracy_target: float | None = option(None, "top-1 accuracy in percent a design must reach; unset: the ResNet cell's on the dataset")
    energy_scope: str = option("total", "total: DRAM traffic + on-chip energy; onchip: DRAM energy left out of every mapping and "
                               "cost, designs and baseline alike (MAESTRO's scope, NAAS's cost model)", choices=("total", "onchip"))
    samples: int = option(256, "inner mapping search: random mappings per layer")
    rounds: int = option(1, "inner mapping search: refinement rounds")

    def __post_init__(self) -> None:
        from codesign_gym.agents.registry import check_methods
        from codesign_gym.costmodels.workloads import nb201

        object.__setattr__(self, "dataset", nb201.canonical_dataset(self.dataset))
        for name in ("nested_methods", "ablations", "ablation_methods", "searches"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _none_is_empty(getattr(self, name)))
        for name, values, allowed in (("accelerator", (self.accelerator,), _BASELINES), ("ablations", self.ablations, ABLATIONS),
                                      ("searches", self.searches or (), SEARCHES), ("energy_scope", (self.energy_scope,), ("total", "onchip"))):
            bad = [v for v in values if v not in allowed]
            if bad:
                raise ValueError(f"--{name.replace('_', '-')} {bad[0]!r}: expected one of {', '.join(allowed)}")
        if self.searches is not None and not self.searches:
            raise ValueError("--searches: expected at least one of " + ", ".join(SEARCHES))
        for methods in (self.nested_methods, self.ablation_methods):
            if methods:
                check_methods(methods)
        if self.samples < 1 or self.rounds < 0:
            raise ValueError(f"--samples {self.samples} / --rounds {self.rounds}: expected samples >= 1 and rounds >= 0")

    def runs(self) -> list[tuple[str, tuple[str, ...] | None]]:
        """(search, its methods or None for the run's ``--methods``) in run order."""
        if self.searches is not None:
            return [(s, None) for s in self.searches]
        out: list[tuple[str, tuple[str, ...] | None]] = [("joint", None)]
        if self.nested_methods:
            out.append(("nested", self.nested_methods))
        if self.ablation_methods:
            out += [(s, self.ablation_methods) for s in self.ablations]
        return out


def build_problem(options: NaasOptions, search: str):
    """The constrained NAAS problem of ``search`` (the env options RL methods use too)."""
    from codesign_gym.envs.nas_accelerator import NASAcceleratorProblem

    return NASAcceleratorProblem(dataset=options.dataset, accelerator=options.accelerator, objective="constrained",
                                 accuracy_target=options.accuracy_target, mode="one_shot", action="multidiscrete", search=search,
                                 samples=options.samples, rounds=options.rounds, energy_scope=options.energy_scope)


def problems(options: NaasOptions) -> list:
    return [(build_problem(options, search), methods) for search, methods in options.runs()]





EXPERIMENT = ExperimentDef(
    name="naas",
    help="NAAS: a NAS-Bench-201 network and its accelerator searched together (EDP at equal accuracy)",
    options=NaasOptions,
    problems=problems,
    default_methods=DEFAULT_METHODS,
    default_budget=300,
    default_seeds=3,
    method_options=ONE_STEP_EPISODES,
    report="codesign_gym.experiments.naas.report:write_report",
    archive=True,
)
