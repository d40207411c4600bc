"""``evaluate``: the vectorized MAESTRO-semantics dataflow cost model.

Layers and designs broadcast against each other (e.g. layers of shape ``(L, 1)`` and designs of
shape ``(1, D)`` give ``(L, D)`` results); the batch is flattened, split into chunks of at most
``chunk_size`` points (bounded memory) and, inside each chunk, into the layer kinds the model
analyses differently (a handful of groups, never a loop over points). Each group runs the compiled
plans of :mod:`.plan` (cached per dataflow and layer kind; the first call of a dataflow compiles
them, ~0.1-2 s), which run on cache-sized slices of the chunk.

Layer conventions are the package's (see ``codesign_gym.costmodels.workloads.layer_table``):
``Y, X`` are unpadded input rows/cols, ``padding`` is per side, depthwise layers have
``K == C == groups``, a GEMM is a 1x1 conv (``K=N, C=reduction, Y=M``). Conversions to MAESTRO:

* padding: MAESTRO has none, so the layer is analysed with input ``Y+2p, X+2p``;
* DSCONV: analysed with MAESTRO's ``K=1, C=channels`` and a depthwise template (MAESTRO's for
  kcp / yrp / xp / ykp, ConfuciuX's for cfx_*);
* GROUPCONV (or any CONV/GEMM with ``groups > 1``): **convention** -- ``groups`` independent
  convolutions of ``K/g x C/g`` run one after another on the same array: runtime, MACs and every
  access count are ``g`` times one group's; required L1/L2 sizes and NoC bandwidth are one group's.

Units: cycles, elements (access counts), bytes (1 byte per element, as MAESTRO), elements/cycle.
"""

from __future__ import annotations

import math
import sys
from typing import Any, Mapping, NamedTuple

import numpy as np

from . import energy as _energy
from . import hardware as _hw
from ._xp import EXACT, namespace
from .plan import run_plans
from .directives import Sz
from .templates import TEMPLATES, depthwise_for, resolve_dataflow

#: Layer-type codes (same values as ``codesign_gym.costmodels.workloads.LayerType``).
CONV, DSCONV, GROUPCONV, GEMM = 1, 2, 3, 4
_TYPE_NAMES = {"CONV": CONV, "DSCONV": DSCONV, "DEPTHWISE": DSCONV, "DWCONV": DSCONV, "GROUPCONV": GROUPCONV,
               "GEMM": GEMM, "FC": GEMM, "LINEAR": GEMM}
LAYER_FIELDS = ("type", "K", "C", "Y", "X", "R", "S", "stride", "padding", "groups")
#: Default number of points per chunk (about 0.5 GB peak working memory on numpy).
DEFAULT_CHUNK = 131_072

COUNT_FIELDS = tuple(f"{t}_{lv}_{a}" for t in ("input", "filter", "output") for lv in ("l1", "l2") for a in ("read", "write"))


class DataflowResult(NamedTuple):
    """Results of :func:`evaluate`; every field has the broadcast batch shape.

    Integer fields are int64; ``noc_bw_avg``, energies, area and power are float64.
    """

    runtime_cycles: Any  #: cycles (MAESTRO ``Runtime (Cycles)``)
    macs: Any  #: MACs the mapping performs (MAESTRO ``Num MACs``; may exceed the ideal)
    macs_ideal: Any  #: K*C*Y'*X'*R*S/groups with the padded, strided output size
    input_l1_read: Any
    input_l1_write: Any
    input_l2_read: Any
    input_l2_write: Any
    filter_l1_read: Any
    filter_l1_write: Any
    filter_l2_read: Any
    filter_l2_write: Any
    output_l1_read: Any
    output_l1_write: Any
    output_l2_read: Any
    output_l2_write: Any
    l1_bytes_required: Any  #: per-PE L1 (bytes, double-buffered) -- MAESTRO ``L1 SRAM Size Req``
    l2_bytes_required: Any  #: shared L2 (bytes, double-buffered) -- MAESTRO ``L2 SRAM Size Req``
    noc_bw_peak: Any  #: elements/cycle (MAESTRO ``Peak BW Req``), int64
    noc_bw_avg: Any  #: elements/cycle (MAESTRO ``Avg BW Req``), float64
    energy_mac_units: Any  #: MAESTRO ``screen_total_energy_macunits``
    energy_pj: Any  #: pJ (one MAC = 0.23 pJ)
    area: Any  #: MAESTRO's area units
    power: Any  #: MAESTRO's power units

    def as_dict(self) -> dict:
        return dict(zip(self._fields, self))


#: int64's range: a count at or beyond it cannot be represented.
INT64_MAX = np.iinfo(np.int64).max
#: Points whose float64 count bound (see :func:`_count_bound`) reaches this are priced exactly
#: (Python ints) and checked against :data:`INT64_MAX`; the others cannot overflow int64.
SAFE_BOUND = float(2 ** 61)


class CountOverflowError(ValueError):
    """A count of one evaluation point does not fit in int64.

    ``index``: the point's flat index in the broadcast batch; ``quantity``: the result field;
    ``value``: its exact value (a Python int).
    """

    def __init__(self, index: int, quantity: str, value: int, point: str = ""):
        self.index, self.quantity, self.value = index, quantity, value
        super().__init__(f"{quantity}={value} at flat index {index}{point} does not fit in int64 (at most {INT64_MAX}); "
                         f"expected a layer and hardware point whose counts are below 2^63")


def _integral(x, what: str):
    """``x`` unchanged if it holds only whole numbers within int64's range (ints, or whole floats);
    else ValueError quoting the first bad value. Bools and strings are refused, not coerced
    (``num_pes=True`` or ``"16"`` is a caller's mistake; silently truncating 64.9 to 64 would price
    another design; a value beyond int64 would wrap)."""
    if hasattr(x, "is_floating_point"):  # torch tensor
        if x.dtype == getattr(sys.modules.get("torch"), "bool", None):
            raise ValueError(f"{what} is a bool tensor; expected integers")
        if not x.is_floating_point():
            return x
        bad = ~(x.isfinite() & (x == x.round()) & (x.abs() < 2.0 ** 63))
        if bool(bad.any()):
            raise ValueError(f"{what}={x[bad].flatten()[0].item()!r} is not a whole number within int64; expected an integer")
        return x
    if isinstance(x, (bool, np.bool_, str, bytes)):
        raise ValueError(f"{what}={x!r} is a {type(x).__name__}; expected an integer")
    arr = np.asarray(x)
    if arr.dtype.kind == "b" or arr.dtype.kind in "USV":
        raise ValueError(f"{what}={arr.reshape(-1)[0].item()!r} has dtype {arr.dtype}; expected integers")
    if arr.dtype.kind == "O":
        flat = arr.reshape(-1)
        for v in flat.tolist():
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ValueError(f"{what}={v!r} is a {type(v).__name__}; expected an integer")
            whole = not isinstance(v, (float, np.floating)) or (math.isfinite(v) and v == int(v))
            if not (whole and -INT64_MAX - 1 <= int(v) <= INT64_MAX):
                raise ValueError(f"{what}={v!r} is not a whole number within int64 (|x| < 2^63); expected an integer")
        return np.array([int(v) for v in flat.tolist()], dtype=np.int64).reshape(arr.shape)
    if arr.dtype.kind == "f":
        bad = ~(np.isfinite(arr) & (arr == np.round(arr)) & (np.abs(arr) < 2.0 ** 63))
        if bad.any():
            raise ValueError(f"{what}={arr[bad].ravel()[0].item()!r} is not a whole number within int64; expected an integer")
    elif arr.dtype.kind == "u" and arr.size and int(arr.max()) > INT64_MAX:
        raise ValueError(f"{what}={int(arr.max())} does not fit in int64; expected an integer below 2^63")
    return x


def _type_codes(t) -> np.ndarray:
    """Layer-type codes from names / LayerType / ints (numpy int64; vectorized over unique values)."""
    a = np.asarray(t.cpu().numpy() if hasattr(t, "cpu") else t)
    if a.dtype.kind == "b":
        raise ValueError(f"layer field 'type' has bool value {a.reshape(-1)[0].item()!r}; expected a code in 1..4 or a name")
    if a.dtype.kind in "iu":
        codes = a.astype(np.int64)
        bad = ~np.isin(codes, (CONV, DSCONV, GROUPCONV, GEMM))
        if bad.any():
            raise ValueError(f"layer field 'type' has value {int(codes[bad].reshape(-1)[0])}; expected a code in 1..4 or a name")
        return codes
    uniq, inv = np.unique(a.astype(object).reshape(-1), return_inverse=True)
    lut = np.empty(len(uniq), dtype=np.int64)
    for i, v in enumerate(uniq.tolist()):
        if isinstance(v, str):
            key = v.strip().upper()
            if key not in _TYPE_NAMES:
                raise ValueError(f"layer field 'type' has value {v!r}; expected one of CONV, DSCONV, GROUPCONV, GEMM (or FC)")
            lut[i] = _TYPE_NAMES[key]
        else:
            if isinstance(v, bool):
                raise ValueError(f"layer field 'type' has bool value {v!r}; expected a code in 1..4 or a name")
            code = int(v)
            if code not in (CONV, DSCONV, GROUPCONV, GEMM):
                raise ValueError(f"layer field 'type' has value {v!r}; expected a code in 1..4 or a name")
            lut[i] = code
    return lut[inv].reshape(a.shape)


def _layer_columns(layers) -> dict:
    if isinstance(layers, Mapping):
        cols = dict(layers)
    elif hasattr(layers, "K") and hasattr(layers, "type"):  # a LayerTable
        cols = {f: getattr(layers, f) for f in LAYER_FIELDS}
    else:
        raise ValueError(f"layers must be a LayerTable or a mapping of arrays with keys {LAYER_FIELDS}; got {type(layers).__name__}")
    missing = [k for k in ("type", "K", "C", "Y", "X", "R", "S") if k not in cols]
    if missing:
        raise ValueError(f"layers lack field(s) {missing}; expected {list(LAYER_FIELDS)}")
    unknown = sorted(set(cols) - set(LAYER_FIELDS) - {"name", "residual_from"})
    if unknown:
        raise ValueError(f"layers have unknown field(s) {unknown}; expected {list(LAYER_FIELDS)}")
    cols.setdefault("stride", 1)
    cols.setdefault("padding", 0)
    cols.setdefault("groups", 1)
    return cols


def _first_bad(xp, mask, arr):
    """(flat index, value) of the first True in ``mask``."""
    m = np.asarray(xp.to_numpy(mask)).reshape(-1)
    i = int(np.flatnonzero(m)[0])
    v = np.asarray(xp.to_numpy(arr)).reshape(-1)
    return i, int(v[i] if v.size > 1 else v[0])


def _check(xp, cond, arr, field, expected):
    bad = ~cond
    if xp.any(bad):
        i, v = _first_bad(xp, xp.broadcast(bad, arr)[0], xp.broadcast(bad, arr)[1])
        raise ValueError(f"{field}={v} at flat index {i}; expected {expected}")


def evaluate(layers, hardware: _hw.Hardware, dataflow, *, chunk_size: int | None = DEFAULT_CHUNK) -> DataflowResult:
    """Evaluate ``dataflow`` for every (layer, design) point of the broadcast batch.

    ``layers``: a ``LayerTable`` or a mapping of broadcastable arrays with keys ``type, K, C, Y, X,
    R, S`` and optionally ``stride`` (1), ``padding`` (0), ``groups`` (1). ``hardware``: a
    :class:`~.hardware.Hardware`. ``dataflow``: a template name (``kcp``, ``yrp``, ``xp``, ``ykp``,
    ``cfx_dla``, ``cfx_shi``, ``cfx_eye``; aliases ``dla``, ``shi``, ``eye``), MAESTRO directive text,
    or a sequence of :class:`~.directives.Directive`. A custom dataflow is used as given for every
    layer type (depthwise layers get no automatic template swap). Arrays may be numpy arrays or
    torch tensors (CPU or CUDA); results come back in the same library, int64 / float64.

    ``chunk_size`` bounds the number of points analysed at once (``None``: all at once).
    Raises ValueError naming the field and value for invalid input (bools, strings, non-whole
    floats and values beyond int64 are refused, not coerced).

    Overflow: every count is exact in int64 or refused. A cheap float64 bound
    (:func:`_count_bound`, ~1-4% of the evaluation time) clears the usual points; the few beyond
    :data:`SAFE_BOUND` are priced exactly with Python ints (the eager analysis), and a count that
    does not fit int64 raises :class:`CountOverflowError` naming the point and the quantity.
    """
    key, directives = resolve_dataflow(dataflow)
    is_template = key in TEMPLATES
    cols = _layer_columns(layers)
    hw = {f: getattr(hardware, f) for f in _hw.Hardware.FIELDS}
    xp = namespace(*cols.values(), *hw.values())
    types = _type_codes(cols["type"])
    vals = {"type": xp.asint(types)}
    for f in LAYER_FIELDS[1:]:
        vals[f] = xp.asint(_integral(cols[f], f"layer field {f!r}"))
    for f in _hw.Hardware.FIELDS:
        vals[f] = xp.asint(_integral(hw[f], f"hardware field {f!r}"))
    names = list(vals)
    try:
        arrays = xp.broadcast(*[vals[k] for k in names])
    except (ValueError, RuntimeError) as exc:
        shapes = {k: tuple(vals[k].shape) for k in names}
        raise ValueError(f"layer and hardware arrays do not broadcast: {shapes}") from exc
    shape = tuple(arrays[0].shape)
    v = {k: xp.ascontiguous(xp.reshape(a, (-1,))) for k, a in zip(names, arrays)}
    # ------------------------------------------------------------ validation
    for f in ("K", "C", "Y", "X", "R", "S", "stride", "groups"):
        _check(xp, v[f] > 0, v[f], f"layer field {f!r}", "> 0")
    _check(xp, v["padding"] >= 0, v["padding"], "layer field 'padding'", ">= 0")
    for dim, filt in (("Y", "R"), ("X", "S")):
        # filt > dim + 2*padding, without forming dim + 2*padding (it may not fit int64)
        too_big = (v[filt] > v[dim]) & ((v[filt] - v[dim] - 1) // 2 >= v["padding"])
        if xp.any(too_big):
            i, val = _first_bad(xp, too_big, v[filt])
            padded = _first_bad(xp, too_big, v[dim])[1] + 2 * _first_bad(xp, too_big, v["padding"])[1]
            raise ValueError(f"layer field {filt!r}={val} at flat index {i} is larger than the padded input "
                             f"{dim}+2*padding={padded}; expected {filt} <= {dim}+2*padding")
    _check(xp, v["num_pes"] >= 1, v["num_pes"], "hardware field 'num_pes'", ">= 1")
    for f in ("ktile", "noc_bw", "offchip_bw"):
        _check(xp, v[f] >= 1, v[f], f"hardware field {f!r}", ">= 1")
    _check(xp, v["noc_latency"] >= 0, v["noc_latency"], "hardware field 'noc_latency'", ">= 0")
    dw = v["type"] == DSCONV
    grouped = (~dw) & (v["groups"] > 1)
    if xp.any(grouped):
        bad = grouped & (((v["K"] % v["groups"]) != 0) | ((v["C"] % v["groups"]) != 0))
        if xp.any(bad):
            i, g = _first_bad(xp, bad, v["groups"])
            raise ValueError(f"layer field 'groups'={g} at flat index {i} must divide K and C")
    # ------------------------------------------------------------ analysis in chunks
    dirsets = (directives, TEMPLATES[depthwise_for(key)]) if is_template else (directives,)
    risky = np.asarray(xp.to_numpy(_count_bound(xp, v, dirsets) >= SAFE_BOUND))
    if not risky.any():
        flat = _evaluate_chunks(xp, v, key, directives, is_template, chunk_size)
    else:
        flat = _evaluate_split(xp, v, risky, key, directives, is_template, chunk_size)
    return DataflowResult(**{k: xp.reshape(flat[k], shape) for k in DataflowResult._fields})


def _evaluate_chunks(xp, v: dict, key: str, directives, is_template: bool, chunk_size) -> dict:
    """:func:`_evaluate_flat` on chunks of at most ``chunk_size`` points, concatenated."""
    n = int(v["K"].shape[0])
    chunk = n if not chunk_size else max(1, int(chunk_size))
    outs: dict = {}
    for start in range(0, max(n, 1), chunk):
        sl = slice(start, min(n, start + chunk))
        part = {k: a[sl] for k, a in v.items()}
        res = _evaluate_flat(xp, part, key, directives, is_template)
        for k, a in res.items():
            outs.setdefault(k, []).append(a)
    return {k: (xp.concat(a) if len(a) > 1 else a[0]) for k, a in outs.items()}


def _size_bound(size, f: dict, P, ktile):
    """float64 upper bound of a directive size or offset (elements); ``f``: the dims' bounds."""
    if isinstance(size, int):
        return float(size)
    if isinstance(size, Sz):
        return f[size.dim.rstrip("'")]
    return {"KTileSz": ktile, "ClusterSz": P}.get(size, 1.0)


def _count_bound(xp, v: dict, dirsets) -> Any:
    """Per point, a float64 upper bound (with a factor-4 margin) of every integer quantity the
    int64 analysis forms: ``prod_d max(dim_d, tile sizes of d) * R * S * (P + 1) * (lat + 2)``
    over the six loop dimensions (padded ``Y``/``X``; ``K``, ``C`` whole, covering groups), plus
    the NoC and off-chip bandwidths (``d + bw - 1`` is formed). A point below :data:`SAFE_BOUND`
    cannot overflow int64; the others are priced exactly (checked empirically in
    tests/reliability/test_overflow.py against the exact counts)."""
    F = xp.asfloat
    pad2 = 2.0 * F(v["padding"])
    f = {"K": F(v["K"]), "C": F(v["C"]), "R": F(v["R"]), "S": F(v["S"]), "Y": F(v["Y"]) + pad2, "X": F(v["X"]) + pad2}
    P, ktile = F(v["num_pes"]), F(v["ktile"])
    tiles = dict(f)
    for dirs in dirsets:
        for d in dirs:
            if d.kind == "cluster":
                continue
            dim = d.dim.rstrip("'")
            for size in (d.size, d.offset):
                tiles[dim] = xp.maximum(tiles[dim], _size_bound(size, f, P, ktile))
    bound = 4.0 * f["R"] * f["S"] * (P + 1.0) * (F(v["noc_latency"]) + 2.0)
    for dim in ("K", "C", "R", "S", "Y", "X"):
        bound = bound * tiles[dim]
    return bound + F(v["noc_bw"]) + F(v["offchip_bw"])


def _evaluate_split(xp, v: dict, risky, key: str, directives, is_template: bool, chunk_size) -> dict:
    """The points flagged ``risky`` priced exactly (Python ints, :data:`~._xp.EXACT`), the others as
    usual; raises :class:`CountOverflowError` for the first point with a count beyond int64."""
    n = int(v["K"].shape[0])
    safe_idx = np.flatnonzero(~risky)
    risky_idx = np.flatnonzero(risky)
    ix = (lambda i: i) if xp.name == "numpy" else (lambda i: xp.asint(i))
    exact_in = {k: EXACT.asint(xp.to_numpy(a)) for k, a in v.items()}
    exact = _evaluate_flat(EXACT, {k: a[risky_idx] for k, a in exact_in.items()}, key, directives, is_template)
    for field in DataflowResult._fields:
        a = exact[field]
        if a.dtype != object:
            continue
        big = [j for j, x in enumerate(a.tolist()) if not -INT64_MAX - 1 <= x <= INT64_MAX]
        if big:
            i = int(risky_idx[big[0]])
            point = ", ".join(f"{k}={int(exact_in[k][i])}" for k in LAYER_FIELDS[1:] + _hw.Hardware.FIELDS)
            raise CountOverflowError(i, field, int(a[big[0]]), f" ({point})")
    out = {}
    safe = _evaluate_chunks(xp, {k: a[ix(safe_idx)] for k, a in v.items()}, key, directives, is_template,
                            chunk_size) if safe_idx.size else None
    for k, a in exact.items():
        kind = "int64" if a.dtype == object else "float64"
        full = xp.zeros(n, dtype=kind)
        full[ix(risky_idx)] = xp.asint(a.astype(np.int64)) if kind == "int64" else xp.asfloat(a)
        if safe is not None:
            full[ix(safe_idx)] = safe[k]
        out[k] = full
    return out


def _evaluate_flat(xp, v: dict, key: str, directives, is_template: bool) -> dict:
    n = int(v["K"].shape[0])
    dw = v["type"] == DSCONV
    groups = xp.where(dw, 1, v["groups"])
    Yp = v["Y"] + 2 * v["padding"]
    Xp = v["X"] + 2 * v["padding"]
    Yo = (Yp - v["R"]) // v["stride"] + 1
    Xo = (Xp - v["S"]) // v["stride"] + 1
    ideal = v["K"] * v["C"] * Yo * Xo * v["R"] * v["S"] // v["groups"]
    out = {f: xp.zeros(n) for f in ("runtime", "macs", "l1_bytes", "l2_bytes", "peak_bw") + COUNT_FIELDS}
    out["avg_bw"] = xp.zeros(n, dtype="float64")
    kinds = (("CONV", ~dw), ("DSCONV", dw))
    for kind, mask in kinds:
        if not xp.any(mask):
            continue
        allm = xp.all(mask)
        sel = (lambda a: a) if allm else (lambda a: a[mask])
        if kind == "DSCONV":
            Cq = sel(v["C"])
            Kq = Cq * 0 + 1  # MAESTRO's depthwise convention: K = 1, C = channels
        else:
            g = sel(groups)
            Kq, Cq = sel(v["K"]) // g, sel(v["C"]) // g
        dirs = directives
        if is_template and kind == "DSCONV":
            dirs = TEMPLATES[depthwise_for(key)]
        R, S = sel(v["R"]), sel(v["S"])
        inputs = {"K": Kq, "C": Cq, "R": R, "S": S, "Yo": sel(Yp) - R + 1, "Xo": sel(Xp) - S + 1,
                  "stride": sel(v["stride"]), "P": sel(v["num_pes"]), "ktile": sel(v["ktile"]),
                  "bw": sel(v["noc_bw"]), "lat": sel(v["noc_latency"]), "offchip": sel(v["offchip_bw"])}
        r = run_plans(xp, tuple(dirs), kind, inputs)
        mult = 1 if kind == "DSCONV" else sel(groups)
        vals = {
            "runtime": r["runtime"] * mult,
            "macs": r["macs"] * mult,
            "l1_bytes": r["l1_bytes"],
            "l2_bytes": r["l2_bytes"],
            "peak_bw": r["peak_bw"],
            "avg_bw": r["avg_bw"],
        }
        for f in COUNT_FIELDS:
            vals[f] = r[f] * mult
        m = Kq.shape[0] if hasattr(Kq, "shape") else n
        for k, a in vals.items():
            a = a + (xp.zeros(m, dtype="float64") if k == "avg_bw" else xp.zeros(m))
            if allm:
                out[k] = a
            else:
                out[k][mask] = a
    # summed in float64: six counts that each fit int64 may not sum within it
    l1_acc = sum(xp.asfloat(out[f]) for f in COUNT_FIELDS if "_l1_" in f)
    l2_acc = sum(xp.asfloat(out[f]) for f in COUNT_FIELDS if "_l2_" in f)
    e_units = _energy.energy_mac_units(xp, out["macs"], l1_acc, l2_acc)
    res = {
        "runtime_cycles": out["runtime"],
        "macs": out["macs"],
        "macs_ideal": ideal,
        "l1_bytes_required": out["l1_bytes"],
        "l2_bytes_required": out["l2_bytes"],
        "noc_bw_peak": out["peak_bw"],
        "noc_bw_avg": out["avg_bw"],
        "energy_mac_units": e_units,
        "energy_pj": _energy.energy_pj(e_units),
        "area": _hw.area(xp, v["num_pes"], out["l1_bytes"], out["l2_bytes"], v["noc_bw"]),
        "power": _hw.power(xp, v["num_pes"], out["l1_bytes"], out["l2_bytes"], v["noc_bw"]),
    }
    for f in COUNT_FIELDS:
        res[f] = out[f]
    return res


def evaluate_chunked(layers, hardware: _hw.Hardware, dataflow, chunk_size: int = DEFAULT_CHUNK) -> DataflowResult:
    """Same as :func:`evaluate` with an explicit chunk size (points analysed at once)."""
    return evaluate(layers, hardware, dataflow, chunk_size=chunk_size)
