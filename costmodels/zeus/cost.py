"""Vectorized cost of training tries on a :class:`~codesign_gym.costmodels.zeus.traces.ZeusTrace`.

Semantics of Zeus's trace-driven simulator (github ml-energy/zeus, ``zeus/_legacy/simulate.py``,
``Simulator._run_job`` and ``_profile_power_limit``; cost metric ``zeus/utils/metric.py``):

- cost = ``eta * ETA + (1 - eta) * MAXPOWER * TTA`` (J-equivalent), ``eta`` in [0, 1].
- Early stopping: with ``cost_ub = beta * min_cost`` finite, a try may run at most
  ``min(floor(cost_ub / cost_per_epoch), max_epochs)`` epochs, ``cost_per_epoch = eta *
  energy_per_epoch + (1 - eta) * P_bs * time_per_epoch`` with ``P_bs`` the batch size's largest
  power limit. A cap of 0 epochs means the try does not run at all.
- A run reaches the target iff its ``target_epoch`` is known and ``<= cap``; it is then charged
  ``target_epoch`` epochs, otherwise ``cap`` epochs.
- JIT power-limit profiling: the first epoch at a new batch size is split evenly across the
  power limits (charged the mean energy and time per epoch over them); the power limit kept
  is the one with the lowest ``(eta * average_power + (1 - eta) * P_bs) * time_per_epoch``,
  ties going to the higher power limit (Zeus profiles from high to low and keeps strict
  improvements).

Every function takes arrays of indices of any common shape and returns arrays of that shape.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from codesign_gym.costmodels.zeus.traces import ZeusTrace


def check_eta_beta(eta: float, beta: float | None) -> None:
    """Raise ValueError for ``eta`` outside [0, 1] or ``beta <= 1`` (``None`` disables early stopping)."""
    if not (isinstance(eta, (int, float, np.floating, np.integer)) and 0.0 <= float(eta) <= 1.0):
        raise ValueError(f"eta {eta!r} is outside [0, 1]; expected a weight between energy (1) and time (0)")
    if beta is not None and not (isinstance(beta, (int, float, np.floating, np.integer)) and float(beta) > 1.0):
        raise ValueError(f"beta {beta!r}: expected a number > 1 (early-stopping threshold beta * min_cost), or None to disable early stopping")


def zeus_cost(energy_j, time_s, eta: float, max_power_w: float):
    """Zeus's energy-time cost ``eta * energy + (1 - eta) * max_power * time`` (J-equivalent)."""
    return eta * energy_j + (1 - eta) * max_power_w * time_s


@dataclasses.dataclass(frozen=True)
class JitProfile:
    """What JIT power-limit profiling finds, per batch size (arrays of shape (B,) unless noted).

    ``power_limit_index``: index of the power limit kept; ``first_epoch_energy_j`` /
    ``first_epoch_time_s``: the profiling epoch's energy (J) and time (s), the means over the
    batch size's power limits; ``epoch_cost``: (B, P) the ranking cost per epoch (inf where the
    trace has no measurement).
    """

    power_limit_index: np.ndarray
    first_epoch_energy_j: np.ndarray
    first_epoch_time_s: np.ndarray
    epoch_cost: np.ndarray


def jit_profile(trace: ZeusTrace, eta: float) -> JitProfile:
    """JIT power-limit profiling of every batch size of ``trace`` at once (see module docstring)."""
    measured = trace.measured
    p_bs = trace.bs_max_power[:, None]
    cost = np.where(measured, (eta * trace.average_power + (1 - eta) * p_bs) * trace.time_per_epoch, np.inf)
    # Highest power limit first; argmin returns the first minimum, i.e. the highest tied power limit.
    rev = cost[:, ::-1]
    best = cost.shape[1] - 1 - np.argmin(rev, axis=1)
    energy = np.nanmean(np.where(measured, trace.energy_per_epoch, np.nan), axis=1)
    time = np.nanmean(np.where(measured, trace.time_per_epoch, np.nan), axis=1)
    return JitProfile(best.astype(np.int64), energy, time, cost)


def epoch_cap(trace: ZeusTrace, bs_index, pl_index, eta: float, cost_ub) -> np.ndarray:
    """Epochs a try may run (float): ``min(floor(cost_ub / cost_per_epoch), max_epochs)``, or
    ``max_epochs`` where ``cost_ub`` is infinite (no early stopping yet)."""
    bs_index, pl_index, cost_ub = np.broadcast_arrays(np.asarray(bs_index), np.asarray(pl_index), np.asarray(cost_ub, dtype=np.float64))
    epe = trace.energy_per_epoch[bs_index, pl_index]
    tpe = trace.time_per_epoch[bs_index, pl_index]
    per_epoch = eta * epe + (1 - eta) * trace.bs_max_power[bs_index] * tpe
    max_epochs = float(trace.spec.max_epochs)
    with np.errstate(invalid="ignore", divide="ignore"):
        capped = np.minimum(np.floor_divide(cost_ub, per_epoch), max_epochs)
    return np.where(np.isinf(cost_ub), max_epochs, capped)


class TryOutcome(NamedTuple):
    """Result of tries, each field an array of the tries' shape.

    ``energy_j`` (J) and ``time_s`` (s) consumed, ``epochs`` run, ``reached`` the target,
    ``ran`` (False where the cap was 0 epochs: nothing ran, energy and time 0), ``cost``
    (J-equivalent, :func:`zeus_cost` with the GPU's MAXPOWER).
    """

    energy_j: np.ndarray
    time_s: np.ndarray
    epochs: np.ndarray
    reached: np.ndarray
    ran: np.ndarray
    cost: np.ndarray


def try_outcome(
    trace: ZeusTrace,
    bs_index,
    pl_index,
    run_index,
    cap,
    eta: float,
    profile=False,
    jit: JitProfile | None = None,
) -> TryOutcome:
    """Energy, time and cost of running batch size ``bs_index`` at power limit ``pl_index`` along
    the trace's run ``run_index`` for at most ``cap`` epochs (see :func:`epoch_cap`).

    ``profile`` (bool array) marks tries whose first epoch is a JIT profiling epoch, priced by
    ``jit`` (computed here when not given).
    """
    bs_index, pl_index, run_index, cap, profile = np.broadcast_arrays(
        np.asarray(bs_index), np.asarray(pl_index), np.asarray(run_index), np.asarray(cap, dtype=np.float64), np.asarray(profile, dtype=bool)
    )
    if np.any(run_index >= trace.num_runs[bs_index]) or np.any(run_index < 0):
        raise ValueError(f"run index out of range; batch sizes have {trace.num_runs.tolist()} runs")
    if not np.all(trace.measured[bs_index, pl_index]):
        raise ValueError(f"the Zeus trace of {trace.workload} on {trace.gpu} has no measurement for some (batch size, power limit); valid power limits per batch size: "
                         + str({int(bs): trace.power_limits[trace.measured[i]].tolist() for i, bs in enumerate(trace.batch_sizes)}))
    te = trace.target_epoch[bs_index, run_index]
    with np.errstate(invalid="ignore"):
        reached = ~np.isnan(te) & (te <= cap) & (cap > 0)
    ran = cap > 0
    epochs = np.where(reached, te, np.where(ran, cap, 0.0))
    epe = trace.energy_per_epoch[bs_index, pl_index]
    tpe = trace.time_per_epoch[bs_index, pl_index]
    if np.any(profile):
        jit = jit_profile(trace, eta) if jit is None else jit
        energy = np.where(profile, jit.first_epoch_energy_j[bs_index] + epe * (epochs - 1), epe * epochs)
        time = np.where(profile, jit.first_epoch_time_s[bs_index] + tpe * (epochs - 1), tpe * epochs)
    else:
        energy, time = epe * epochs, tpe * epochs
    energy = np.where(ran, energy, 0.0)
    time = np.where(ran, time, 0.0)
    return TryOutcome(energy, time, epochs, reached, ran, zeus_cost(energy, time, eta, trace.max_power))


@dataclasses.dataclass(frozen=True)
class ConfigStatistics:
    """Per (batch size, power limit) statistics over the trace's runs, no early stopping, each (B, P).

    ``mean_cost``: expected cost of one try (failed runs charged ``max_epochs``); ``all_reach``:
    every run reaches the target within ``max_epochs``; ``reach_fraction``; ``eta_j`` /
    ``tta_s`` / ``cost``: means over the runs that reach the target (NaN if none). Unmeasured
    pairs hold NaN and ``all_reach`` False.
    """

    mean_cost: np.ndarray
    all_reach: np.ndarray
    reach_fraction: np.ndarray
    eta_j: np.ndarray
    tta_s: np.ndarray
    cost: np.ndarray


def config_statistics(trace: ZeusTrace, eta: float) -> ConfigStatistics:
    """:class:`ConfigStatistics` of every configuration, in one vectorized pass over (B, P, R)."""
    B, P = trace.time_per_epoch.shape
    R = trace.target_epoch.shape[1]
    present = np.arange(R)[None, :] < trace.num_runs[:, None]  # (B, R)
    te = trace.target_epoch[:, None, :]  # (B, 1, R)
    max_epochs = float(trace.spec.max_epochs)
    reach = present[:, None, :] & ~np.isnan(te) & (np.nan_to_num(te, nan=np.inf) <= max_epochs)  # (B, 1, R)
    epochs = np.where(reach, te, max_epochs)
    tpe = trace.time_per_epoch[:, :, None]
    time = epochs * tpe
    energy = time * trace.average_power[:, :, None]
    cost = zeus_cost(energy, time, eta, trace.max_power)
    n = trace.num_runs[:, None].astype(np.float64)
    mean_cost = np.where(present[:, None, :], cost, 0.0).sum(axis=2) / n
    k = reach.sum(axis=2).astype(np.float64)  # (B, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        eta_j = np.where(reach, energy, 0.0).sum(axis=2) / k
        tta_s = np.where(reach, time, 0.0).sum(axis=2) / k
        mean_reached_cost = np.where(reach, cost, 0.0).sum(axis=2) / k
    all_reach = np.broadcast_to(k == n, (B, P)) & trace.measured
    return ConfigStatistics(mean_cost, all_reach, np.broadcast_to(k / n, (B, P)).copy(), eta_j, tta_s, mean_reached_cost)


def default_config(trace: ZeusTrace) -> tuple[int, int]:
    """Zeus's Default: (index of b0, index of b0's largest power limit)."""
    b = trace.default_index
    return b, int(np.flatnonzero(trace.measured[b])[-1])


def oracle_config(trace: ZeusTrace, eta: float) -> tuple[int, int]:
    """The configuration with the lowest mean cost among those where every run reaches the target."""
    stats = config_statistics(trace, eta)
    masked = np.where(stats.all_reach, stats.mean_cost, np.inf)
    if not np.isfinite(masked).any():
        raise ValueError(f"no configuration of {trace.workload} on {trace.gpu} reaches the target in every run")
    b, p = np.unravel_index(int(np.argmin(masked)), masked.shape)
    return int(b), int(p)
