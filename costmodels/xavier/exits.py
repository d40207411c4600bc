"""Which exit an input leaves at, and how often it is right: HADAS's per-exit accuracies and two
exit-policy models.

Data: ``data/hadas/exit_perf/<dataset>/aN_<dataset>exit_perf.csv`` (HADAS, Apache-2.0): top-1 (%)
of every exit ``Exit_1..Exit_E`` (exit ``e`` sits after block ``block_ee[e-1]``) and, last, the
final classifier; ``exit_set="old_res"`` reads ``exit_perf_old_res_exits`` (an older exit head,
the only one with a6).

Only per-exit accuracies are published, not which inputs each exit gets right, so the joint
behaviour is modelled. :class:`ExitBehaviour` is the interface: ``N`` inputs (or difficulty bins)
with weights, each with a probability of being right at every exit and a confidence per exit;
per-sample measurements (0/1 correctness, measured confidences) fit it directly. Without them,
:func:`latent_behaviour` builds it from the accuracies with a one-factor latent model: input
difficulty ``z ~ N(0, 1)``; exit ``e`` is right iff ``sqrt(rho) z + sqrt(1 - rho) eps_e <= q_e``
with ``q_e = Phi^-1(acc_e)`` and independent ``eps_e ~ N(0, 1)``, so every exit keeps exactly its
published accuracy and ``rho`` sets how much the exits' correct sets overlap (``rho -> 1``:
nested, the earlier exits' correct inputs are a subset of the later ones'; ``rho = 0``:
independent). ``N`` equal-probability bins of ``z`` (midpoints in quantile) carry
``p_e(z) = Phi((q_e - sqrt(rho) z) / sqrt(1 - rho))``; ``rho`` is fitted (:mod:`.fit`).

Policies (arrays over designs, exits attached by a boolean mask; the final classifier is always
there):

- :func:`oracle_policy` (**upper bound**): an input leaves at the first attached exit that gets it
  right, else runs to the final classifier. No realizable policy does better on these exits.
- :func:`threshold_policy` (**modelled**, realizable): an input leaves at the first attached exit
  whose confidence is at least ``T``; in the latent model the confidence head is taken to be
  calibrated on difficulty, ``conf_e = p_e(z)``.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import math
from importlib import resources
from statistics import NormalDist

import numpy as np

from codesign_gym.costmodels.xavier.backbones import BACKBONES, check_backbone, check_dataset, load_backbone

EXIT_SETS = ("current", "old_res")
POLICIES = ("oracle", "threshold")
#: Difficulty bins of the latent model (midpoints of equal-probability quantile bins).
LATENT_BINS = 512


def _exit_folder(exit_set: str) -> str:
    if exit_set not in EXIT_SETS:
        raise ValueError(f"exit_set {exit_set!r} is not known; expected one of {EXIT_SETS}")
    return "exit_perf" if exit_set == "current" else "exit_perf_old_res_exits"


def available_backbones(dataset: str, exit_set: str = "current") -> tuple[str, ...]:
    """Backbones with measured exit accuracies for ``dataset`` in ``exit_set``."""
    check_dataset(dataset)
    folder = resources.files("codesign_gym.costmodels.xavier").joinpath("data", "hadas", _exit_folder(exit_set), dataset)
    return tuple(b for b in BACKBONES if folder.joinpath(f"{b}_{dataset}exit_perf.csv").is_file())


@functools.lru_cache(maxsize=None)
def exit_accuracy(backbone: str, dataset: str = "cifar-100", exit_set: str = "current") -> np.ndarray:
    """Top-1 accuracy (%) of every exit and, last, the final classifier: shape (E + 1,)."""
    check_backbone(backbone)
    have = available_backbones(dataset, exit_set)
    if backbone not in have:
        raise ValueError(f"backbone {backbone!r} has no exit accuracies for {dataset} ({exit_set} exits); expected one of {list(have)}")
    path = resources.files("codesign_gym.costmodels.xavier").joinpath("data", "hadas", _exit_folder(exit_set), dataset,
                                                                      f"{backbone}_{dataset}exit_perf.csv")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    acc = np.array([float(r[1]) for r in rows], dtype=np.float64)
    expected = load_backbone(backbone, dataset).config.num_exits + 1
    if acc.size != expected:
        raise ValueError(f"{path.name}: {acc.size} rows, expected {expected} (the backbone's exits and the final classifier)")
    return acc


@dataclasses.dataclass(frozen=True)
class ExitBehaviour:
    """How ``N`` inputs (or difficulty bins) fare at the ``E`` exits and the final classifier.

    ``weight`` (N,) sums to 1; ``correct`` (N, E + 1) probability in [0, 1] that the exit (last
    column: final classifier) is right on the input; ``confidence`` (N, E + 1) what the exit's
    confidence head reports, in [0, 1]. Measured per-sample data: ``correct`` 0/1.
    """

    weight: np.ndarray
    correct: np.ndarray
    confidence: np.ndarray

    @property
    def num_exits(self) -> int:
        return self.correct.shape[1] - 1


def _phi(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf, otypes=[np.float64])(np.asarray(x) / math.sqrt(2.0)))


def latent_behaviour(accuracy_pct: np.ndarray, rho: float, bins: int = LATENT_BINS) -> ExitBehaviour:
    """The one-factor latent model (module docstring) for accuracies (%) of shape (E + 1,)."""
    if not 0.0 <= rho < 1.0:
        raise ValueError(f"rho {rho!r}: expected a correlation in [0, 1)")
    acc = np.clip(np.asarray(accuracy_pct, dtype=np.float64) / 100.0, 1e-9, 1 - 1e-9)
    nd = NormalDist()
    q = np.array([nd.inv_cdf(a) for a in acc])
    u = (np.arange(bins) + 0.5) / bins
    z = np.array([nd.inv_cdf(v) for v in u])
    p = _phi((q[None, :] - math.sqrt(rho) * z[:, None]) / math.sqrt(1.0 - rho))
    return ExitBehaviour(np.full(bins, 1.0 / bins), p, p)


@dataclasses.dataclass(frozen=True)
class PolicyOutcome:
    """Per design (D designs, E exits): ``share`` (D, E + 1) fraction of inputs leaving at each exit
    (last: final classifier; unattached exits 0), ``accuracy`` (D,) in %."""

    share: np.ndarray
    accuracy: np.ndarray


def _check_mask(beh: ExitBehaviour, attached: np.ndarray) -> np.ndarray:
    m = np.asarray(attached, dtype=bool)
    if m.ndim != 2 or m.shape[1] != beh.num_exits:
        raise ValueError(f"attached exits have shape {m.shape}; expected (designs, {beh.num_exits})")
    return m


def oracle_policy(beh: ExitBehaviour, attached: np.ndarray) -> PolicyOutcome:
    """Leave at the first attached exit that is right (upper bound), for masks ``attached`` (D, E)."""
    m = _check_mask(beh, attached)[:, None, :]
    p = beh.correct[None, :, :-1]
    miss = np.where(m, 1.0 - p, 1.0)  # (D, N, E)
    before = np.cumprod(np.concatenate([np.ones_like(miss[..., :1]), miss[..., :-1]], axis=-1), axis=-1)
    leave = np.where(m, p, 0.0) * before
    to_final = before[..., -1] * miss[..., -1]  # (D, N)
    w = beh.weight
    share = np.concatenate([np.einsum("dne,n->de", leave, w), (to_final @ w)[:, None]], axis=1)
    right = share[:, :-1].sum(axis=1) + (to_final * beh.correct[None, :, -1]) @ w
    return PolicyOutcome(share, 100.0 * right)


def threshold_policy(beh: ExitBehaviour, attached: np.ndarray, threshold) -> PolicyOutcome:
    """Leave at the first attached exit whose confidence is >= ``threshold`` (scalar or (D,), in [0, 1])."""
    m = _check_mask(beh, attached)
    t = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (m.shape[0],))
    check_threshold(t)
    fire = m[:, None, :] & (beh.confidence[None, :, :-1] >= t[:, None, None])  # (D, N, E)
    fired = fire.any(axis=-1)
    first = np.argmax(fire, axis=-1)
    E = beh.num_exits
    where = np.where(fired, first, E)  # (D, N)
    onehot = where[..., None] == np.arange(E + 1)[None, None, :]
    share = np.einsum("dne,n->de", onehot, beh.weight)
    right = np.take_along_axis(np.broadcast_to(beh.correct[None], (m.shape[0],) + beh.correct.shape), where[..., None], axis=-1)[..., 0]
    return PolicyOutcome(share, 100.0 * (right @ beh.weight))


def check_threshold(threshold) -> None:
    t = np.asarray(threshold, dtype=np.float64)
    if not np.all(np.isfinite(t)) or np.any((t < 0) | (t > 1)):
        bad = t[~(np.isfinite(t) & (t >= 0) & (t <= 1))].ravel()[0]
        raise ValueError(f"exit threshold {float(bad)!r} is outside [0, 1]; expected a confidence threshold between 0 and 1")
