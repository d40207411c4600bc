"""Extract a layer table from any ``torch.nn.Module`` (torch is imported lazily, only here).

:func:`trace` follows the zoo's rules (see :mod:`.zoo`):

* Rows: every ``nn.Conv2d`` and ``nn.Linear`` module call, and every matrix product of two
  tensors (``@``, ``torch.matmul``, ``torch.bmm``) found by ``torch.fx``, in execution order.
  Functional ``F.conv2d`` / ``F.linear`` calls are not rows (a warning names them); other
  parametric modules (``Conv1d``, ``ConvTranspose2d``, ``MultiheadAttention``, RNNs) are left
  out with a warning.
  Pooling, normalisation, activations, reshapes, concatenation and other ops are not rows.
* ``Conv2d``: ``K = out_channels``, ``C = in_channels``, ``Y, X`` the input's last two dims;
  ``groups == in == out`` is DSCONV, other ``groups > 1`` GROUPCONV. Stride, padding and
  kernel dilation must be representable: square stride and padding (``padding='same'``
  only when it is symmetric), dilation 1; otherwise a ValueError names the module. Non-square
  kernels are fine (``R != S``).
* ``Linear`` on an input of shape ``(B, d1, ..., dn, in)``: a GEMM with ``M = Y = d1*...*dn``
  (1 for a ``(B, in)`` input), ``C = in_features``, ``K = out_features``. Dim 0 is always
  the batch and is dropped: a table describes one sample.
* A matmul ``(B, g1.., M, Kr) @ (B, g1.., Kr, N)``: a grouped GEMM with ``groups = g1*...``
  (the dims between the batch dim and the last two), ``K = N*groups``, ``C = Kr*groups``,
  ``Y = M``.
* Residual edges (needs ``torch.fx.symbolic_trace`` to succeed): an ``add`` of two tensors of
  the output's shape whose inputs come, through single-input ops (BN, activations, pooling,
  dropout, reshapes, adds with constants), from two different layers, or from a layer and the
  graph input, is fused into the later layer, whose ``residual_from`` names the other
  (``RESIDUAL_FROM_INPUT`` = -2 for the graph input). An add whose inputs cannot be traced to
  single producers (e.g. after a ``cat`` of two layers, or a gating ``mul``) adds no edge.
  If fx cannot trace the module, a warning is issued and forward hooks collect the
  ``Conv2d`` / ``Linear`` rows without residual edges (and without matmul rows).
"""

from __future__ import annotations

import math
import operator
import warnings
from typing import Any, Sequence

from .layer_table import NO_RESIDUAL, RESIDUAL_FROM_INPUT, LayerTable
from .zoo import layer_type

class TraceError(ValueError):
    """A module's layer cannot be represented in a layer table (raised by :func:`trace`)."""


_INPUT = RESIDUAL_FROM_INPUT  # producer id of the graph input
_CONST = "const"  # producer of parameters / constants: not data
_UNKNOWN = None  # several producers mixed (cat, mul...): no edge through it


def _square(module_name: str, what: str, value: Any) -> int:
    if isinstance(value, (tuple, list)):
        if len(set(value)) != 1:
            raise TraceError(f"module {module_name!r}: non-square {what} {tuple(value)} cannot be represented "
                             f"in a layer table (one {what} for rows and cols)")
        value = value[0]
    return int(value)


def _conv_row(module_name: str, m: Any, in_shape: Sequence[int]) -> dict[str, object]:
    r, s = m.kernel_size
    if tuple(m.dilation) != (1, 1):
        raise TraceError(f"module {module_name!r}: kernel dilation {tuple(m.dilation)} cannot be represented "
                         f"in a layer table (dilation 1 only)")
    stride = _square(module_name, "stride", m.stride)
    padding = m.padding
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        else:  # 'same' (stride 1): total padding k-1 per axis, split left/right
            totals = (r - 1, s - 1)
            if any(t % 2 for t in totals) or totals[0] != totals[1]:
                raise TraceError(f"module {module_name!r}: padding='same' with kernel {(r, s)} is asymmetric or "
                                 f"non-square and cannot be represented in a layer table")
            padding = totals[0] // 2
    padding = _square(module_name, "padding", padding)
    if len(in_shape) < 3:
        raise TraceError(f"module {module_name!r}: Conv2d input of shape {tuple(in_shape)}; expected (N, C, H, W)")
    k, c, g = int(m.out_channels), int(m.in_channels), int(m.groups)
    return dict(name=module_name, type=layer_type(k, c, g), K=k, C=c, Y=int(in_shape[-2]), X=int(in_shape[-1]),
                R=int(r), S=int(s), stride=stride, padding=padding, groups=g, residual_from=NO_RESIDUAL)


def _linear_row(module_name: str, m: Any, in_shape: Sequence[int]) -> dict[str, object]:
    rows = math.prod(int(d) for d in in_shape[1:-1]) if len(in_shape) >= 2 else 1
    return dict(name=module_name, type=4, K=int(m.out_features), C=int(m.in_features), Y=rows, X=1, R=1, S=1,
                stride=1, padding=0, groups=1, residual_from=NO_RESIDUAL)


def _matmul_row(name: str, a: Sequence[int], b: Sequence[int]) -> dict[str, object]:
    a, b = list(a), list(b)
    if len(a) < 2 or len(b) < 2:
        raise TraceError(f"{name!r}: matmul of shapes {tuple(a)} @ {tuple(b)}; only products of two matrices "
                         f"(or batches of them) become layer rows")
    m, kr, n = a[-2], a[-1], b[-1]
    batch = [max(x, y) for x, y in zip([1] * (len(b) - len(a)) + a[:-2], [1] * (len(a) - len(b)) + b[:-2])]
    groups = math.prod(batch[1:]) if batch else 1
    return dict(name=name, type=4, K=int(n * groups), C=int(kr * groups), Y=int(m), X=1, R=1, S=1,
                stride=1, padding=0, groups=int(groups), residual_from=NO_RESIDUAL)


def _example_input(torch: Any, module: Any, input_shape: Any) -> Any:
    if isinstance(input_shape, torch.Tensor):
        return input_shape
    shape = tuple(int(d) for d in input_shape)
    if not shape or any(d <= 0 for d in shape):
        raise TraceError(f"input_shape {input_shape!r}; expected positive dims including the batch, e.g. (1, 3, 224, 224)")
    p = next(module.parameters(), None)
    return torch.zeros(shape, dtype=p.dtype if p is not None and p.is_floating_point() else torch.float32,
                       device=p.device if p is not None else "cpu")


def _unique_names(rows: list[dict[str, object]]) -> None:
    seen: dict[str, int] = {}
    for row in rows:
        n = str(row["name"])
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            row["name"] = f"{n}#{seen[n]}"


def _warn_unsupported(torch: Any, name: str, m: Any) -> None:
    nn = torch.nn
    kinds = (nn.Conv1d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d,
             nn.MultiheadAttention, nn.RNNBase, nn.Bilinear)
    if isinstance(m, kinds):
        warnings.warn(f"trace: module {name!r} ({type(m).__name__}) is not a Conv2d / Linear and is left out "
                      f"of the layer table", stacklevel=4)


# ------------------------------------------------------------------------------- hooks
def _trace_hooks(torch: Any, module: Any, x: Any) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    errors: list[Exception] = []
    handles = []

    def make_hook(name: str):
        def hook(m, args, out):
            try:
                shape = tuple(args[0].shape)
                if isinstance(m, torch.nn.Conv2d):
                    rows.append(_conv_row(name, m, shape))
                elif isinstance(m, torch.nn.Linear):
                    rows.append(_linear_row(name, m, shape))
                else:
                    _warn_unsupported(torch, name, m)
            except Exception as err:  # raised after the forward, not inside torch
                errors.append(err)
        return hook

    for name, m in module.named_modules():
        handles.append(m.register_forward_hook(make_hook(name or type(m).__name__)))
    try:
        module(x)
    finally:
        for h in handles:
            h.remove()
    if errors:
        raise errors[0]
    return rows


# ------------------------------------------------------------------------------- fx
_ADD_TARGETS = {operator.add, operator.iadd}
_MATMUL_TARGETS = {operator.matmul}


def _trace_fx(torch: Any, module: Any, x: Any) -> list[dict[str, object]]:
    from torch.fx import Node, symbolic_trace
    from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

    add_targets = _ADD_TARGETS | {torch.add}
    matmul_targets = _MATMUL_TARGETS | {torch.matmul, torch.bmm}
    F = torch.nn.functional
    functional_layers = {F.conv1d, F.conv2d, F.conv3d, F.linear, F.conv_transpose1d, F.conv_transpose2d}

    gm = symbolic_trace(module)
    ShapeProp(gm).propagate(x)
    mods = dict(gm.named_modules())

    def shape(n: Any) -> tuple[int, ...] | None:
        meta = n.meta.get("tensor_meta") if isinstance(n, Node) else None
        return tuple(int(d) for d in meta.shape) if isinstance(meta, TensorMetadata) else None

    def data_inputs(n: Node) -> list[Node]:
        out: list[Node] = []
        torch.fx.node.map_arg((n.args, n.kwargs), lambda a: out.append(a) if shape(a) is not None else None)
        return out

    rows: list[dict[str, object]] = []
    producer: dict[Node, Any] = {}
    for n in gm.graph.nodes:
        if n.op == "placeholder":
            producer[n] = _INPUT
            continue
        if n.op == "get_attr":
            producer[n] = _CONST
            continue
        ins = data_inputs(n)
        sources = [producer.get(a, _UNKNOWN) for a in ins]
        data_sources = [p for p in sources if p is not _CONST]
        row = None
        if n.op == "call_module":
            m = mods[n.target]
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                in_shape = shape(n.args[0])
                row = (_conv_row if isinstance(m, torch.nn.Conv2d) else _linear_row)(str(n.target), m, in_shape)
            else:
                _warn_unsupported(torch, str(n.target), m)
        elif ((n.op == "call_function" and n.target in matmul_targets)
              or (n.op == "call_method" and n.target in ("matmul", "bmm", "__matmul__"))):
            a, b = n.args[0], n.args[1]
            if shape(a) is not None and shape(b) is not None:
                if len(shape(a)) < 2 or len(shape(b)) < 2:
                    warnings.warn(f"trace: matmul {n.name!r} of shapes {shape(a)} @ {shape(b)} is a vector product "
                                  f"and is left out of the layer table", stacklevel=3)
                else:
                    row = _matmul_row(n.name, shape(a), shape(b))
        elif n.op == "call_function" and n.target in functional_layers:
            warnings.warn(f"trace: functional call {n.name!r} ({n.target.__name__}) is not an nn.Conv2d / nn.Linear "
                          f"module and is left out of the layer table", stacklevel=3)
        if row is not None:
            rows.append(row)
            producer[n] = len(rows) - 1
            continue
        is_add = (n.op == "call_function" and n.target in add_targets) or (
            n.op == "call_method" and n.target in ("add", "add_", "__add__", "__iadd__"))
        if is_add and len(ins) == 2 and len(data_sources) == 2 and shape(n) is not None \
                and shape(ins[0]) == shape(ins[1]) == shape(n):
            p, q = data_sources
            if p is _UNKNOWN or q is _UNKNOWN or p == q:
                producer[n] = p if p == q else _UNKNOWN
                continue
            later, other = (p, q) if p > q else (q, p)  # the graph input (-2) is earliest
            if later == _INPUT:
                producer[n] = _INPUT
                continue
            current = rows[later]["residual_from"]
            if current not in (NO_RESIDUAL, other):
                warnings.warn(f"trace: layer {rows[later]['name']!r} already has a residual edge from layer "
                              f"{current}; the add {n.name!r} from {other} is left out", stacklevel=3)
            else:
                rows[later]["residual_from"] = other
            producer[n] = later
            continue
        distinct = set(data_sources)  # layer indices, _INPUT or _UNKNOWN (None)
        if not ins or (sources and not data_sources):
            producer[n] = _CONST
        elif len(distinct) == 1:
            producer[n] = data_sources[0]
        else:
            producer[n] = _UNKNOWN
    return rows


# ------------------------------------------------------------------------------- public
def trace(module: Any, input_shape: "Sequence[int] | Any", name: str | None = None) -> LayerTable:
    """Run ``module`` once on zeros of ``input_shape`` and return its layer table.

    Args:
        module: any ``torch.nn.Module`` taking one tensor.
        input_shape: the input's full shape INCLUDING the batch dim, e.g. ``(1, 3, 224, 224)``;
            or an example input tensor. The table describes one sample whatever the batch.
        name: the table's name; defaults to the module's class name.

    Returns:
        A :class:`LayerTable` with rows named by module path (``layer1.0.conv1``; a module
        called again gets ``#2``, ...) or fx node name for matmuls.

    Raises:
        ValueError: a layer that the table cannot represent (non-square stride or padding,
            dilation != 1), naming the module; or a module without any Conv2d / Linear call.

    The module is run under ``torch.no_grad()`` in eval mode; its training flags are restored.
    Falls back to forward hooks, with a warning, when ``torch.fx`` cannot trace the module.
    """
    import torch

    x = _example_input(torch, module, input_shape)
    name = name or type(module).__name__
    flags = {m: m.training for m in module.modules()}
    module.eval()
    try:
        with torch.no_grad():
            try:
                if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):  # one layer: nothing to link
                    rows = _trace_hooks(torch, module, x)
                else:
                    rows = _trace_fx(torch, module, x)
            except TraceError:
                raise
            except Exception as err:  # fx cannot trace data-dependent control flow etc.
                warnings.warn(f"trace: torch.fx could not trace {name!r} ({type(err).__name__}: {err}); "
                              f"falling back to forward hooks: no residual edges and no matmul rows", stacklevel=2)
                rows = _trace_hooks(torch, module, x)
    finally:
        for m, t in flags.items():
            m.train(t)
    if not rows:
        raise ValueError(f"module {name!r} has no Conv2d / Linear / matmul layers to trace")
    _unique_names(rows)
    return LayerTable.from_rows(name, rows)
