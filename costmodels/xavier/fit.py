"""Fit the Xavier model's scale on measured AGX rows and the exit-overlap ``rho``; write both as data.

    python -m codesign_gym.costmodels.xavier.fit          # rewrites data/fit_agx.json and data/fit_exit_rho.json

Timing and power (``data/fit_agx.json``): the perf_prediction AGX rows (H. Bouzidi et al.,
MIT; ``data/jetson/perf_prediction_agx``): per network and input size, the measured execution time
(ms) or average power (mW) with the network's FLOPs, parameters (conv + BN + FC), summed
activations and layer count, the same definitions :mod:`.backbones` uses. Each measured network is
one segment of :mod:`.model` at the measured power mode (assumed MAXN, ``data/assumptions.json``):

1. ``eta_compute, eta_memory, tau_s`` minimise the squared log error of the latency on
   ``execution_time_prediction/training_dataset.csv`` (scipy ``least_squares``, log-parameters);
2. ``p_static_w, p_gpu_w, p_emc_w, p_cpu_w`` (>= 0) minimise the squared relative error of the power
   ``P = P_static + sum_d p_d * busy_d / t`` (busy fractions from step 1's model) on
   ``power_consumption_prediction/training_dataset.csv`` (scipy ``nnls``);
3. held-out error: the source's own test splits ``test_dim1`` (other sizes of known networks and
   new networks), ``test_dim2`` (networks absent from training), ``test_dim3`` (synthetic
   networks), never used in the fit.

Only network totals are measured, so a network is one roofline segment in the fit while the
model applies the roofline per block; the difference is reported for a0..a6
(``per_block_vs_whole``).

Exit overlap (``data/fit_exit_rho.json``): ``rho`` of :func:`.exits.latent_behaviour` such that the
oracle policy with every exit of a0 on CIFAR-100 reaches HADAS's measured early-exit accuracy
(``motivation_energy_accuracy.csv``, ``eex_top1`` 89.95%); a6 (older exits, 93.02%) is the check.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import hashlib
import json
from importlib import resources
from pathlib import Path

import numpy as np

from codesign_gym.costmodels.xavier.board import load_board
from codesign_gym.costmodels.xavier.model import XavierParams, segment_times

PERF_DIR = ("data", "jetson", "perf_prediction_agx")
SPLITS = ("training_dataset", "test_dim1", "test_dim2", "test_dim3")
COLUMNS = ("model", "input_shape", "target", "input_width", "input_size", "nb_params_conv", "nb_params_bn", "nb_params_fc",
           "flops", "nb_layers", "nb_conv_layers", "nb_bn_layers", "nb_fc_layers", "sum_activations", "weighted_sum_neurons")


@dataclasses.dataclass(frozen=True)
class MeasuredRows:
    """Rows of one perf_prediction file: ``target`` (ms or mW) and the features (float64 arrays)."""

    names: list[str]
    target: np.ndarray
    flops: np.ndarray
    bytes: np.ndarray
    layers: np.ndarray


def _package_file(*parts: str):
    return resources.files("codesign_gym.costmodels.xavier").joinpath(*parts)


def read_rows(kind: str, split: str) -> MeasuredRows:
    """``kind``: ``execution_time_prediction`` or ``power_consumption_prediction``; ``split`` in :data:`SPLITS`."""
    path = _package_file(*PERF_DIR, kind, f"{split}.csv")
    with path.open(newline="") as fh:
        rows = [r for r in csv.reader(fh) if r and r[2].strip()]  # one power row has no measurement
    get = lambda name: np.array([float(r[COLUMNS.index(name)]) for r in rows])  # noqa: E731
    params = get("nb_params_conv") + get("nb_params_bn") + get("nb_params_fc")
    nbytes = 4.0 * (params + get("sum_activations"))  # FP32, as :mod:`.backbones` counts bytes
    return MeasuredRows([f"{r[0]} {r[1]}" for r in rows], get("target"), get("flops"), nbytes, get("nb_layers"))


def _max_freqs():
    b = load_board()
    return b.max_mhz("gpu"), b.max_mhz("emc"), b.max_mhz("cpu")


def predict_latency_s(rows: MeasuredRows, params: XavierParams) -> np.ndarray:
    t_c, t_m, t_cpu = segment_times(rows.flops, rows.bytes, rows.layers, *_max_freqs(), params)
    return np.maximum(t_c, t_m) + t_cpu


def busy_fractions(rows: MeasuredRows, params: XavierParams) -> np.ndarray:
    """(n, 4): 1 (static), and the GPU, EMC and CPU busy fractions of each row's modelled latency."""
    t_c, t_m, t_cpu = segment_times(rows.flops, rows.bytes, rows.layers, *_max_freqs(), params)
    t = np.maximum(t_c, t_m) + t_cpu
    return np.stack([np.ones_like(t), t_c / t, t_m / t, t_cpu / t], axis=1)


def predict_power_w(rows: MeasuredRows, params: XavierParams) -> np.ndarray:
    """Average power at the measured mode (MAXN: every dynamic scale is 1)."""
    coef = np.array([params.p_static_w, params.p_gpu_w, params.p_emc_w, params.p_cpu_w])
    return busy_fractions(rows, params) @ coef


def _errors(pred: np.ndarray, meas: np.ndarray) -> dict[str, float]:
    ape = np.abs(pred / meas - 1.0) * 100.0
    return {"rows": int(meas.size), "mape_pct": float(ape.mean()), "median_ape_pct": float(np.median(ape)),
            "p90_ape_pct": float(np.percentile(ape, 90))}


def fit_latency() -> tuple[float, float, float]:
    from scipy.optimize import least_squares

    rows = read_rows("execution_time_prediction", "training_dataset")
    meas = rows.target / 1e3

    def residual(x):
        p = XavierParams(*np.exp(x), 0.0, 0.0, 0.0, 0.0)
        return np.log(predict_latency_s(rows, p)) - np.log(meas)

    x0 = np.log([0.3, 0.3, 1e-5])
    res = least_squares(residual, x0, method="trf", x_scale="jac")
    return tuple(float(v) for v in np.exp(res.x))


def fit_power(eta_c: float, eta_m: float, tau: float) -> tuple[float, float, float, float]:
    from scipy.optimize import nnls

    rows = read_rows("power_consumption_prediction", "training_dataset")
    p = XavierParams(eta_c, eta_m, tau, 0.0, 0.0, 0.0, 0.0)
    X = busy_fractions(rows, p)
    meas_w = rows.target / 1e3
    coef, _ = nnls(X / meas_w[:, None], np.ones_like(meas_w))
    return tuple(float(v) for v in coef)


def _sha256(parts: tuple[str, ...]) -> str:
    return hashlib.sha256(_package_file(*parts).read_bytes()).hexdigest()


def fit_agx() -> dict:
    """Fit (steps 1-3 of the module docstring) and return the JSON document."""
    eta_c, eta_m, tau = fit_latency()
    p_static, p_gpu, p_emc, p_cpu = fit_power(eta_c, eta_m, tau)
    params = XavierParams(eta_c, eta_m, tau, p_static, p_gpu, p_emc, p_cpu)
    errors: dict[str, dict] = {"latency": {}, "power": {}}
    for split in SPLITS:
        t = read_rows("execution_time_prediction", split)
        errors["latency"][split] = _errors(predict_latency_s(t, params), t.target / 1e3)
        w = read_rows("power_consumption_prediction", split)
        errors["power"][split] = _errors(predict_power_w(w, params), w.target / 1e3)
    files = {f"{kind}/{split}.csv": _sha256(PERF_DIR + (kind, f"{split}.csv"))
             for kind in ("execution_time_prediction", "power_consumption_prediction") for split in SPLITS}
    return {
        "params": dataclasses.asdict(params),
        "units": {"eta_compute": "fraction of 1024 FP32 FLOPs/cycle", "eta_memory": "fraction of 64 B per EMC clock",
                  "tau_s": "s per layer at the highest CPU level", "p_*_w": "W"},
        "provenance": {
            "data": "perf_prediction AGX rows (github HalimaBouzidi/perf_prediction, MIT), shipped in data/jetson/perf_prediction_agx",
            "sha256": files,
            "method": "latency: scipy least_squares on log error, training_dataset; power: scipy nnls on relative error, "
                      "training_dataset; measured mode assumed MAXN (data/assumptions.json)",
            "fitted_by": "python -m codesign_gym.costmodels.xavier.fit",
            "date": _dt.date.today().isoformat(),
        },
        "held_out_splits": ["test_dim1", "test_dim2", "test_dim3"],
        "errors": errors,
        "per_block_vs_whole": per_block_vs_whole(params),
    }


def per_block_vs_whole(params: XavierParams) -> dict[str, float]:
    """Static latency of a0..a6 (CIFAR-100) with the roofline per block over the roofline of the
    network's totals as one segment (the fit's view), at MAXN."""
    from codesign_gym.costmodels.xavier.backbones import BACKBONES, FEATURES, load_backbone

    out = {}
    f, b, l = FEATURES.index("flops"), FEATURES.index("bytes"), FEATURES.index("layers")
    for name in BACKBONES:
        w = load_backbone(name, "cifar-100")
        segs = np.vstack([w.stem, w.blocks, w.head])
        t_c, t_m, t_cpu = segment_times(segs[:, f], segs[:, b], segs[:, l], *_max_freqs(), params)
        per_block = float((np.maximum(t_c, t_m) + t_cpu).sum())
        tot = segs.sum(axis=0)
        t_c, t_m, t_cpu = segment_times(tot[f], tot[b], tot[l], *_max_freqs(), params)
        out[name] = per_block / float(np.maximum(t_c, t_m) + t_cpu)
    return out


def motivation_rows() -> dict[str, dict[str, float]]:
    """HADAS's motivation values (energy mJ, top-1 %) per model: base, eex, eex_dvfs."""
    path = _package_file("data", "hadas", "motivation_energy_accuracy.csv")
    with path.open(newline="") as fh:
        rows = [r for r in csv.reader(fh) if r and not r[0].startswith("#")]
    header = rows[0]
    return {r[0]: {k: float(v) for k, v in zip(header[1:], r[1:])} for r in rows[1:]}


def fit_exit_rho() -> dict:
    """``rho`` matching a0's measured early-exit accuracy under the oracle with every exit."""
    from scipy.optimize import brentq

    from codesign_gym.costmodels.xavier.exits import exit_accuracy, latent_behaviour, oracle_policy

    target = motivation_rows()["a0"]["eex_top1"]
    acc = exit_accuracy("a0", "cifar-100", "current")
    every = np.ones((1, acc.size - 1), dtype=bool)
    oracle = lambda rho, a=acc, m=every: float(oracle_policy(latent_behaviour(a, rho), m).accuracy[0])  # noqa: E731
    rho = float(brentq(lambda r: oracle(r) - target, 0.0, 0.999, xtol=1e-6))
    a6 = exit_accuracy("a6", "cifar-100", "old_res")
    check = float(oracle_policy(latent_behaviour(a6, rho), np.ones((1, a6.size - 1), dtype=bool)).accuracy[0])
    return {
        "rho": rho,
        "provenance": {
            "target": f"a0 CIFAR-100 eex_top1 = {target}% (motivation_energy_accuracy.csv, HADAS Plot_motivation.ipynb)",
            "exits": "exit_perf/cifar-100/a0_cifar-100exit_perf.csv, every exit attached, oracle policy",
            "method": "scipy brentq on rho in [0, 0.999]", "fitted_by": "python -m codesign_gym.costmodels.xavier.fit",
        },
        "check": {"a6_old_res_oracle_every_exit_pct": check, "a6_measured_eex_top1_pct": motivation_rows()["a6"]["eex_top1"]},
    }


def main() -> None:
    folder = Path(str(_package_file("data")))
    (folder / "fit_agx.json").write_text(json.dumps(fit_agx(), indent=1) + "\n")
    (folder / "fit_exit_rho.json").write_text(json.dumps(fit_exit_rho(), indent=1) + "\n")
    print(f"wrote {folder / 'fit_agx.json'} and {folder / 'fit_exit_rho.json'}")


if __name__ == "__main__":
    main()
