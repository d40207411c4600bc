"""Zeus's measured traces as arrays: one :class:`ZeusTrace` per (workload, GPU).

The shipped CSVs (``data/``, Apache-2.0, from github ml-energy/zeus ``trace/``) hold, per batch
size, several training runs (seeds) with the epoch at which each reached a target validation
metric, and, per GPU, batch size and power limit, the time per epoch and average power. Joining
them on ``(dataset, network, batch_size, optimizer)`` as Zeus's simulator does gives, for a batch
size ``b``, power limit ``p`` and run ``r``: ``TTA = target_epoch[b, r] * time_per_epoch[b, p]``
(s) and ``ETA = TTA * average_power[b, p]`` (J).

Workload defaults (target metric, max epochs, default batch size ``b0``) are Zeus's, as stated
in the issue that specified this package (Zeus NSDI 2023, Table 3 and ``examples/trace_driven``).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
from importlib import resources

import numpy as np

GPUS: tuple[str, ...] = ("v100", "a40", "rtx6000", "p100")


@dataclasses.dataclass(frozen=True)
class WorkloadSpec:
    """One recurring training job of Zeus's evaluation."""

    dataset: str
    network: str
    optimizer: str
    target_metric: float  # validation metric to reach (accuracy, F1, WER, NDCG, ...)
    max_epochs: int  # epochs after which a run that has not reached the target is stopped
    default_bs: int  # b0, the user's batch size


#: Zeus's six workloads, keyed by the names used on the command line.
WORKLOADS: dict[str, WorkloadSpec] = {
    "cifar100": WorkloadSpec("cifar100", "shufflenetv2", "adadelta", 0.6, 100, 1024),
    "imagenet": WorkloadSpec("imagenet", "resnet50", "adadelta", 0.65, 100, 256),
    "squad": WorkloadSpec("squad", "bert_base_uncased", "adamw", 84.0, 6, 32),
    "librispeech": WorkloadSpec("librispeech", "deepspeech2", "adamw", 40.0, 16, 256),
    "movielens": WorkloadSpec("movielens-1m", "ncf", "adam", 0.41, 100, 1024),
    "sentiment140": WorkloadSpec("sentiment140", "bert_base_uncased", "adamw", 0.84, 10, 128),
}


@dataclasses.dataclass(frozen=True)
class ZeusTrace:
    """The joined trace of one workload on one GPU. ``B`` batch sizes, ``P`` power limits, ``R``
    the largest number of runs of any batch size.

    Attributes:
        workload, gpu: names (keys of :data:`WORKLOADS`, one of :data:`GPUS`).
        spec: the workload with the target metric, max epochs and b0 in force (b0 capped at the
            largest batch size this GPU's trace has).
        batch_sizes: (B,) int64, ascending.
        power_limits: (P,) int64 W, ascending; the power limits any batch size has here.
        time_per_epoch: (B, P) s; NaN where the trace has no measurement.
        average_power: (B, P) W; NaN where the trace has no measurement.
        target_epoch: (B, R) first epoch reaching the target per run, in the trace's row order;
            NaN for a run that never reached it and for padding past ``num_runs``.
        num_runs: (B,) int64 runs per batch size.
        max_power: W, the largest power limit in this GPU's whole trace (Zeus's MAXPOWER).
    """

    workload: str
    gpu: str
    spec: WorkloadSpec
    batch_sizes: np.ndarray
    power_limits: np.ndarray
    time_per_epoch: np.ndarray
    average_power: np.ndarray
    target_epoch: np.ndarray
    num_runs: np.ndarray
    max_power: float

    @property
    def measured(self) -> np.ndarray:
        """(B, P) bool: the trace has this (batch size, power limit)."""
        return ~np.isnan(self.time_per_epoch)

    @property
    def energy_per_epoch(self) -> np.ndarray:
        """(B, P) J per epoch, ``time_per_epoch * average_power``."""
        return self.time_per_epoch * self.average_power

    @property
    def bs_max_power(self) -> np.ndarray:
        """(B,) W, the largest power limit each batch size has (Zeus's per-batch-size max)."""
        return np.max(np.where(self.measured, self.power_limits[None, :], -np.inf), axis=1)

    @property
    def default_index(self) -> int:
        """Index of b0 in :attr:`batch_sizes`."""
        return int(np.searchsorted(self.batch_sizes, self.spec.default_bs))

    def batch_size_index(self, batch_size: int | np.ndarray) -> np.ndarray:
        """Indices of batch sizes (values); a value not in the trace raises ValueError listing the valid ones."""
        return _index_of(np.asarray(batch_size), self.batch_sizes, "batch size", f"{self.workload} on {self.gpu}")

    def power_limit_index(self, power_limit: int | np.ndarray) -> np.ndarray:
        """Indices of power limits (W); a value not in the trace raises ValueError listing the valid ones."""
        return _index_of(np.asarray(power_limit), self.power_limits, "power limit", f"{self.workload} on {self.gpu}")


def _index_of(values: np.ndarray, table: np.ndarray, what: str, where: str) -> np.ndarray:
    idx = np.searchsorted(table, values)
    ok = (idx < table.size) & (table[np.minimum(idx, table.size - 1)] == values)
    if not np.all(ok):
        bad = np.asarray(values)[~ok].ravel()[0].item()
        raise ValueError(f"{what} {bad!r} is not in the Zeus trace of {where}; expected one of {table.tolist()}")
    return idx


def _read_csv(name: str) -> list[dict[str, str]]:
    path = resources.files("codesign_gym.costmodels.zeus").joinpath("data", name)
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@functools.lru_cache(maxsize=None)
def _train_rows() -> tuple[dict[str, str], ...]:
    return tuple(_read_csv("summary_train.csv"))


@functools.lru_cache(maxsize=None)
def _power_rows(gpu: str) -> tuple[dict[str, str], ...]:
    return tuple(_read_csv(f"summary_power_{gpu}.csv"))


def check_workload_gpu(workload: str, gpu: str) -> None:
    """Raise ValueError naming an unknown workload or GPU and listing the valid ones."""
    if workload not in WORKLOADS:
        raise ValueError(f"workload {workload!r} is not known; expected one of {sorted(WORKLOADS)}")
    if gpu not in GPUS:
        raise ValueError(f"gpu {gpu!r} is not known; expected one of {list(GPUS)}")


def load_trace(
    workload: str,
    gpu: str,
    target_metric: float | None = None,
    max_epochs: int | None = None,
    default_bs: int | None = None,
) -> ZeusTrace:
    """The joined trace of ``workload`` on ``gpu`` (see :class:`ZeusTrace`).

    Args:
        workload: a key of :data:`WORKLOADS`.
        gpu: one of :data:`GPUS`.
        target_metric: override the workload's target (must be a threshold the trace records).
        max_epochs: override the epoch cap (>= 1).
        default_bs: override b0 (must be a batch size in this GPU's trace). By default b0 is
            Zeus's, capped at the largest batch size this GPU's trace has.
    """
    check_workload_gpu(workload, gpu)
    spec = WORKLOADS[workload]
    key = (spec.dataset, spec.network, spec.optimizer)
    train = [r for r in _train_rows() if (r["dataset"], r["network"], r["optimizer"]) == key]
    if target_metric is not None:
        recorded = sorted({float(r["target_metric"]) for r in train})
        if float(target_metric) not in recorded:
            raise ValueError(f"target_metric {target_metric!r} is not recorded for {workload}; expected one of {recorded}")
        spec = dataclasses.replace(spec, target_metric=float(target_metric))
    if max_epochs is not None:
        if int(max_epochs) != max_epochs or max_epochs < 1:
            raise ValueError(f"max_epochs {max_epochs!r}: expected a positive integer")
        spec = dataclasses.replace(spec, max_epochs=int(max_epochs))
    power = [r for r in _power_rows(gpu) if (r["dataset"], r["network"], r["optimizer"]) == key]
    train = [r for r in train if float(r["target_metric"]) == spec.target_metric]
    # Inner join: batch sizes present in both traces.
    batch_sizes = np.array(sorted({int(r["batch_size"]) for r in train} & {int(r["batch_size"]) for r in power}), dtype=np.int64)
    power = [r for r in power if int(r["batch_size"]) in set(batch_sizes.tolist())]
    power_limits = np.array(sorted({int(r["power_limit"]) for r in power}), dtype=np.int64)
    B, P = batch_sizes.size, power_limits.size
    tpe = np.full((B, P), np.nan)
    avg = np.full((B, P), np.nan)
    for r in power:
        b = int(np.searchsorted(batch_sizes, int(r["batch_size"])))
        p = int(np.searchsorted(power_limits, int(r["power_limit"])))
        tpe[b, p] = float(r["time_per_epoch"])
        avg[b, p] = float(r["average_power"])
    runs: list[list[float]] = [[] for _ in range(B)]
    for r in train:  # trace row order: the order Zeus's sampler indexes runs in
        b = np.searchsorted(batch_sizes, int(r["batch_size"]))
        if b < B and batch_sizes[b] == int(r["batch_size"]):
            runs[b].append(float(r["target_epoch"]) if r["target_epoch"] not in ("", "nan", "NaN") else np.nan)
    R = max(len(x) for x in runs)
    target_epoch = np.full((B, R), np.nan)
    for b, x in enumerate(runs):
        target_epoch[b, : len(x)] = x
    max_power = float(max(int(r["power_limit"]) for r in _power_rows(gpu)))
    if default_bs is None:
        b0 = min(spec.default_bs, int(batch_sizes.max()))
    else:
        b0 = int(default_bs)
    if b0 not in set(batch_sizes.tolist()):
        raise ValueError(f"default batch size {b0!r} is not in the Zeus trace of {workload} on {gpu}; expected one of {batch_sizes.tolist()}")
    spec = dataclasses.replace(spec, default_bs=b0)
    for arr in (batch_sizes, power_limits, tpe, avg, target_epoch):
        arr.setflags(write=False)
    num_runs = np.array([len(x) for x in runs], dtype=np.int64)
    num_runs.setflags(write=False)
    return ZeusTrace(workload, gpu, spec, batch_sizes, power_limits, tpe, avg, target_epoch, num_runs, max_power)
