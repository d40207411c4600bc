"""Price a batch of (backbone, attached exits, exit policy, DVFS) designs per inference, vectorized.

An input that leaves at exit ``e`` ran the stem, blocks ``0..exit_after[e]`` and the head of every
attached exit up to and including ``e``; one that reaches the final classifier ran every block,
every attached exit head and the final head. Expected latency and energy per inference weight
these paths by the exit shares of the policy (:mod:`.exits`); power is energy over latency.

>>> space = XavierSpace("cifar-100")
>>> res = space.evaluate(["a0"], attached=np.ones((1, space.max_exits), bool), policy="oracle",
...                      gpu_mhz=1377.0, emc_mhz=2133.0, cpu_mhz=2265.6)
"""

from __future__ import annotations

import dataclasses
import functools
import json
from importlib import resources
from typing import Sequence

import numpy as np

from codesign_gym.costmodels.xavier.backbones import FEATURES, check_backbone, check_dataset, load_backbone
from codesign_gym.costmodels.xavier.board import XavierBoard, load_board
from codesign_gym.costmodels.xavier.exits import (
    EXIT_SETS,
    POLICIES,
    ExitBehaviour,
    available_backbones,
    check_threshold,
    exit_accuracy,
    latent_behaviour,
    oracle_policy,
    threshold_policy,
)
from codesign_gym.costmodels.xavier.model import (
    WORK,
    OtherRails,
    VoltageCurve,
    XavierParams,
    check_scope,
    default_other_rails,
    default_voltage_curve,
    load_params,
    segment_cost,
)

POLICY_LABELS = {"oracle": "oracle (upper bound)", "threshold": "threshold (modelled)"}


@functools.lru_cache(maxsize=1)
def stored_rho() -> float:
    """The fitted exit-overlap ``rho`` (``data/fit_exit_rho.json``, see :mod:`.fit`)."""
    path = resources.files("codesign_gym.costmodels.xavier").joinpath("data", "fit_exit_rho.json")
    return float(json.loads(path.read_text())["rho"])


def work_rows(table: np.ndarray) -> np.ndarray:
    """:mod:`.backbones` rows (..., FEATURES) as :data:`.model.WORK` rows (FP32 bytes)."""
    t = np.asarray(table, dtype=np.float64)
    col = lambda name: t[..., FEATURES.index(name)]  # noqa: E731
    return np.stack([col("flops"), 4.0 * (col("params") - col("fc_params")), 4.0 * col("fc_params"), 4.0 * col("activations"),
                     4.0 * col("input_elements"), col("layers")], axis=-1)


@dataclasses.dataclass(frozen=True)
class XavierResult:
    """Per design (D designs, arrays of shape (D,) unless noted): ``latency_ms``, ``energy_mj`` and
    ``power_w`` per inference (expected over inputs), ``accuracy`` top-1 %, ``exit_share``
    (D, E_max + 1) fraction of inputs leaving at each exit (last column: the final classifier),
    ``static_latency_ms`` / ``static_energy_mj`` of the same backbone without exits at these
    frequencies."""

    latency_ms: np.ndarray
    energy_mj: np.ndarray
    power_w: np.ndarray
    accuracy: np.ndarray
    exit_share: np.ndarray
    static_latency_ms: np.ndarray
    static_energy_mj: np.ndarray


class XavierSpace:
    """Padded work tables and exit behaviours of every backbone with exit data for ``dataset``.

    Args:
        dataset: ``cifar-100`` or ``tiny-imagenet``.
        exit_set: ``current`` (HADAS's exit head, a0..a5) or ``old_res`` (older head, also a6 on CIFAR-100).
        backbones: subset to offer (default: every backbone with exit data).
        behaviour: ``{backbone: ExitBehaviour}`` to use per-sample data instead of the latent model.
        rho: exit overlap of the latent model (default: the stored fit).
        params, voltage, rails: timing/power parameters, voltage curve and split of the non-GPU
            rails (default: the stored ones).
        scope: what energy counts: ``module`` (every module rail, comparable with HADAS's
            measurements) or ``gpu_rail`` (the GPU rail alone, what the perf_prediction power rows
            measure); see :mod:`.model`.
    """

    def __init__(self, dataset: str = "cifar-100", exit_set: str = "current", backbones: Sequence[str] | None = None,
                 behaviour: dict[str, ExitBehaviour] | None = None, rho: float | None = None,
                 params: XavierParams | None = None, voltage: VoltageCurve | None = None, scope: str = "module",
                 rails: OtherRails | None = None):
        check_dataset(dataset)
        check_scope(scope)
        have = available_backbones(dataset, exit_set)
        names = tuple(backbones) if backbones is not None else have
        if not names:
            raise ValueError("backbones is empty; expected at least one of " + str(list(have)))
        for b in names:
            check_backbone(b)
            if b not in have:
                others = [e for e in EXIT_SETS if e != exit_set and b in available_backbones(dataset, e)]
                hint = f"; exit_set {others[0]!r} has it" if others else "; its static network needs none (static_backbone)"
                raise ValueError(f"backbone {b!r} has no exit accuracies for {dataset} ({exit_set} exits); expected one of {list(have)}{hint}")
        self.dataset, self.exit_set, self.backbones = dataset, exit_set, names
        self.board: XavierBoard = load_board()
        self.params = params or load_params()
        self.voltage = voltage or default_voltage_curve()
        self.rails = rails or default_other_rails()
        self.scope = scope
        self.rho = stored_rho() if rho is None else float(rho)
        self.work = [load_backbone(b, dataset) for b in names]
        self.num_exits = np.array([w.config.num_exits for w in self.work], dtype=np.int64)
        self.num_blocks = np.array([w.config.num_blocks for w in self.work], dtype=np.int64)
        self.max_exits = int(self.num_exits.max())
        self.accuracy_table = [exit_accuracy(b, dataset, exit_set) for b in names]
        behaviour = behaviour or {}
        self.behaviour = [behaviour.get(b) or latent_behaviour(a, self.rho) for b, a in zip(names, self.accuracy_table)]
        for b, beh in zip(names, self.behaviour):
            if beh.num_exits != self.work[names.index(b)].config.num_exits:
                raise ValueError(f"behaviour of {b} has {beh.num_exits} exits; expected {self.work[names.index(b)].config.num_exits}")
        # padded (K, S, W) work rows (:data:`.model.WORK`): segments = stem, blocks (padded), final head; exits (K, E_max, W)
        S = int(self.num_blocks.max()) + 2
        self._seg = np.zeros((len(names), S, len(WORK)))
        self._exit = np.zeros((len(names), self.max_exits, len(WORK)))
        self._exit_after = np.zeros((len(names), self.max_exits), dtype=np.int64)
        for k, w in enumerate(self.work):
            nb = w.config.num_blocks
            self._seg[k, 0] = work_rows(w.stem)
            self._seg[k, 1 : nb + 1] = work_rows(w.blocks)
            self._seg[k, S - 1] = work_rows(w.head)
            self._exit[k, : w.config.num_exits] = work_rows(w.exits)
            self._exit_after[k, : w.config.num_exits] = w.exit_after

    def backbone_index(self, names) -> np.ndarray:
        """Indices of backbone names (any iterable) in :attr:`backbones`."""
        out = []
        for n in np.atleast_1d(np.asarray(names, dtype=object)).tolist():
            if n not in self.backbones:
                raise ValueError(f"backbone {n!r} is not offered; expected one of {list(self.backbones)}")
            out.append(self.backbones.index(n))
        return np.array(out, dtype=np.int64)

    def full_path_energy_mj(self, gpu_mhz, emc_mhz, cpu_mhz, tpc_fraction=1.0) -> np.ndarray:
        """(K, F) energy (mJ) of running every block, every exit head and the final head of each
        backbone at F frequency triples: an upper bound of any design's energy there."""
        f = [np.asarray(v, dtype=np.float64)[None, :, None] for v in (gpu_mhz, emc_mhz, cpu_mhz)]
        tab = np.concatenate([self._seg, self._exit], axis=1)[:, None, :, :]  # (K, 1, S + E, W)
        return 1e3 * self._cost(tab, *f, tpc_fraction).energy_j.sum(axis=2)

    def _cost(self, work, gpu_mhz, emc_mhz, cpu_mhz, tpc_fraction):
        return segment_cost(work, gpu_mhz, emc_mhz, cpu_mhz, self.params, self.voltage, self.board, tpc_fraction, self.scope, self.rails)

    def policy_outcome(self, k: int, attached: np.ndarray, policy: str, threshold=0.8):
        """Exit shares (C, E_k + 1) and accuracy (C,) of backbone index ``k`` for masks (C, E_k):
        they do not depend on the frequencies."""
        beh = self.behaviour[k]
        if policy not in POLICIES:
            raise ValueError(f"exit policy {policy!r} is not known; expected one of {POLICIES}")
        return oracle_policy(beh, attached) if policy == "oracle" else threshold_policy(beh, attached, threshold)

    def expected_over_frequencies(self, k: int, attached: np.ndarray, share: np.ndarray, gpu_mhz, emc_mhz, cpu_mhz,
                                  tpc_fraction=1.0) -> tuple[np.ndarray, np.ndarray]:
        """Expected latency and energy (ms, mJ), each (C, F), of C exit configurations of backbone
        ``k`` (masks (C, E_k), shares (C, E_k + 1)) at F frequency triples."""
        E = int(self.num_exits[k])
        nb = int(self.num_blocks[k])
        f = [np.asarray(v, dtype=np.float64)[:, None] for v in (gpu_mhz, emc_mhz, cpu_mhz)]
        S = self._seg.shape[1]
        seg = self._cost(self._seg[k][None], *f, tpc_fraction)
        head = self._cost(self._exit[k][None, :E], *f, tpc_fraction)
        m = np.asarray(attached, dtype=bool)[:, None, :]  # (C, 1, E)
        out = []
        for c_seg, c_head in ((seg.time_s, head.time_s), (seg.energy_j, head.energy_j)):
            cum = np.cumsum(c_seg[:, : S - 1], axis=1)  # (F, S - 1)
            h = np.where(m, c_head[None], 0.0)  # (C, F, E)
            path = cum[None, :, self._exit_after[k, :E] + 1] + np.cumsum(h, axis=2)
            final = cum[None, :, nb] + c_seg[None, :, S - 1] + h.sum(axis=2)
            out.append(1e3 * ((share[:, None, :E] * path).sum(axis=2) + share[:, None, E] * final))
        return out[0], out[1]

    def evaluate(self, backbone, attached, policy="oracle", threshold=0.8, gpu_mhz=None, emc_mhz=None, cpu_mhz=None,
                 tpc_fraction=1.0) -> XavierResult:
        """Price D designs.

        Args:
            backbone: (D,) names or indices into :attr:`backbones`.
            attached: (D, E_max) bool, exit ``e`` attached (entries past a backbone's exits must be False).
            policy: ``oracle`` or ``threshold``, one for all or (D,).
            threshold: confidence threshold in [0, 1] of the threshold policy, scalar or (D,).
            gpu_mhz, emc_mhz, cpu_mhz: frequencies (MHz, real levels; default the highest), scalar or (D,).
            tpc_fraction: GPU TPCs left on by the power mode (1: all).
        """
        b = np.atleast_1d(np.asarray(backbone))
        k = self.backbone_index(b) if b.dtype.kind not in "iu" else b.astype(np.int64)
        D = k.size
        if np.any((k < 0) | (k >= len(self.backbones))):
            raise ValueError(f"backbone index {int(k[(k < 0) | (k >= len(self.backbones))][0])} is outside 0..{len(self.backbones) - 1}")
        m = np.asarray(attached, dtype=bool)
        if m.shape != (D, self.max_exits):
            raise ValueError(f"attached exits have shape {m.shape}; expected ({D}, {self.max_exits})")
        beyond = m & (np.arange(self.max_exits)[None, :] >= self.num_exits[k][:, None])
        if beyond.any():
            d = int(np.flatnonzero(beyond.any(axis=1))[0])
            e = int(np.flatnonzero(beyond[d])[0]) + 1
            raise ValueError(f"exit {e} is beyond backbone {self.backbones[k[d]]}'s {self.num_exits[k[d]]} exits (numbered 1..{self.num_exits[k[d]]})")
        pol = np.broadcast_to(np.asarray(policy, dtype=object), (D,))
        for p in set(pol.tolist()):
            if p not in POLICIES:
                raise ValueError(f"exit policy {p!r} is not known; expected one of {POLICIES}")
        thr = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (D,))
        check_threshold(thr)
        board = self.board
        f = {}
        for dom, val in (("gpu", gpu_mhz), ("emc", emc_mhz), ("cpu", cpu_mhz)):
            v = np.broadcast_to(np.asarray(board.max_mhz(dom) if val is None else val, dtype=np.float64), (D,))
            board.level_index(dom, v)
            f[dom] = v[:, None]
        tpc = np.broadcast_to(np.asarray(tpc_fraction, dtype=np.float64), (D,))[:, None]

        def cost(table):  # (D, S, W) -> SegmentCost of (D, S)
            return self._cost(table, f["gpu"], f["emc"], f["cpu"], tpc)

        seg = cost(self._seg[k])
        head = cost(self._exit[k])
        S = self._seg.shape[1]
        # time/energy of the path ending after block j: stem + blocks 0..j (cumulative over padded blocks)
        cum_t, cum_e = np.cumsum(seg.time_s[:, : S - 1], axis=1), np.cumsum(seg.energy_j[:, : S - 1], axis=1)
        after = self._exit_after[k] + 1  # position in cum (stem is 0)
        head_t = np.where(m, head.time_s, 0.0)
        head_e = np.where(m, head.energy_j, 0.0)
        path_t = np.take_along_axis(cum_t, after, axis=1) + np.cumsum(head_t, axis=1)
        path_e = np.take_along_axis(cum_e, after, axis=1) + np.cumsum(head_e, axis=1)
        last = self.num_blocks[k]
        static_t = cum_t[np.arange(D), last] + seg.time_s[:, S - 1]
        static_e = cum_e[np.arange(D), last] + seg.energy_j[:, S - 1]
        final_t = static_t + head_t.sum(axis=1)
        final_e = static_e + head_e.sum(axis=1)

        share = np.zeros((D, self.max_exits + 1))
        acc = np.zeros(D)
        for kk in np.unique(k):
            for p in set(pol.tolist()):
                rows = np.flatnonzero((k == kk) & (pol == p))
                if rows.size == 0:
                    continue
                E = int(self.num_exits[kk])
                beh = self.behaviour[kk]
                out = oracle_policy(beh, m[rows, :E]) if p == "oracle" else threshold_policy(beh, m[rows, :E], thr[rows])
                share[rows, :E] = out.share[:, :E]
                share[rows, -1] = out.share[:, E]
                acc[rows] = out.accuracy
        lat = (share[:, :-1] * path_t).sum(axis=1) + share[:, -1] * final_t
        en = (share[:, :-1] * path_e).sum(axis=1) + share[:, -1] * final_e
        return XavierResult(1e3 * lat, 1e3 * en, en / lat, acc, share, 1e3 * static_t, 1e3 * static_e)


def final_accuracy(backbone: str, dataset: str, exit_set: str = "current") -> tuple[float | None, str | None]:
    """Top-1 (%) of ``backbone``'s final classifier (the static network) and the exit set whose file
    holds it: ``exit_set`` first, then the other sets; ``(None, None)`` where no file has it."""
    for s in (exit_set,) + tuple(e for e in EXIT_SETS if e != exit_set):
        if backbone in available_backbones(dataset, s):
            return float(exit_accuracy(backbone, dataset, s)[-1]), s
    return None, None


def static_backbone(backbone: str, dataset: str = "cifar-100", gpu_mhz=None, emc_mhz=None, cpu_mhz=None, tpc_fraction=1.0,
                    scope: str = "module", params: XavierParams | None = None, voltage: VoltageCurve | None = None,
                    rails: OtherRails | None = None) -> dict[str, np.ndarray]:
    """Latency (ms), energy (mJ) and power (W) per inference of the static ``backbone`` (stem,
    every block, final head; no exits) at the given levels (MHz, default the highest; scalars or
    arrays that broadcast). Needs no exit accuracies, so every backbone a0..a6 has it."""
    check_backbone(backbone)
    board = load_board()
    f = {d: np.asarray(board.max_mhz(d) if v is None else v, dtype=np.float64) for d, v in (("gpu", gpu_mhz), ("emc", emc_mhz), ("cpu", cpu_mhz))}
    for d, v in f.items():
        board.level_index(d, v)
    w = load_backbone(backbone, dataset)
    tab = work_rows(np.vstack([w.stem, w.blocks, w.head]))  # (S, W)
    shape = np.broadcast_shapes(*(v.shape for v in f.values()), np.shape(tpc_fraction))
    c = segment_cost(tab.reshape((tab.shape[0],) + (1,) * len(shape) + (tab.shape[1],)), f["gpu"], f["emc"], f["cpu"], params, voltage,
                     board, tpc_fraction, scope, rails)
    t, e = c.time_s.sum(axis=0), c.energy_j.sum(axis=0)
    return {"latency_ms": 1e3 * t, "energy_mj": 1e3 * e, "power_w": e / t, "gpu_rail_energy_mj": 1e3 * c.gpu_energy_j.sum(axis=0)}
