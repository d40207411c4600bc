"""Exact peak-SRAM and MAC model of layer-by-layer and patch-based inference (MCUNetV2).

MCUNetV2 (Lin et al., NeurIPS 2021) runs the first, memory-heavy layers of a CNN patch by
patch: the output of layer ``L`` (the *split*) is cut into an ``n x n`` grid; each output patch
is computed from its own input patch through layers ``0..L``, overlapping receptive fields being
recomputed; then the rest of the network runs layer by layer on the assembled output.

Memory model (activations only, ``bytes_per_element`` bytes each; int8 = 1):

* Layer by layer, the live bytes while layer ``l`` runs are its input plus its output
  (a depthwise layer runs in place: the larger of the two); a residual add fused into layer
  ``i`` (``residual_from[i] = j``) accumulates into the shortcut's buffer, which holds
  ``out_j`` from after layer ``j`` until layer ``i``: it adds bytes while layers ``j+2..i-1``
  run (for ``j+1`` it is the input, for ``i`` it is the output buffer). A tensor added from the
  network input (``RESIDUAL_FROM_INPUT``) is the input image. An operation that is not a row
  (a global pooling before the classifier: same channels, smaller map) is a step of its own,
  reading the previous output and writing the next input. The network's peak is the largest
  step.
* Patch based, split after layer ``L`` (0-based, inclusive) and an ``n x n`` grid: output rows
  (and cols) of layer ``L`` are cut at ``k * H // n``; each patch's needed rows are traced back
  layer by layer, ``[a*s - p, (b-1)*s - p + R)`` clipped to the real map (padding is zeros, not
  stored), so every patch computes exactly what its output needs and the result equals
  layer-by-layer inference. The input image is streamed patch by patch (only the input patch
  is resident). While layer ``l <= L`` runs for a patch, live bytes are that patch's input and
  output regions (depthwise in place, residual shortcuts held as above, region by region),
  plus the stage's full output buffer ``H x W x K_L``, which layer ``L`` writes its patch into
  directly. The patch stage's peak is the largest over patches and layers; the overall peak
  is the larger of it and the layer-by-layer peak of layers ``L+1..`` (whose first input is
  that buffer).
* MACs count every output element computed, ``K*C*R*S/groups`` each (padded taps included, as
  :attr:`LayerTable.macs`); ``extra_macs`` is what overlapping patches recompute.

Scope: single-path networks (each layer reads the previous layer's output; residual adds
fused as in the zoo), e.g. ``mobilenet_v2`` and ``mnasnet``. A split must not cut a residual
edge (a shortcut from before the split to after it would have to be assembled in full too), and
the patch stage must be a chain of rows (no pooling inside). :func:`valid_split_layers` lists
the allowed splits. ``split_layer = -1`` means no patch stage (plain layer-by-layer inference;
the grid is then ignored).
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np

from codesign_gym.costmodels.workloads import RESIDUAL_FROM_INPUT, LayerTable, LayerType

#: ``split_layer`` value meaning "no patch stage".
NO_SPLIT = -1
#: Designs x patches x patches elements per chunk of the batched evaluation.
_CHUNK_ELEMENTS = 1 << 21


@dataclasses.dataclass(frozen=True)
class PatchMemory:
    """Memory and compute of a batch of schedules; every field has the broadcast shape ``S`` of
    ``split_layer`` and ``grid`` (``split_output_shape`` is ``S + (3,)``).

    Bytes are activation bytes (``bytes_per_element`` per element); MACs are int64 counts.
    """

    peak_bytes: np.ndarray  #: overall peak SRAM of the schedule
    layerwise_peak_bytes: np.ndarray  #: peak of plain layer-by-layer inference (same network)
    patch_stage_peak_bytes: np.ndarray  #: per-patch working set + stage output buffer (0 without a split)
    rest_peak_bytes: np.ndarray  #: layer-by-layer peak of layers L+1.. (0 when L is the last layer)
    macs: np.ndarray  #: total MACs including recompute
    extra_macs: np.ndarray  #: MACs recomputed by overlapping patches (0 without a split)
    input_patch_rows: np.ndarray  #: largest input-image patch (rows), clipped to the image; the image without a split
    input_patch_cols: np.ndarray  #: largest input-image patch (cols)
    split_output_shape: np.ndarray  #: [H, W, C] of layer L's output; zeros without a split
    grid: np.ndarray  #: the grid as evaluated (the input, int64)

    @property
    def peak_kib(self) -> np.ndarray:
        """Overall peak in KiB (1024 bytes)."""
        return self.peak_bytes / 1024.0

    @property
    def layerwise_peak_kib(self) -> np.ndarray:
        return self.layerwise_peak_bytes / 1024.0


@dataclasses.dataclass(frozen=True)
class _Net:
    """Per-layer arrays of a checked single-path table (all int64, shape (n,) unless noted)."""

    table: LayerTable
    H: np.ndarray  # output rows
    W: np.ndarray  # output cols
    dw: np.ndarray  # bool: depthwise (in place)
    layer_bytes: np.ndarray  # layer-by-layer live elements per step (max of layer and pooling step)
    rest_peak: np.ndarray  # (n + 1,) rest_peak[L + 1] = max(layer_bytes[L + 1:]) (0 past the end)
    valid_split: np.ndarray  # bool
    edges: tuple[tuple[int, int], ...]  # residual (j, i), j = -1 for the network input


def _check_table(table: LayerTable) -> tuple[np.ndarray, np.ndarray]:
    """Raise ValueError unless every layer reads the previous output (or a pooled version of
    it: same channels, smaller map). Returns ``chained`` (exact chain) and ``pooled`` bools."""
    if not isinstance(table, LayerTable):
        raise ValueError(f"expected a LayerTable; got {type(table).__name__}")
    n = len(table)
    if n == 0:
        raise ValueError(f"layer table {table.name!r} is empty; expected at least one layer")
    chained = np.ones(n, dtype=bool)
    pooled = np.zeros(n, dtype=bool)
    H, W = table.out_rows, table.out_cols
    for l in range(1, n):
        same_c = table.C[l] == table.K[l - 1]
        exact = same_c and table.Y[l] == H[l - 1] and table.X[l] == W[l - 1]
        smaller = same_c and table.Y[l] <= H[l - 1] and table.X[l] <= W[l - 1]
        if not exact and not smaller:
            raise ValueError(
                f"layer {l} ({table.layer_names[l]!r}) of {table.name!r} reads a {int(table.C[l])}x{int(table.Y[l])}x"
                f"{int(table.X[l])} (CxYxX) input but layer {l - 1} writes {int(table.K[l - 1])}x{int(H[l - 1])}x{int(W[l - 1])}; "
                f"expected a single-path network (each layer reads the previous output, residual adds fused), "
                f"e.g. mobilenet_v2 or mnasnet"
            )
        chained[l] = exact
        pooled[l] = not exact
    return chained, pooled


def _residual_edges(table: LayerTable) -> tuple[tuple[int, int], ...]:
    edges = []
    for i, j in enumerate(table.residual_from.tolist()):
        if j >= 0:
            edges.append((int(j), i))
        elif j == RESIDUAL_FROM_INPUT:
            edges.append((-1, i))
    return tuple(edges)


def _prepare(table: LayerTable) -> _Net:
    chained, pooled = _check_table(table)
    n = len(table)
    H, W = table.out_rows, table.out_cols
    out_el = table.K * H * W
    in_el = table.C * table.Y * table.X
    dw = table.type == LayerType.DSCONV
    edges = _residual_edges(table)

    def src_elements(j: int) -> int:
        return int(in_el[0]) if j < 0 else int(out_el[j])

    out_buf = out_el.copy()
    held = np.zeros(n, dtype=np.int64)  # shortcut bytes held while layer l runs
    for j, i in edges:
        out_buf[i] = max(int(out_buf[i]), src_elements(j))
        held[j + 2 : i] += src_elements(j)
    step = np.where(dw, np.maximum(in_el, out_buf), in_el + out_buf) + held
    prev_out = np.concatenate([[0], out_el[:-1]])
    pool_step = np.where(pooled, prev_out + in_el + held, 0)
    layer_bytes = np.maximum(step, pool_step)
    rest_peak = np.zeros(n + 1, dtype=np.int64)
    rest_peak[:n] = np.maximum.accumulate(layer_bytes[::-1])[::-1]

    # A split after L is valid when layers 0..L form an exact chain and no residual edge
    # (the input image counts as j = -1, which is streamed) crosses it: not j < L < i.
    prefix_chain = np.logical_and.accumulate(chained)
    valid = prefix_chain.copy()
    for j, i in edges:
        valid[j + 1 : i] = False  # j < L < i
    return _Net(table, H, W, dw, layer_bytes, rest_peak, valid, edges)


@lru_cache(maxsize=64)
def _prepare_cached(table: LayerTable) -> _Net:  # LayerTable hashes by identity (eq=False)
    return _prepare(table)


def _net(table: LayerTable) -> _Net:
    if not isinstance(table, LayerTable):
        raise ValueError(f"expected a LayerTable; got {type(table).__name__}")
    return _prepare_cached(table)


def valid_split_layers(table: LayerTable) -> np.ndarray:
    """Layer indices ``L`` (int64, ascending) after which a patch stage may end: layers ``0..L``
    form an exact chain and no residual edge runs from before ``L`` to after it."""
    return np.flatnonzero(_net(table).valid_split).astype(np.int64)


def layerwise_step_bytes(table: LayerTable, bytes_per_element: int = 1) -> np.ndarray:
    """Live activation bytes while each layer runs layer by layer, int64 shape (n,) (a pooling
    step that is not a row is folded into the next layer's entry as their maximum)."""
    return _net(table).layer_bytes * _check_bpe(bytes_per_element)


def _check_bpe(bytes_per_element: int) -> int:
    if not isinstance(bytes_per_element, (int, np.integer)) or isinstance(bytes_per_element, bool) or bytes_per_element < 1:
        raise ValueError(f"bytes_per_element={bytes_per_element!r}; expected a positive integer (1 for int8)")
    return int(bytes_per_element)


def _as_int(name: str, value) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name}={value!r}; expected integers")
    elif arr.dtype.kind not in "iub":
        raise ValueError(f"{name}={value!r}; expected integers")
    return arr.astype(np.int64)


def patch_memory(table: LayerTable, split_layer=NO_SPLIT, grid=1, bytes_per_element: int = 1) -> PatchMemory:
    """Peak SRAM and MACs of patch-based schedules of one network, evaluated as a batch.

    Args:
        table: a single-path layer table (see the module docstring).
        split_layer: int or int array: the last layer of the patch stage (0-based, inclusive),
            one of :func:`valid_split_layers`, or ``-1`` (no patch stage).
        grid: int or int array, broadcast with ``split_layer``: patches per side of the
            ``n x n`` grid over layer ``split_layer``'s output; 1 <= grid <= min(H, W) of that
            output (ignored, but still >= 1, without a split).
        bytes_per_element: activation bytes per element (1 = int8).

    Returns:
        :class:`PatchMemory` with arrays of the broadcast shape.

    Raises:
        ValueError: a split beyond the network or not a valid split, a grid < 1 or larger than
            the split's feature map, a non-single-path table, a bad ``bytes_per_element``.
    """
    bpe = _check_bpe(bytes_per_element)
    net = _net(table)
    split = _as_int("split_layer", split_layer)
    grid_arr = _as_int("grid", grid)
    split, grid_arr = np.broadcast_arrays(split, grid_arr)
    shape = split.shape
    split, grid_arr = split.ravel().copy(), grid_arr.ravel().copy()
    n_layers = len(table)
    bad = np.flatnonzero((split < NO_SPLIT) | (split >= n_layers))
    if bad.size:
        raise ValueError(f"split_layer={int(split[bad[0]])} is outside the network; expected -1 (no split) or a layer index "
                         f"0..{n_layers - 1} of {table.name!r}")
    has = split >= 0
    bad = np.flatnonzero(has & ~net.valid_split[np.maximum(split, 0)])
    if bad.size:
        raise ValueError(f"split_layer={int(split[bad[0]])} of {table.name!r} cuts a residual edge or a non-chain step; "
                         f"expected one of {valid_split_layers(table).tolist()} (or -1)")
    bad = np.flatnonzero(grid_arr < 1)
    if bad.size:
        raise ValueError(f"grid={int(grid_arr[bad[0]])}; expected a positive number of patches per side")
    side = np.where(has, np.minimum(net.H[np.maximum(split, 0)], net.W[np.maximum(split, 0)]), np.iinfo(np.int64).max)
    bad = np.flatnonzero(grid_arr > side)
    if bad.size:
        i = int(bad[0])
        L = int(split[i])
        raise ValueError(f"grid={int(grid_arr[i])} is larger than the {int(net.H[L])}x{int(net.W[L])} output of split layer {L}; "
                         f"expected 1..{int(side[i])}")

    D = split.size
    stage_peak = np.zeros(D, dtype=np.int64)
    stage_macs = np.zeros(D, dtype=np.int64)
    in_rows = np.full(D, int(table.Y[0]), dtype=np.int64)
    in_cols = np.full(D, int(table.X[0]), dtype=np.int64)
    idx = np.flatnonzero(has)
    if idx.size:
        g = np.where(has, grid_arr, 1)
        n_max = int(g[idx].max())
        per_chunk = max(1, _CHUNK_ELEMENTS // (n_max * n_max))
        for start in range(0, idx.size, per_chunk):
            rows = idx[start : start + per_chunk]
            p, m, r, c = _patch_stage(net, split[rows], g[rows], n_max)
            stage_peak[rows], stage_macs[rows], in_rows[rows], in_cols[rows] = p, m, r, c

    macs_all = table.macs
    prefix_macs = np.concatenate([[0], np.cumsum(macs_all)])
    base_macs = int(prefix_macs[-1])
    L = np.maximum(split, 0)
    extra = np.where(has, stage_macs - prefix_macs[L + 1], 0)
    rest = np.where(has, net.rest_peak[L + 1], net.rest_peak[0])
    stage_peak = np.where(has, stage_peak, 0)
    layerwise = np.full(D, int(net.rest_peak[0]), dtype=np.int64)
    out_shape = np.where(has[:, None], np.stack([net.H[L], net.W[L], table.K[L]], axis=1), 0)

    def shaped(a):
        return np.asarray(a, dtype=np.int64).reshape(shape)

    return PatchMemory(
        peak_bytes=shaped(np.maximum(stage_peak, rest) * bpe),
        layerwise_peak_bytes=shaped(layerwise * bpe),
        patch_stage_peak_bytes=shaped(stage_peak * bpe),
        rest_peak_bytes=shaped(rest * bpe),
        macs=shaped(base_macs + extra),
        extra_macs=shaped(extra),
        input_patch_rows=shaped(in_rows),
        input_patch_cols=shaped(in_cols),
        split_output_shape=out_shape.astype(np.int64).reshape(shape + (3,)),
        grid=shaped(grid_arr),
    )


def _partition(size: np.ndarray, g: np.ndarray, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Row ranges [a, b) of ``g`` patches over ``size`` rows, shape (D, n_max); padded slots are empty."""
    k = np.arange(n_max)[None, :]
    a = k * size[:, None] // g[:, None]
    b = (k + 1) * size[:, None] // g[:, None]
    live = k < g[:, None]
    return np.where(live, a, 0), np.where(live, b, 0)


def _patch_stage(net: _Net, split: np.ndarray, g: np.ndarray, n_max: int):
    """Per-design patch-stage peak elements, stage MACs, largest input patch rows/cols.

    Walks the layers backwards from the deepest split (a Python loop over layers, vectorised
    over designs and patches). Row and col ranges are separable: patch (i, j) covers rows
    ``[ra[i], rb[i])`` x cols ``[ca[j], cb[j])``.
    """
    t = net.table
    D = split.size
    live = np.arange(n_max)[None, :] < g[:, None]  # (D, n_max)
    ra = np.zeros((D, n_max), dtype=np.int64)
    rb = np.zeros_like(ra)
    ca = np.zeros_like(ra)
    cb = np.zeros_like(ra)
    top = int(split.max())
    hin = {}  # layer -> (rows (D, n), cols (D, n)) of its input region
    hout = {}
    for l in range(top, -1, -1):
        starts = split == l
        if starts.any():
            a, b = _partition(net.H[l] + np.zeros(int(starts.sum()), dtype=np.int64), g[starts], n_max)
            ra[starts], rb[starts] = a, b
            a, b = _partition(net.W[l] + np.zeros(int(starts.sum()), dtype=np.int64), g[starts], n_max)
            ca[starts], cb[starts] = a, b
        act = (split >= l)[:, None] & live
        hout[l] = (np.where(act, rb - ra, 0), np.where(act, cb - ca, 0))
        s, p = int(t.stride[l]), int(t.padding[l])
        ra, rb = (np.where(act, np.maximum(0, ra * s - p), 0), np.where(act, np.minimum(int(t.Y[l]), (rb - 1) * s - p + int(t.R[l])), 0))
        ca, cb = (np.where(act, np.maximum(0, ca * s - p), 0), np.where(act, np.minimum(int(t.X[l]), (cb - 1) * s - p + int(t.S[l])), 0))
        hin[l] = (rb - ra, cb - ca)

    def region(rc, ch):  # (D, n, n) elements of a region with ch channels
        r, c = rc
        return ch * r[:, :, None] * c[:, None, :]

    src_region = {}  # residual source j -> (rows, cols, channels) of the region kept
    for j, i in net.edges:
        if i > top:
            continue
        src_region[j] = (hin[0], int(t.C[0])) if j < 0 else (hin[j + 1], int(t.K[j]))
    peak = np.zeros((D, n_max, n_max), dtype=np.int64)
    macs = np.zeros(D, dtype=np.int64)
    full_out = net.H[split] * net.W[split] * t.K[split]
    for l in range(top + 1):
        in_l = region(hin[l], int(t.C[l]))
        out_l = region(hout[l], int(t.K[l]))
        j = int(t.residual_from[l])
        if j != -1 and (-1 if j == RESIDUAL_FROM_INPUT else j) in src_region:
            rc, ch = src_region[-1 if j == RESIDUAL_FROM_INPUT else j]
            out_l = np.maximum(out_l, region(rc, ch))
        is_last = (split == l)[:, None, None]
        out_l = np.where(is_last, 0, out_l)  # layer L writes into the stage output buffer
        step = np.where(net.dw[l] & ~is_last, np.maximum(in_l, out_l), in_l + out_l)
        for js, i in net.edges:
            if js + 2 <= l < i and i <= top:
                rc, ch = src_region[js]
                step = step + region(rc, ch)
        active = (split >= l)[:, None, None]
        peak = np.maximum(peak, np.where(active, step + full_out[:, None, None], 0))
        per_px = int(t.K[l] * t.C[l] * t.R[l] * t.S[l] // t.groups[l])
        macs += np.where(split >= l, per_px * hout[l][0].sum(axis=1) * hout[l][1].sum(axis=1), 0)
    return peak.reshape(D, -1).max(axis=1), macs, hin[0][0].max(axis=1), hin[0][1].max(axis=1)


def receptive_field(table: LayerTable, split_layer: int, patch: int) -> int:
    """Unclipped input size (rows) that a ``patch``-row output patch of layer ``split_layer``
    depends on, by MCUNetV2's back-tracing: stride 1: ``g += R - 1``; stride s:
    ``g = s * (g - 1) + R``."""
    net = _net(table)
    if not 0 <= int(split_layer) < len(table):
        raise ValueError(f"split_layer={split_layer!r}; expected 0..{len(table) - 1}")
    if int(patch) < 1:
        raise ValueError(f"patch={patch!r}; expected a positive number of rows")
    g = int(patch)
    for l in range(int(split_layer), -1, -1):
        g = int(net.table.stride[l]) * (g - 1) + int(net.table.R[l])
    return g


def flash_bytes(table: LayerTable, bytes_per_weight: int = 1, bias_bytes: int = 4) -> int:
    """Flash for the weights of ``table``: every weight at ``bytes_per_weight`` (int8: 1) plus
    one bias of ``bias_bytes`` per output channel (int32 as in int8 TFLite / TinyEngine), bytes."""
    for name, value in (("bytes_per_weight", bytes_per_weight), ("bias_bytes", bias_bytes)):
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name}={value!r}; expected a non-negative integer")
    return int(table.weights.sum()) * int(bytes_per_weight) + int(table.K.sum()) * int(bias_bytes)
