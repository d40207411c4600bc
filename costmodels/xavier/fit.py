"""Fit the Xavier model on measured AGX rows, calibrate the non-GPU rails, fit the exit overlap ``rho``; write them as data.

    python -m codesign_gym.costmodels.xavier.fit          # rewrites data/fit_agx.json and data/fit_exit_rho.json

Measured rows (``data/jetson/perf_prediction_agx``, H. Bouzidi et al., MIT): per network and input
size the measured execution time (ms) or power (mW), with the network's FLOPs, parameters (conv,
BN, FC), summed activations, input size and layer count, the definitions :mod:`.backbones` uses.
Each network is one segment of :mod:`.model` at the measured power mode (assumed MAXN,
``data/assumptions.json``).

**What the power rows measure** (evidence in ``data/README.md``): the module's GPU rail (INA3221
channel ``GPU``), read while the benchmark alternates one inference with an idle gap: the
readings are multiples of one channel's LSB (152.6 mW), start at 1.2-1.4 W for the smallest
networks (below any multi-rail sum at MAXN) and grow with the inference time at a constant
throughput (EfficientNet-B0 at 800 and 1600 px: same FLOP/s, 6.5 and 12.9 W). So a row is the
average over one period of ``t`` (inference) plus ``g`` (idle):
``P_meas = (P_idle * g + E_gpu) / (g + t)`` with ``E_gpu = P_active * t + e_flop * flops +
e_byte * activation_bytes`` (:func:`.model.gpu_rail_energy_j` at the highest levels).

1. Latency (``eta_*``, ``tau_s``) on ``execution_time_prediction/training_dataset.csv``: scipy
   ``least_squares`` on the log error, then a robust (soft-L1, scale 0.05) fit of the relative
   error from there;
2. GPU rail (``gpu_idle_w, gpu_active_w, gpu_j_per_flop, gpu_j_per_byte`` >= 0 and the gap
   ``g``) on ``power_consumption_prediction/training_dataset.csv`` with step 1's *modelled*
   latency (the cost model's own ``t``): for each ``g`` the four are an ``nnls`` of the relative
   error; ``g`` minimises its residual (a 161-point log grid on [0.01, 2] s, then scipy's bounded
   ``minimize_scalar`` between the grid neighbours);
3. held-out error: the source's own test splits ``test_dim1`` (other sizes of known networks and
   new networks), ``test_dim2`` (networks absent from training), ``test_dim3`` (synthetic
   networks), never used in steps 1-2; power is predicted from modelled latency;
4. ``other_w`` (the CPU, SOC, DDR and other module rails together at the highest levels): no
   shipped row measures them, so one number is calibrated on HADAS's measured static a0 energy at
   the highest levels (173.8 mJ, ``motivation_energy_accuracy.csv``): ``(E_a0 - E_gpu,a0) / t_a0``;
   a6 (335.5 mJ) is the held-out check.
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
from codesign_gym.costmodels.xavier.model import WORK, XavierParams, gpu_rail_energy_j, latency_s, VoltageCurve

PERF_DIR = ("data", "jetson", "perf_prediction_agx")
SPLITS = ("training_dataset", "test_dim1", "test_dim2", "test_dim3")
HELD_OUT = SPLITS[1:]
COLUMNS = ("model", "input_shape", "target", "input_width", "input_size", "nb_params_conv", "nb_params_bn", "nb_params_fc",
           "flops", "nb_layers", "nb_conv_layers", "nb_bn_layers", "nb_fc_layers", "sum_activations", "weighted_sum_neurons")
LATENCY_PARAMS = ("eta_compute", "eta_weights", "eta_fc", "eta_activations", "eta_input", "tau_s")
GPU_PARAMS = ("gpu_idle_w", "gpu_active_w", "gpu_j_per_flop", "gpu_j_per_byte")
#: Scale of the soft-L1 loss of the relative latency error (residuals beyond ~5% count linearly).
ROBUST_SCALE = 0.05
#: HADAS's backbone that calibrates ``other_w`` and the one that checks it.
CALIBRATION_BACKBONE, CHECK_BACKBONE = "a0", "a6"


@dataclasses.dataclass(frozen=True)
class MeasuredRows:
    """Rows of one perf_prediction file: ``target`` (ms or mW) and ``work`` (n, 6) in
    :data:`.model.WORK` order (FP32 bytes)."""

    names: list[str]
    target: np.ndarray
    work: np.ndarray


def _package_file(*parts: str):
    return resources.files("codesign_gym.costmodels.xavier").joinpath(*parts)


def read_rows(kind: str, split: str) -> MeasuredRows:
    """``kind``: ``execution_time_prediction`` or ``power_consumption_prediction``; ``split`` in :data:`SPLITS`."""
    path = _package_file(*PERF_DIR, kind, f"{split}.csv")
    with path.open(newline="") as fh:
        rows = [r for r in csv.reader(fh) if r and r[2].strip()]  # one power row has no measurement
    get = lambda name: np.array([float(r[COLUMNS.index(name)]) for r in rows])  # noqa: E731
    cols = {"flops": get("flops"), "weight_bytes": 4.0 * (get("nb_params_conv") + get("nb_params_bn")),
            "fc_bytes": 4.0 * get("nb_params_fc"), "activation_bytes": 4.0 * get("sum_activations"),
            "input_bytes": 4.0 * get("input_size"), "layers": get("nb_layers")}
    return MeasuredRows([f"{r[0]} {r[1]}" for r in rows], get("target"), np.stack([cols[c] for c in WORK], axis=1))


def _max_freqs():
    b = load_board()
    return b.max_mhz("gpu"), b.max_mhz("emc"), b.max_mhz("cpu")


def predict_latency_s(rows: MeasuredRows, params: XavierParams) -> np.ndarray:
    """Modelled latency (s) of measured rows at the highest levels."""
    return latency_s(rows.work, *_max_freqs(), params)


def gpu_energy_max_j(work, time_s, params: XavierParams) -> np.ndarray:
    """GPU-rail energy (J) at the highest levels (every voltage and clock ratio is 1)."""
    return gpu_rail_energy_j(work, time_s, load_board().max_mhz("gpu"), params, VoltageCurve("constant"))


def predict_measured_power_w(rows: MeasuredRows, params: XavierParams, gap_s: float) -> np.ndarray:
    """What the power rows read: the GPU rail averaged over one modelled inference plus the idle gap."""
    t = predict_latency_s(rows, params)
    return (params.gpu_idle_w * gap_s + gpu_energy_max_j(rows.work, t, params)) / (gap_s + t)


def _errors(pred: np.ndarray, meas: np.ndarray) -> dict[str, float]:
    ape = np.abs(pred / meas - 1.0) * 100.0
    return {"rows": int(meas.size), "mape_pct": float(ape.mean()), "median_ape_pct": float(np.median(ape)),
            "p90_ape_pct": float(np.percentile(ape, 90))}


def _params(values: dict[str, float]) -> XavierParams:
    return XavierParams(**{f.name: float(values.get(f.name, 0.0)) for f in dataclasses.fields(XavierParams)})


def fit_latency() -> dict[str, float]:
    """Step 1: ``eta_*`` and ``tau_s`` on the training rows."""
    from scipy.optimize import least_squares

    rows = read_rows("execution_time_prediction", "training_dataset")
    meas = rows.target / 1e3

    def model(x):
        return predict_latency_s(rows, _params(dict(zip(LATENCY_PARAMS, np.exp(x)))))

    x0 = np.log([0.5, 0.1, 0.3, 0.3, 0.03, 1e-5])
    start = least_squares(lambda x: np.log(model(x)) - np.log(meas), x0, method="trf").x
    res = least_squares(lambda x: model(x) / meas - 1.0, start, method="trf", loss="soft_l1", f_scale=ROBUST_SCALE)
    return {k: float(v) for k, v in zip(LATENCY_PARAMS, np.exp(res.x))}


def fit_gpu_rail(latency: dict[str, float]) -> tuple[dict[str, float], float]:
    """Step 2: the GPU-rail parameters and the measurement gap ``g`` (s) on the training rows."""
    from scipy.optimize import minimize_scalar, nnls

    rows = read_rows("power_consumption_prediction", "training_dataset")
    t = predict_latency_s(rows, _params(latency))
    meas = rows.target / 1e3
    f, a = rows.work[:, WORK.index("flops")], rows.work[:, WORK.index("activation_bytes")]

    def solve(log_g):
        g = float(np.exp(log_g))
        X = np.stack([np.full_like(t, g), t, f, a], axis=1) / (meas * (g + t))[:, None]
        coef, norm = nnls(X, np.ones_like(t))
        return norm, coef

    grid = np.linspace(np.log(0.01), np.log(2.0), 161)
    i = int(np.argmin([solve(x)[0] for x in grid]))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    best = minimize_scalar(lambda x: solve(x)[0], bounds=(lo, hi), method="bounded", options={"xatol": 1e-6})
    coef = solve(best.x)[1]
    return {k: float(v) for k, v in zip(GPU_PARAMS, coef)}, float(np.exp(best.x))


def static_work(backbone: str, dataset: str = "cifar-100") -> np.ndarray:
    """The static backbone (stem, blocks, head) as one segment: its :data:`.model.WORK` row (the
    model is additive, so one segment prices exactly as the sum of its blocks)."""
    from codesign_gym.costmodels.xavier.backbones import load_backbone
    from codesign_gym.costmodels.xavier.evaluate import work_rows

    w = load_backbone(backbone, dataset)
    return work_rows(np.vstack([w.stem, w.blocks, w.head])).sum(axis=0)


def calibrate_other_rails(params: XavierParams) -> tuple[float, dict]:
    """Step 4: ``other_w`` from HADAS's static a0 energy at the highest levels, and the a6 check."""
    measured = motivation_rows()

    def gpu_and_time(name):
        work = static_work(name)
        t = float(latency_s(work, *_max_freqs(), params))
        return float(gpu_energy_max_j(work, t, params)), t

    e_gpu, t = gpu_and_time(CALIBRATION_BACKBONE)
    other = (measured[CALIBRATION_BACKBONE]["base_energy_mJ"] / 1e3 - e_gpu) / t
    if other < 0:
        raise ValueError(f"HADAS's {CALIBRATION_BACKBONE} energy is below the model's GPU rail alone; cannot calibrate the other rails")
    checks = {}
    for name in (CALIBRATION_BACKBONE, CHECK_BACKBONE):
        e, tt = gpu_and_time(name)
        model = 1e3 * (e + other * tt)
        checks[name] = {"hadas_mj": measured[name]["base_energy_mJ"], "model_module_mj": model, "model_gpu_rail_mj": 1e3 * e,
                        "model_latency_ms": 1e3 * tt, "error_pct": 100.0 * (model / measured[name]["base_energy_mJ"] - 1.0)}
    return float(other), checks


def _sha256(parts: tuple[str, ...]) -> str:
    return hashlib.sha256(_package_file(*parts).read_bytes()).hexdigest()


def fit_agx() -> dict:
    """Fit (steps 1-4 of the module docstring) and return the JSON document."""
    latency = fit_latency()
    gpu, gap = fit_gpu_rail(latency)
    params = _params({**latency, **gpu})
    other, checks = calibrate_other_rails(params)
    params = dataclasses.replace(params, other_w=other)
    errors: dict[str, dict] = {"latency": {}, "power": {}}
    for split in SPLITS:
        t = read_rows("execution_time_prediction", split)
        errors["latency"][split] = _errors(predict_latency_s(t, params), t.target / 1e3)
        w = read_rows("power_consumption_prediction", split)
        errors["power"][split] = _errors(predict_measured_power_w(w, params, gap), w.target / 1e3)
    files = {f"{kind}/{split}.csv": _sha256(PERF_DIR + (kind, f"{split}.csv"))
             for kind in ("execution_time_prediction", "power_consumption_prediction") for split in SPLITS}
    files["hadas/motivation_energy_accuracy.csv"] = _sha256(("data", "hadas", "motivation_energy_accuracy.csv"))
    return {
        "params": dataclasses.asdict(params),
        "units": {"eta_*": "fraction of the peak (compute: 1024 FP32 FLOPs per GPU clock; traffic: 64 B per EMC clock)",
                  "tau_s": "s per layer at the highest CPU level", "gpu_idle_w, gpu_active_w, other_w": "W",
                  "gpu_j_per_flop": "J per FLOP", "gpu_j_per_byte": "J per activation byte"},
        "measurement": {"gap_s": gap, "what": "GPU-rail reading averaged over one inference plus an idle gap of gap_s (s)"},
        "calibration": {"other_w": f"(HADAS static {CALIBRATION_BACKBONE} energy - model GPU-rail energy) / model latency, highest levels",
                        "checks": checks},
        "provenance": {
            "data": "perf_prediction AGX rows (github HalimaBouzidi/perf_prediction, MIT), shipped in data/jetson/perf_prediction_agx; "
                    "HADAS motivation values (github HalimaBouzidi/HADAS, Apache-2.0), data/hadas",
            "sha256": files,
            "method": "latency: scipy least_squares, log error then soft_l1 (f_scale 0.05) relative error, training_dataset; "
                      "GPU rail: nnls of the relative error of the duty-cycle reading per gap, gap by a log grid and bounded "
                      "minimize_scalar, training_dataset, modelled latency; other rails: HADAS a0; measured mode assumed MAXN "
                      "(data/assumptions.json)",
            "fitted_by": "python -m codesign_gym.costmodels.xavier.fit",
            "date": _dt.date.today().isoformat(),
        },
        "held_out_splits": list(HELD_OUT),
        "errors": errors,
    }


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
