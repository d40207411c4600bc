"""Zeus (NSDI 2023): the cost of training a recurring DNN job to a target metric at a chosen
batch size and GPU power limit, priced on Zeus's measured traces.

>>> from codesign_gym.costmodels.zeus import load_trace, config_statistics
>>> trace = load_trace("cifar100", "v100")
>>> stats = config_statistics(trace, eta=0.5)   # (B, P) arrays

See :mod:`.traces` (data, workloads) and :mod:`.cost` (vectorized semantics of Zeus's simulator).
"""

from codesign_gym.costmodels.zeus.cost import (
    ConfigStatistics,
    JitProfile,
    TryOutcome,
    check_eta_beta,
    config_statistics,
    default_config,
    epoch_cap,
    jit_profile,
    oracle_config,
    try_outcome,
    zeus_cost,
)
from codesign_gym.costmodels.zeus.traces import GPUS, WORKLOADS, WorkloadSpec, ZeusTrace, check_workload_gpu, load_trace

__all__ = [
    "ConfigStatistics", "GPUS", "JitProfile", "TryOutcome", "WORKLOADS", "WorkloadSpec", "ZeusTrace",
    "check_eta_beta", "check_workload_gpu", "config_statistics", "default_config", "epoch_cap", "jit_profile",
    "load_trace", "oracle_config", "try_outcome", "zeus_cost",
]
