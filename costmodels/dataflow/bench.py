"""Throughput benchmark of :func:`~.model.evaluate` (evaluations = layer x design points).

``run_benchmark`` returns one dict per (backend, device, dataflow, batch) with ``evals_per_s``
(best of ``repeats``; the first call of a dataflow also compiles its plans, see :mod:`.plan`) and
``peak_mem_bytes`` (tracemalloc peak of one extra, untimed run for numpy; CUDA
``max_memory_allocated`` for torch on GPU; process max-RSS growth for torch on CPU).
Measure single-core numbers with ``OMP_NUM_THREADS=1 taskset -c 0``.
"""

from __future__ import annotations

import resource
import time
import tracemalloc

import numpy as np

from .hardware import CONFUCIUX_NOC_BW, Hardware
from .model import evaluate

#: A few representative CNN layers (K, C, Y, X, R, S, stride).
_LAYERS = np.array([(64, 32, 56, 56, 3, 3, 1), (128, 64, 28, 28, 3, 3, 1), (256, 128, 14, 14, 1, 1, 1),
                    (32, 3, 224, 224, 3, 3, 2), (512, 256, 7, 7, 3, 3, 1), (96, 24, 56, 56, 1, 1, 1)], dtype=np.int64)


def _batch(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    L = _LAYERS[rng.integers(0, len(_LAYERS), n)]
    layers = {"type": np.full(n, 1, dtype=np.int64), "K": L[:, 0], "C": L[:, 1], "Y": L[:, 2], "X": L[:, 3],
              "R": L[:, 4], "S": L[:, 5], "stride": L[:, 6]}
    hw = {"num_pes": rng.integers(1, 65, n) * 8, "ktile": rng.integers(1, 13, n), "noc_bw": np.full(n, CONFUCIUX_NOC_BW)}
    return layers, hw


def run_benchmark(batch_sizes=(1, 1_000, 100_000, 1_000_000), backends=("numpy", "torch"),
                  dataflows=("cfx_dla", "cfx_shi", "cfx_eye", "kcp", "yrp", "xp", "ykp"), repeats: int = 2,
                  chunk_size: int | None = None) -> list[dict]:
    """Benchmark rows: backend, device, dataflow, batch, seconds, evals_per_s, peak_mem_bytes."""
    rows = []
    for backend in backends:
        device = "cpu"
        torch = None
        if backend == "torch":
            try:
                import torch  # noqa: F811
            except ImportError:
                continue
            device = "cuda" if torch.cuda.is_available() else "cpu"
        for df in dataflows:
            for n in batch_sizes:
                layers, hw = _batch(n)
                if torch is not None:
                    layers = {k: torch.as_tensor(v, device=device) for k, v in layers.items()}
                    hw = {k: torch.as_tensor(v, device=device) for k, v in hw.items()}
                hardware = Hardware(**hw)
                kw = {} if chunk_size is None else {"chunk_size": chunk_size}
                best = float("inf")
                peak = 0
                for _ in range(max(1, repeats)):
                    if device == "cuda":
                        torch.cuda.reset_peak_memory_stats()
                        torch.cuda.synchronize()
                    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
                    t0 = time.perf_counter()
                    evaluate(layers, hardware, df, **kw)
                    if device == "cuda":
                        torch.cuda.synchronize()
                    best = min(best, time.perf_counter() - t0)
                    if device == "cuda":
                        peak = max(peak, torch.cuda.max_memory_allocated())
                    elif backend != "numpy":
                        peak = max(peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0)
                if backend == "numpy":  # a separate traced run: tracemalloc would slow the timed ones
                    tracemalloc.start()
                    evaluate(layers, hardware, df, **kw)
                    peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                rows.append({"backend": backend, "device": device, "dataflow": df, "batch": n, "seconds": best,
                             "evals_per_s": n / best, "peak_mem_bytes": int(peak)})
    return rows


def format_rows(rows: list[dict]) -> str:
    """A plain-text table of :func:`run_benchmark` rows."""
    out = [f"{'backend':8s}{'device':7s}{'dataflow':10s}{'batch':>10s}{'evals/s':>14s}{'peak MB':>10s}"]
    for r in rows:
        out.append(f"{r['backend']:8s}{r['device']:7s}{r['dataflow']:10s}{r['batch']:>10d}"
                   f"{r['evals_per_s']:>14,.0f}{r['peak_mem_bytes'] / 2**20:>10.1f}")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(format_rows(run_benchmark()))
