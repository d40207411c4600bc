"""The Zeus experiment: batch size and power limit of a recurring training job, per workload.

``codesign-gym run zeus --gpu v100 --eta 0.5 --beta 2 --seeds 10 --output results.json`` runs
every method x seed on one problem per workload
(:class:`~codesign_gym.envs.batch_size_power_limit.BatchSizePowerLimitProblem`), each run one
episode of ``--budget`` recurrences (0, the default: Zeus's ``2 |B| |P|`` of each workload).
An evaluation is one recurrence: a row's ``evals`` counts recurrences and its
``best_objective`` is the expected recurrence cost (J) of the configuration the method
recommends then (its last try's); ``gap_to_opt`` is against Zeus's Oracle configuration and
``ratio_to_ref`` against Default. Each run's per-recurrence record goes to
``archives/<problem>/<method>-seed<k>.json``; :mod:`.report` renders the JSON summary
(``--output``, default ``<output-dir>/zeus.json``), ``energy_vs_default.md`` and
``regret_<gpu>.png`` from those. ``--methods reinforce ppo`` adds RLlib agents (MLP policy,
``jit`` power limits, ``--rl-episodes`` training episodes, then one greedy episode).
"""

from __future__ import annotations

import dataclasses

from codesign_gym.experiments.runner.spec import METHOD, REPORT, ExperimentDef, option

#: Zeus's six workloads (``costmodels.zeus.WORKLOADS``; named here so the CLI loads no traces).
WORKLOADS = ("cifar100", "imagenet", "squad", "librispeech", "movielens", "sentiment140")


@dataclasses.dataclass
class ZeusOptions:
    """What to run; ``beta`` 0 is stored as None (no early stopping)."""

    gpu: str = option("v100", "GPU whose traces price the job: v100, a40, rtx6000 or p100")
    eta: float = option(0.5, "weight of energy in the cost, in [0, 1]")
    beta: float | None = option(2.0, "early-stopping threshold factor, > 1; 0 disables early stopping")
    workloads: tuple[str, ...] = option(WORKLOADS, "workloads, one problem each")
    rl_episodes: int = option(8, "training episodes of each RL method (reinforce, ppo) before its evaluation episode", role=METHOD)
    output: str | None = option(None, "path of the JSON summary (default: <output-dir>/zeus.json)", role=REPORT)

    def __post_init__(self) -> None:
        from codesign_gym.costmodels.zeus import check_eta_beta, check_workload_gpu

        if self.beta == 0:
            self.beta = None
        self.workloads = tuple(self.workloads)
        if not self.workloads:
            raise ValueError(f"workloads {self.workloads}: expected at least one of {WORKLOADS}")
        for workload in self.workloads:
            check_workload_gpu(workload, self.gpu)
        check_eta_beta(self.eta, self.beta)
        if isinstance(self.rl_episodes, bool) or not isinstance(self.rl_episodes, int) or self.rl_episodes < 1:
            raise ValueError(f"rl_episodes {self.rl_episodes!r}: expected a positive number of episodes")


def problems(options: ZeusOptions) -> list:
    """One problem per workload (``choose`` power limits, Zeus's ``2 |B| |P|`` recurrences)."""
    from codesign_gym.envs.batch_size_power_limit import BatchSizePowerLimitProblem

    return [(BatchSizePowerLimitProblem(workload=w, gpu=options.gpu, eta=options.eta, beta=options.beta), None) for w in options.workloads]


def method_options(options: ZeusOptions, problem) -> dict:
    """RLlib settings of ``reinforce``/``ppo`` on ``problem`` (:func:`codesign_gym.agents.zeus.rl_method_options`)."""
    from codesign_gym.agents.zeus import rl_method_options

    return rl_method_options(problem, options.rl_episodes)


def report(output_dir, options: ZeusOptions) -> list:
    """The JSON summary, ``energy_vs_default.md`` and ``regret_<gpu>.png`` (:func:`.report.render`)."""
    from codesign_gym.experiments.zeus.report import render

    return render(output_dir, options)


def _problem_budget(problem) -> int:
    """``--budget 0``: the problem's episode length, Zeus's ``2 |B| |P|`` recurrences."""
    return problem.recurrences


EXPERIMENT = ExperimentDef(
    name="zeus",
    help="Zeus: batch size and GPU power limit of a recurring training job, on Zeus's traces",
    options=ZeusOptions,
    problems=problems,
    default_methods=("zeus", "default", "grid", "oracle"),
    default_budget=0,
    default_seeds=10,
    method_options=method_options,
    report=report,
    budget_help="recurrences of the job per method and seed (0: Zeus's 2 x |batch sizes| x |power limits| of each workload)",
    problem_budget=_problem_budget,
)
