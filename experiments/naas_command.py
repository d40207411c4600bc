"""``codesign-gym run naas``: the parser and handler of the NAAS experiment (:mod:`.naas`)."""

from __future__ import annotations

import argparse
from typing import Callable


def add_naas_parser(experiments: argparse._SubParsersAction, core_options: Callable, launch: Callable) -> None:
    """Add ``run naas`` with the shared core options; ``launch`` is run_commands' launcher."""
    naas = experiments.add_parser("naas", help="NAAS: a NAS-Bench-201 network and its accelerator searched together (EDP at equal accuracy)")
    core_options(naas, default_budget=300)
    naas.add_argument("--accelerator", default="eyeriss", help="baseline that caps the search and is the reference: "
                      "eyeriss|nvdla256|nvdla1024|shidiannao (default: eyeriss)")
    naas.add_argument("--dataset", default="cifar10", help="cifar10|cifar100|ImageNet16-120 (default: cifar10)")
    naas.add_argument("--methods", nargs="+", default=None,
                      help="joint-search methods (default: random evolution cmaes bayesian reinforce; also ppo, genetic, annealing)")
    naas.add_argument("--nested-methods", nargs="*", default=None,
                      help="methods of the nested joint search (NAAS's two-level form: the method picks the accelerator, the "
                           "best cell on it is exact; default: random evolution cmaes; none: skip it)")
    naas.add_argument("--ablations", nargs="*", default=None, help="ablations to run: hardware network (default: both; none: no ablation)")
    naas.add_argument("--ablation-methods", nargs="+", default=None, help="methods of the ablations (default: random evolution cmaes)")
    naas.add_argument("--accuracy-target", type=float, default=None,
                      help="accuracy (%%) a design must reach (default: the ResNet cell's on the dataset)")
    naas.add_argument("--energy-scope", default="total", choices=("total", "onchip"),
                      help="total (default): DRAM traffic + on-chip energy; onchip: DRAM energy left out of every mapping and cost, "
                           "designs and baseline alike (MAESTRO's scope, NAAS's cost model)")
    naas.add_argument("--samples", type=int, default=256, help="inner mapping search: random mappings per layer (default: 256)")
    naas.add_argument("--rounds", type=int, default=1, help="inner mapping search: refinement rounds (default: 1)")
    naas.set_defaults(handler=lambda args: run_naas_command(args, launch))


def run_naas_command(args: argparse.Namespace, launch: Callable) -> int:
    from codesign_gym.experiments.naas import (DEFAULT_ABLATION_METHODS, DEFAULT_METHODS, DEFAULT_NESTED_METHODS, RL_METHODS, NaasConfig,
                                               run_experiment)

    config = NaasConfig(accelerator=args.accelerator, dataset=args.dataset, budget=args.budget, seeds=args.seeds,
                        methods=tuple(args.methods or DEFAULT_METHODS),
                        nested_methods=tuple(DEFAULT_NESTED_METHODS if args.nested_methods is None else args.nested_methods),
                        ablations=tuple(("hardware", "network") if args.ablations is None else args.ablations),
                        ablation_methods=tuple(args.ablation_methods or DEFAULT_ABLATION_METHODS),
                        samples=args.samples, rounds=args.rounds, accuracy_target=args.accuracy_target,
                        energy_scope=args.energy_scope)
    config.validate()
    methods = list(config.methods) + list(config.nested_methods) + (list(config.ablation_methods) if config.ablations else [])
    summary = launch("naas", args, methods, RL_METHODS, lambda out: run_experiment(config, out))
    out = summary.parent
    print(f"\n{(out / 'naas.md').read_text()}\nsummary: {summary}; tables: {out / 'naas.md'}; plot: {out / 'pareto.png'}")
    return 0
