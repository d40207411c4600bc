"""``codesign-gym run <experiment>`` and ``codesign-gym report DIR``.

Every experiment takes the same core options (DESIGN.md): ``--budget N`` whole-design
evaluations, ``--seeds N`` (seeds 0..N-1), ``--output-dir DIR`` (default
``results/<experiment>-<timestamp>``; an existing directory is resumed) and ``--address``
(default ``$RAY_ADDRESS``; neither set: an embedded local Ray).
"""

from __future__ import annotations

import argparse
import datetime as _dt
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run an experiment (every method x seed on one budget)")
    experiments = run.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    cfx = experiments.add_parser("confuciux", help="ConfuciuX resource assignment: PEs and buffer per layer under an area/power budget")
    _core_options(cfx, default_budget=600)
    cfx.add_argument("--model", default="cfx/mobilenet_v2", help="workload: zoo name, cfx/<name> or a layer-table CSV (default: cfx/mobilenet_v2)")
    cfx.add_argument("--dataflow", default="dla", help="dla|shi|eye (= cfx_dla|cfx_shi|cfx_eye) or another built-in (default: dla)")
    cfx.add_argument("--objective", default="latency", choices=["latency", "energy", "edp"])
    cfx.add_argument("--constraint", default="area:0.5", help="KIND:RATIO with KIND area|power and 0 < RATIO <= 1 (default: area:0.5)")
    cfx.add_argument("--methods", nargs="+", default=None, help="methods to run (default: random genetic annealing bayesian model_based reinforce rl_ga; also ppo)")
    cfx.add_argument("--batch-size", type=int, default=None, help="designs per search round (default: each method's own, e.g. 32 for genetic, 1 for annealing)")
    cfx.set_defaults(handler=run_confuciux)

    zeus = experiments.add_parser("zeus", help="Zeus: batch size and GPU power limit of a recurring training job, on Zeus's traces")
    _core_options(zeus, default_budget=0, default_seeds=10,
                  budget_help="recurrences of the job per method and seed (default: 0 = Zeus's 2 x |batch sizes| x |power limits|)")
    zeus.add_argument("--gpu", default="v100", help="v100|a40|rtx6000|p100 (default: v100)")
    zeus.add_argument("--eta", type=float, default=0.5, help="weight of energy in the cost, in [0, 1] (default: 0.5)")
    zeus.add_argument("--beta", type=float, default=2.0, help="early-stopping threshold factor, > 1; 0 disables early stopping (default: 2)")
    zeus.add_argument("--workloads", nargs="+", default=None, help="workloads (default: cifar100 imagenet squad librispeech movielens sentiment140)")
    zeus.add_argument("--methods", nargs="+", default=None, help="methods (default: zeus default grid oracle; also reinforce ppo, which need Ray)")
    zeus.add_argument("--rl-episodes", type=int, default=8, help="training episodes of each RL method before its evaluation episode (default: 8)")
    zeus.add_argument("--output", default=None, help="path of the JSON summary (default: <output-dir>/zeus.json)")
    zeus.set_defaults(handler=run_zeus)

    mcunet = experiments.add_parser("mcunet", help="MCUNetV2: patch-based inference schedule (split x grid) under an SRAM budget")
    _core_options(mcunet, default_budget=100)
    mcunet.add_argument("--model", default="mobilenet_v2", help="network (default and only choice for now: mobilenet_v2)")
    mcunet.add_argument("--resolution", type=int, default=224, help="input side in pixels (default: 224)")
    mcunet.add_argument("--width", type=float, default=1.0, help="width multiplier (default: 1.0)")
    mcunet.add_argument("--sram-kib", type=float, default=256.0, help="SRAM budget for activations, KiB (default: 256)")
    mcunet.add_argument("--flash-kib", type=float, default=None, help="flash budget for weights, KiB (default: none)")
    mcunet.add_argument("--methods", nargs="+", default=None, help="methods (default: random genetic annealing reinforce; also ppo, bayesian, ...)")
    mcunet.set_defaults(handler=run_mcunet)

    hadas = experiments.add_parser("hadas", help="HADAS: backbone, early exits, exit threshold and DVFS on a Jetson AGX Xavier model")
    _core_options(hadas, default_budget=640)
    hadas.add_argument("--dataset", default="cifar-100", help="cifar-100|tiny-imagenet (default: cifar-100)")
    hadas.add_argument("--exit-set", default="current", help="current|old_res exit head data (default: current, a0..a5)")
    hadas.add_argument("--policy", default="threshold", help="exit policy the searches optimise: threshold (modelled) | oracle (upper bound)")
    hadas.add_argument("--methods", nargs="+", default=None, help="methods (default: hadas random reinforce; also ppo)")
    hadas.add_argument("--outer-population", type=int, default=64, help="HADAS outer NSGA-II population (default: 64, as HADAS)")
    hadas.add_argument("--inner-population", type=int, default=10, help="HADAS inner NSGA-II population (default: 10, as HADAS)")
    hadas.add_argument("--inner-generations", type=int, default=2, help="inner generations per outer trial (default: 2)")
    hadas.set_defaults(handler=run_hadas)

    from codesign_gym.experiments.naas_command import add_naas_parser

    add_naas_parser(experiments, _core_options, lambda *a: _launch(*a))  # `run naas` (experiments/naas_command.py)

    report = sub.add_parser("report", help="re-render summary.md and plots of a results directory")
    report.add_argument("output_dir", help="a run's output directory (holds results.csv)")
    report.set_defaults(handler=run_report)


def _core_options(parser: argparse.ArgumentParser, default_budget: int, default_seeds: int = 3, budget_help: str | None = None) -> None:
    """The options every experiment shares (DESIGN.md); ``budget_help`` states the budget's unit where it differs."""
    parser.add_argument("--budget", type=int, default=default_budget,
                        help=budget_help or f"whole-design evaluations per method and seed (default: {default_budget})")
    parser.add_argument("--seeds", type=int, default=default_seeds, help=f"number of seeds, run as 0..N-1 (default: {default_seeds})")
    parser.add_argument("--output-dir", default=None, help="results directory (default: results/<experiment>-<timestamp>); an existing one is resumed")
    parser.add_argument("--address", default=None, help="Ray cluster to join (auto or HOST:PORT; default: $RAY_ADDRESS, else an embedded local Ray)")
    from codesign_gym.experiments.sweep_cli import add_rllib_options

    add_rllib_options(parser)  # --num-env-runners, --envs-per-runner, --num-learners, --num-gpus-per-learner


def _launch(experiment: str, args: argparse.Namespace, methods, rl_methods, run):
    """Resolve the output directory, start Ray only if an RL method is asked for, and call
    ``run(output_dir)``; returns what it returns."""
    from codesign_gym.experiments.ray_session import ray_session

    out = Path(args.output_dir) if args.output_dir else default_output_dir(experiment)
    print(f"writing to {out}")
    if any(m in rl_methods for m in methods):
        from codesign_gym.agents.rllib.run_options import rllib_options
        from codesign_gym.experiments.sweep_cli import rllib_options_from_args

        with ray_session(args.address) as where, rllib_options(**rllib_options_from_args(args)):
            print(f"RL methods train on {where}")
            return run(out)
    return run(out)


def default_output_dir(experiment: str) -> Path:
    """``results/<experiment>-<YYYYmmdd-HHMMSS>``, relative to the working directory."""
    return Path("results") / f"{experiment}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def run_confuciux(args: argparse.Namespace) -> int:
    from codesign_gym.experiments.confuciux import DEFAULT_METHODS, RL_METHODS, ConfuciuxConfig, run_experiment

    config = ConfuciuxConfig(
        model=args.model, dataflow=args.dataflow, objective=args.objective, constraint=args.constraint,
        budget=args.budget, seeds=args.seeds, methods=tuple(args.methods or DEFAULT_METHODS), batch_size=args.batch_size,
    )
    config.validate()
    summary = _launch("confuciux", args, config.methods, RL_METHODS, lambda out: run_experiment(config, out))
    print(f"\n{summary.read_text()}\nsummary: {summary}")
    return 0


def run_zeus(args: argparse.Namespace) -> int:
    """``--budget`` is recurrences per run here (0, the default: Zeus's 2 |batch sizes| |power limits|)."""
    from codesign_gym.experiments.zeus import DEFAULT_METHODS, RL_METHODS, ZeusConfig, run_experiment
    from codesign_gym.costmodels.zeus import WORKLOADS

    if args.beta is not None and args.beta == 0:
        args.beta = None
    if args.budget < 0:
        raise ValueError(f"--budget {args.budget}: expected a positive number of recurrences, or 0 for Zeus's default")
    config = ZeusConfig(
        gpu=args.gpu, eta=args.eta, beta=args.beta, workloads=tuple(args.workloads or WORKLOADS), methods=tuple(args.methods or DEFAULT_METHODS),
        seeds=args.seeds, budget=args.budget or None, rl_episodes=args.rl_episodes,
    )
    config.validate()
    out = Path(args.output_dir) if args.output_dir else default_output_dir("zeus")
    args.output_dir = str(out)
    _launch("zeus", args, config.methods, RL_METHODS, lambda o: run_experiment(config, o, json_path=args.output))
    print(f"\nJSON summary: {args.output or out / 'zeus.json'}; table: {out / 'energy_vs_default.md'}; regret plot: {out / f'regret_{config.gpu}.png'}")
    return 0


def run_mcunet(args: argparse.Namespace) -> int:
    from codesign_gym.experiments.mcunet import DEFAULT_METHODS, RL_METHODS, McunetConfig, run_experiment

    if args.sram_kib <= 0 or (args.flash_kib is not None and args.flash_kib <= 0):
        raise ValueError(f"--sram-kib {args.sram_kib} / --flash-kib {args.flash_kib}: expected positive budgets in KiB")
    config = McunetConfig(model=args.model, resolution=args.resolution, width=args.width, sram_kib=args.sram_kib,
                          flash_kib=args.flash_kib, budget=args.budget, seeds=args.seeds, methods=tuple(args.methods or DEFAULT_METHODS))
    config.validate()
    summary = _launch("mcunet", args, config.methods, RL_METHODS, lambda out: run_experiment(config, out))
    out = summary.parent
    print(f"\n{summary.read_text()}\nsummary: {summary}; schedules: {out / 'schedules.md'}; plot: {out / 'peak_vs_extra_macs.png'}")
    return 0


def run_hadas(args: argparse.Namespace) -> int:
    from codesign_gym.experiments.hadas import DEFAULT_METHODS, RL_METHODS, HadasConfig, run_experiment

    config = HadasConfig(dataset=args.dataset, exit_set=args.exit_set, policy=args.policy, budget=args.budget, seeds=args.seeds,
                         methods=tuple(args.methods or DEFAULT_METHODS), outer_population=args.outer_population,
                         inner_population=args.inner_population, inner_generations=args.inner_generations)
    config.validate()
    summary = _launch("hadas", args, config.methods, RL_METHODS, lambda out: run_experiment(config, out))
    out = summary.parent
    print(f"\n{(out / 'hadas.md').read_text()}\nsummary: {summary}; tables: {out / 'hadas.md'}; plot: {out / 'pareto.png'}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from codesign_gym.experiments.report import render_report
    from codesign_gym.experiments.sweep import refresh_sweep_results

    refresh_sweep_results(args.output_dir)  # a sweep's directory: gather its complete trials into results.csv first
    path = render_report(args.output_dir)
    print(path.read_text())
    return 0
