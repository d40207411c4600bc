"""NAS-Bench-201: the 15,625 cells, their real test accuracies, and each cell's exact network.

Data: ``data/nasbench201/nb201_test_accuracy.csv.gz`` (NATS-Bench, MIT; see ``SOURCE.md``
beside it): index, cell string and test accuracy (%) after 200 epochs on CIFAR-10, CIFAR-100
and ImageNet16-120. **Only test accuracy ships**: a search that selects on it selects on the
test set (test data leaks into the search); report results from it as such.

Cell strings. ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``: node ``j`` (1, 2, 3) is the sum of
``op(node i)`` over ``i < j``; node 0 is the cell input, node 3 its output. The six edges, in
string order, are :data:`EDGES` ``(1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2)``; each has
one of :data:`OPS` (NAS-Bench-201's order; the integer op codes index it).

The network (NAS-Bench-201's ``TinyNetwork(C=16, N=5)``, github D-X-Y/AutoDL-Projects
``lib/models/cell_infers/tiny_network.py``, ``cells.py``, ``lib/models/cell_operations.py``),
one layer-table row per ``Conv2d`` / ``Linear`` in forward order (the zoo's rules,
:mod:`.zoo`):

* ``stem.conv``: 3x3 conv 3 -> 16, stride 1, padding 1 (then BN; no ReLU).
* Stage 1, 2, 3 at 16, 32, 64 channels, 5 identical cells each; maps 32x32, 16x16, 8x8 for
  CIFAR (input 32x32) and 16x16, 8x8, 4x4 for ImageNet16-120 (input 16x16). Cell rows are
  named ``stage{s}.cell{c}.edge{j}<-{i}.{op}``.
* Before stages 2 and 3, a residual reduction block (``ResNetBasicblock(C_in, 2*C_in, 2)``,
  NB201's ``cells.5`` and ``cells.11``): ``reduction{s}.conv_a`` ReLU-conv 3x3 stride 2
  padding 1 -BN, ``reduction{s}.conv_b`` ReLU-conv 3x3 stride 1 padding 1 -BN, and the shortcut
  ``reduction{s}.downsample``: a 2x2 stride-2 average pool (not a row) then a 1x1 conv
  ``C_in -> 2*C_in`` (no BN). The add is fused into the downsample row (run last), whose
  ``residual_from`` is ``conv_b``, as for torchvision ResNet's downsample in the zoo.
* BN + ReLU, global average pool (not rows), ``classifier``: Linear 64 -> 10 / 100 / 120 as a
  GEMM row with ``M = 1``.

Edge ops: ``nor_conv_kxk`` is ReLU - Conv(k x k, stride 1, padding (k-1)/2, C -> C, no bias) -
BN: one CONV row. ``skip_connect`` (identity), ``none`` (zero) and ``avg_pool_3x3`` (3x3
average pool, stride 1, padding 1, ``count_include_pad=False``; no 1x1 preprocess since
``C_in == C_out`` inside a cell) are not rows: no MACs.

NAS-Bench-201's ``InferCell.forward`` runs **every** edge, node by node, whether or not its
result reaches node 3 (a conv on a node that only feeds ``none`` edges is still computed, and a
conv on an all-``none`` node convolves zeros). The tables follow it: every ``nor_conv`` edge is a
row. That is also what NAS-Bench-201's FLOPs count (forward hooks on every executed conv), and
:func:`nb201_cost` reproduces its published numbers exactly (tests/costmodels/test_nb201.py).

Residual edges in cells. A node that sums exactly two non-``none`` terms, both produced by
rows, is recorded as the ``residual_from`` of the later of the two rows when that row's output
feeds nothing else (a conv edge into the node, or the conv of a node that only this
``skip_connect`` reads) and it has no edge yet; ``residual_from`` names the other term's row (an
``avg_pool_3x3`` term names the row before the pool: pooling passes residual edges, as in the
zoo). Sums of three terms, or whose later term is pooled or also read elsewhere, cannot be
written as one fused add and get no edge. The ResNet cell (index 11472: conv, conv, output =
cell input + second conv) thus reads as a chain of basic blocks: each cell's
``edge2<-1.nor_conv_3x3`` row has ``residual_from`` = the row that produced the cell's input.
``residual_from`` only describes the graph: every sum, recorded or not, is counted in
:func:`elementwise_traffic`.

Element-wise work (:func:`elementwise_traffic`), counted in elements, for a cost model to
charge as memory traffic:

* Pooling: each ``avg_pool_3x3`` edge reads its input map ``C*H*W`` once, writes ``C*H*W`` and
  sums ``C*(3H-2)*(3W-2)`` window taps (``count_include_pad=False``: border windows are
  smaller); each reduction block's shortcut pool reads ``C_in*H*W``, writes a quarter of it,
  ``C_in*H*W`` taps; the global pool reads ``64*H*W`` (= taps) and writes 64.
* Edge sums: a node with ``t >= 2`` non-``none`` terms reads ``t`` maps, writes one and does
  ``(t-1)*C*H*W`` additions; each reduction block's residual add reads two output maps, writes
  one and does ``C*H*W`` additions. ``none`` terms are not counted (an accelerator skips a zero
  term; NB201's PyTorch code materialises ``x * 0`` and adds it), a single-term node is a
  rename. BN and ReLU are fused into the convs next to them and not counted.

The whole space in one pass: conv shapes depend only on (stage, op), so every network is the
fixed rows (stem, reduction blocks, classifier) plus counts of six cell-conv shapes.
:func:`space_layers` returns both tables and the ``(15625, 6)`` counts, :func:`op_counts` the
``(15625, 3, 5)`` op counts per stage, and :func:`space_macs`, :func:`space_cost`,
:func:`space_elementwise_traffic` whole-space arrays, all indexed by NAS-Bench-201 index.

Workload names: ``nb201/<index>/<dataset>`` (or ``nb201/<cell string>/<dataset>``) in
:func:`.registry.get_workload`; datasets ``cifar10``, ``cifar100``, ``ImageNet16-120``.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
from collections.abc import Sequence
from importlib import resources
from typing import NamedTuple

import numpy as np

from .layer_table import NO_RESIDUAL, LayerTable, LayerType
from .zoo import NetBuilder, pool

#: Edge ops in NAS-Bench-201's order; an op code is an index into this tuple.
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: Edges ``(to_node, from_node)`` in cell-string order.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
#: Dataset names as NAS-Bench-201 spells them (lowercase is accepted too).
DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
INPUT_SIZE = {"cifar10": 32, "cifar100": 32, "ImageNet16-120": 16}
STAGE_CHANNELS: tuple[int, ...] = (16, 32, 64)
CELLS_PER_STAGE = 5
NUM_ARCHS = 5 ** len(EDGES)  # 15,625
#: Ops that are conv rows, with their kernel size; the column order of :func:`space_layers` counts.
CONV_OPS: tuple[str, ...] = ("nor_conv_1x1", "nor_conv_3x3")
_KERNEL = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}
PREFIX = "nb201/"
_CSV_COLUMNS = {"cifar10": "cifar10_test_acc", "cifar100": "cifar100_test_acc",
                "ImageNet16-120": "imagenet16_120_test_acc"}
_FORMAT = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"
_NONE, _SKIP, _POOL = OPS.index("none"), OPS.index("skip_connect"), OPS.index("avg_pool_3x3")


# ---------------------------------------------------------------------------- names
def canonical_dataset(dataset: str) -> str:
    """``"cifar10"``, ``"cifar100"`` or ``"ImageNet16-120"`` for any capitalisation of them.

    Raises:
        ValueError: another name; the message lists the valid ones.
    """
    if isinstance(dataset, str):
        for d in DATASETS:
            if dataset.lower() == d.lower():
                return d
    raise ValueError(f"unknown NAS-Bench-201 dataset {dataset!r}; expected one of {', '.join(DATASETS)}")


def parse_arch(arch_str: str) -> tuple[str, ...]:
    """The six edge ops of a cell string, in :data:`EDGES` order.

    ``parse_arch("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|")``
    is ``("nor_conv_3x3", "none", "nor_conv_3x3", "skip_connect", "none", "skip_connect")``.

    Raises:
        TypeError: not a string.
        ValueError: not of the form ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` with ops in
            :data:`OPS`; the message names the string, the part at fault and the form expected.
    """
    if not isinstance(arch_str, str):
        raise TypeError(f"a NAS-Bench-201 cell string must be a str; got {type(arch_str).__name__} {arch_str!r}")

    def fail(what: str) -> ValueError:
        return ValueError(f"bad NAS-Bench-201 cell string {arch_str!r}: {what}; expected {_FORMAT!r} "
                          f"(node j's inputs ~0..~j-1 in order) with op one of {', '.join(OPS)}")

    nodes = arch_str.split("+")
    if len(nodes) != 3:
        raise fail(f"{len(nodes)} node part(s) separated by '+', expected 3")
    ops: list[str] = []
    for j, part in enumerate(nodes, start=1):
        if len(part) < 2 or not (part.startswith("|") and part.endswith("|")):
            raise fail(f"node {j} part {part!r} does not start and end with '|'")
        tokens = part[1:-1].split("|")
        if len(tokens) != j:
            raise fail(f"node {j} part {part!r} has {len(tokens)} edge(s), expected {j}")
        for i, token in enumerate(tokens):
            op, sep, src = token.partition("~")
            if not sep or src != str(i):
                raise fail(f"edge {token!r} of node {j} should read node {i} ('op~{i}')")
            if op not in OPS:
                raise fail(f"unknown op {op!r} on edge {j}<-{i}")
            ops.append(op)
    return tuple(ops)


def format_arch(ops: Sequence[str] | Sequence[int] | np.ndarray) -> str:
    """The cell string of six edge ops (names or op codes), in :data:`EDGES` order."""
    ops = list(ops.tolist() if isinstance(ops, np.ndarray) else ops)
    if len(ops) != len(EDGES):
        raise ValueError(f"a NAS-Bench-201 cell has {len(EDGES)} edges; got {len(ops)} ops {ops!r}")
    names = []
    for e, op in enumerate(ops):
        if isinstance(op, (int, np.integer)) and not isinstance(op, bool) and 0 <= int(op) < len(OPS):
            names.append(OPS[int(op)])
        elif isinstance(op, str) and op in OPS:
            names.append(op)
        else:
            raise ValueError(f"edge {EDGES[e][0]}<-{EDGES[e][1]}: op {op!r} is not one of {', '.join(OPS)} "
                             f"or a code 0..{len(OPS) - 1}")
    tok = [f"{op}~{i}" for op, (_, i) in zip(names, EDGES)]
    return f"|{tok[0]}|+|{tok[1]}|{tok[2]}|+|{tok[3]}|{tok[4]}|{tok[5]}|"


def _codes(ops: Sequence[str]) -> np.ndarray:
    return np.array([OPS.index(o) for o in ops], dtype=np.int64)


# ---------------------------------------------------------------------------- data
class NB201Accuracies(NamedTuple):
    """The shipped table, row ``i`` = NAS-Bench-201 index ``i``. Accuracies in percent
    (top-1 test accuracy after 200 epochs, averaged over seeds), float64, shape (15625,)."""

    index: np.ndarray  # int64 (15625,)
    arch_str: np.ndarray  # str (15625,)
    cifar10: np.ndarray
    cifar100: np.ndarray
    imagenet16_120: np.ndarray

    def accuracy(self, dataset: str) -> np.ndarray:
        """Test accuracy (%) on ``dataset`` (see :func:`canonical_dataset`), shape (15625,)."""
        return {"cifar10": self.cifar10, "cifar100": self.cifar100,
                "ImageNet16-120": self.imagenet16_120}[canonical_dataset(dataset)]


def _read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@functools.lru_cache(maxsize=1)
def load_accuracies() -> NB201Accuracies:
    """The 15,625 cells with their test accuracies (%); read-only arrays, loaded once."""
    raw = resources.files(__package__).joinpath("data", "nasbench201", "nb201_test_accuracy.csv.gz").read_bytes()
    text = gzip.decompress(raw).decode("utf-8")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    expected = ["index", "arch_str", *(_CSV_COLUMNS[d] for d in DATASETS)]
    if header != expected:
        raise ValueError(f"nb201_test_accuracy.csv has columns {header}; expected {expected}")
    rows = list(reader)
    index = np.array([int(r[0]) for r in rows], dtype=np.int64)
    if not np.array_equal(index, np.arange(NUM_ARCHS)):
        raise ValueError(f"nb201_test_accuracy.csv rows are not indices 0..{NUM_ARCHS - 1} in order")
    acc = np.array([[float(v) for v in r[2:5]] for r in rows], dtype=np.float64)
    return NB201Accuracies(
        index=_read_only(index),
        arch_str=_read_only(np.array([r[1] for r in rows])),
        cifar10=_read_only(acc[:, 0].copy()),
        cifar100=_read_only(acc[:, 1].copy()),
        imagenet16_120=_read_only(acc[:, 2].copy()),
    )


@functools.lru_cache(maxsize=1)
def edge_ops() -> np.ndarray:
    """Op codes (indices into :data:`OPS`) of every cell, shape (15625, 6), row = NB201 index."""
    codes = np.array([_codes(parse_arch(s)) for s in load_accuracies().arch_str.tolist()], dtype=np.int64)
    return _read_only(codes)


@functools.lru_cache(maxsize=1)
def _index_of_code() -> np.ndarray:
    """NB201 index of each base-5 cell code (edge 1<-0 most significant)."""
    key = edge_ops() @ (5 ** np.arange(len(EDGES) - 1, -1, -1))
    table = np.full(NUM_ARCHS, -1, dtype=np.int64)
    table[key] = np.arange(NUM_ARCHS)
    if np.any(table < 0):
        raise ValueError("nb201_test_accuracy.csv does not hold every one of the 5^6 cells once")
    return _read_only(table)


def ops_to_index(codes: np.ndarray | Sequence[int]) -> np.ndarray:
    """NB201 indices of op-code vectors, ``(..., 6)`` ints in 0..4 -> ``(...)`` int64 (vectorized)."""
    codes = np.asarray(codes)
    if codes.shape[-1:] != (len(EDGES),) or codes.dtype.kind not in "iu":
        raise ValueError(f"op codes must be integers of shape (..., {len(EDGES)}); got {codes.dtype} {codes.shape}")
    if codes.size and (codes.min() < 0 or codes.max() >= len(OPS)):
        raise ValueError(f"op codes must lie in 0..{len(OPS) - 1}; got values {np.unique(codes).tolist()}")
    return _index_of_code()[codes.astype(np.int64) @ (5 ** np.arange(len(EDGES) - 1, -1, -1))]


def arch_index(arch_str: str) -> int:
    """NAS-Bench-201 index of a cell string (validated by :func:`parse_arch`)."""
    return int(ops_to_index(_codes(parse_arch(arch_str))))


def arch_from_index(index: int) -> str:
    """The cell string of NAS-Bench-201 index ``index`` (0..15624)."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= int(index) < NUM_ARCHS:
        raise ValueError(f"NAS-Bench-201 index {index!r} is not an integer in 0..{NUM_ARCHS - 1}")
    return str(load_accuracies().arch_str[int(index)])


def _resolve(arch: str | int) -> tuple[np.ndarray, int]:
    if isinstance(arch, str):
        codes = _codes(parse_arch(arch))
        return codes, int(ops_to_index(codes))
    arch_from_index(arch)  # validates
    return edge_ops()[int(arch)], int(arch)


# ---------------------------------------------------------------------------- one network
def _build(codes: np.ndarray, dataset: str, name: str) -> LayerTable:
    size = INPUT_SIZE[dataset]
    b = NetBuilder(name)
    last: int | None
    last, x = b.conv("stem.conv", (3, size, size), STAGE_CHANNELS[0], 3, padding=1)
    # live (non-none) edges reading node 0, 1, 2 of a cell
    readers = [sum(1 for e, (_, i) in enumerate(EDGES) if i == n and codes[e] != _NONE) for n in range(3)]
    for s, c in enumerate(STAGE_CHANNELS):
        if s > 0:
            block_in = x
            _, h = b.conv(f"reduction{s}.conv_a", x, c, 3, stride=2, padding=1)
            rb, h = b.conv(f"reduction{s}.conv_b", h, c, 3, padding=1)
            last, x = b.conv(f"reduction{s}.downsample", pool(block_in, 2, 2), c, 1, residual_from=rb)
            assert x == h
        for cell in range(CELLS_PER_STAGE):
            # per node: the row that produced its tensor (through pooling; None: no single row
            # did), and whether that row was made for this node and for nothing else
            prod: list[int | None] = [last]
            own: list[bool] = [False]
            for j in (1, 2, 3):
                # (producer row, may an add be fused into it, is a conv edge) per non-none term
                terms: list[tuple[int | None, bool, bool]] = []
                for e, (to, i) in enumerate(EDGES):
                    if to != j:
                        continue
                    op = OPS[int(codes[e])]
                    if op in _KERNEL:
                        k = _KERNEL[op]
                        r, _ = b.conv(f"stage{s + 1}.cell{cell}.edge{j}<-{i}.{op}", x, c, k, padding=(k - 1) // 2)
                        terms.append((r, True, True))
                    elif op == "skip_connect":
                        terms.append((prod[i], own[i] and readers[i] == 1, False))
                    elif op == "avg_pool_3x3":
                        terms.append((prod[i], False, False))
                node_prod, node_own = None, False
                if len(terms) == 1:
                    node_prod, _, node_own = terms[0]
                elif len(terms) == 2 and terms[0][0] is not None and terms[1][0] is not None:
                    (late, fusable, _), (other, _, _) = sorted(terms, key=lambda t: t[0], reverse=True)
                    if fusable and other < late and b.rows[late]["residual_from"] == NO_RESIDUAL:
                        b.rows[late]["residual_from"] = other
                        node_prod, node_own = late, True
                prod.append(node_prod)
                own.append(node_own)
            last = prod[3]
    b.gemm("classifier", 1, STAGE_CHANNELS[-1], NUM_CLASSES[dataset])
    return b.table()


def network_table(arch: str | int, dataset: str) -> LayerTable:
    """The exact NAS-Bench-201 network of a cell as a :class:`LayerTable` (see the module doc).

    Args:
        arch: a cell string, or a NAS-Bench-201 index (0..15624).
        dataset: ``"cifar10"``, ``"cifar100"`` or ``"ImageNet16-120"`` (input 32x32, 32x32,
            16x16; 10, 100, 120 classes).

    The table is named ``nb201/<index>/<dataset>``. Rows: 1 stem + 15 x (conv edges per cell)
    + 3 per reduction block x 2 + 1 classifier.
    """
    ds = canonical_dataset(dataset)
    codes, index = _resolve(arch)
    return _build(codes, ds, f"{PREFIX}{index}/{ds}")


def load_nb201_workload(name: str) -> LayerTable:
    """Resolve ``nb201/<index>/<dataset>`` or ``nb201/<cell string>/<dataset>``."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] + "/" != PREFIX:
        raise ValueError(f"bad NAS-Bench-201 workload name {name!r}; expected 'nb201/<index>/<dataset>' "
                         f"(index 0..{NUM_ARCHS - 1}, or a cell string) with dataset one of {', '.join(DATASETS)}")
    arch: str | int = int(parts[1]) if parts[1].isdigit() else parts[1]
    return network_table(arch, parts[2])


class NB201Cost(NamedTuple):
    """NAS-Bench-201's own cost counts (``get_cost_info``'s ``flops`` and ``params`` times 1e6).

    ``flops``: multiply-accumulates of every Conv2d and Linear plus the classifier's bias adds
    (NB201's ``flop_benchmark``: pooling is not counted). ``params``: conv and linear weights,
    the classifier bias, and BN's affine weight and bias (2 per channel: the stem's BN, one
    after each cell conv and ``conv_a`` / ``conv_b``, and the final BN). int64.
    """

    flops: np.ndarray
    params: np.ndarray


def nb201_cost(arch: str | int, dataset: str) -> NB201Cost:
    """:class:`NB201Cost` of one network, as int64 scalars."""
    ds = canonical_dataset(dataset)
    codes, _ = _resolve(arch)
    return _cost(_per_stage_counts(codes[None, :]), ds, squeeze=True)


class ElementwiseTraffic(NamedTuple):
    """Pooling and element-wise work of a network, in elements (int64; see the module doc).

    ``avg_pool_3x3_edges``: number of ``avg_pool_3x3`` edges executed (15 cells' worth).
    ``pool_read_elements`` / ``pool_write_elements``: maps read / written by every pooling op
    (cell 3x3 pools, the reduction blocks' 2x2 shortcut pools, the global pool).
    ``pool_taps``: input elements summed inside pooling windows (borders excluded).
    ``sum_read_elements`` / ``sum_write_elements`` / ``sum_adds``: maps read / written and
    additions done by node sums of two or more non-``none`` terms and the reduction blocks'
    residual adds.
    """

    avg_pool_3x3_edges: np.ndarray
    pool_read_elements: np.ndarray
    pool_write_elements: np.ndarray
    pool_taps: np.ndarray
    sum_read_elements: np.ndarray
    sum_write_elements: np.ndarray
    sum_adds: np.ndarray

    @property
    def read_elements(self) -> np.ndarray:
        """All elements read by pooling and sums."""
        return self.pool_read_elements + self.sum_read_elements

    @property
    def write_elements(self) -> np.ndarray:
        """All elements written by pooling and sums."""
        return self.pool_write_elements + self.sum_write_elements


def elementwise_traffic(arch: str | int, dataset: str) -> ElementwiseTraffic:
    """:class:`ElementwiseTraffic` of one network, as int64 scalars."""
    ds = canonical_dataset(dataset)
    codes, _ = _resolve(arch)
    return _traffic(codes[None, :], ds, squeeze=True)


# ---------------------------------------------------------------------------- whole space
def _per_stage_counts(codes: np.ndarray) -> np.ndarray:
    """(n, 6) op codes -> (n, 3, 5) op counts per stage (5 identical cells)."""
    per_cell = (codes[:, :, None] == np.arange(len(OPS))).sum(axis=1).astype(np.int64)
    return np.repeat(per_cell[:, None, :] * CELLS_PER_STAGE, len(STAGE_CHANNELS), axis=1)


@functools.lru_cache(maxsize=1)
def op_counts() -> np.ndarray:
    """How often each op of :data:`OPS` occurs in each stage of every network, int64
    ``(15625, 3, 5)`` (row = NB201 index; every stage has the same 5 cells, so the three
    stage rows are equal and each sums to 30)."""
    return _read_only(_per_stage_counts(edge_ops()))


class SpaceLayers(NamedTuple):
    """Every NB201 network as fixed rows plus counted cell-conv shapes (one dataset).

    ``fixed``: the 8 rows every network has once (stem, 2 x 3 reduction rows, classifier).
    ``cell_convs``: the 6 distinct cell-conv rows, stage-major: row ``2*s + k`` is stage
    ``s + 1`` with ``CONV_OPS[k]``. ``counts``: int64 ``(n, 6)``, how often network ``i``
    runs each ``cell_convs`` row. Any additive per-layer cost ``f`` of the whole space is
    ``f(fixed).sum() + counts @ f(cell_convs)``.
    """

    fixed: LayerTable
    cell_convs: LayerTable
    counts: np.ndarray


def _cell_conv_table(dataset: str) -> LayerTable:
    size = INPUT_SIZE[dataset]
    b = NetBuilder(f"{PREFIX}cell_convs/{dataset}")
    for s, c in enumerate(STAGE_CHANNELS):
        h = size >> s
        for op in CONV_OPS:
            k = _KERNEL[op]
            b.conv(f"stage{s + 1}.{op}", (c, h, h), c, k, padding=(k - 1) // 2)
    return b.table()


def _conv_columns(counts: np.ndarray) -> np.ndarray:
    """(n, 3, 5) op counts -> (n, 6) counts of the cell_convs rows."""
    cols = [OPS.index(op) for op in CONV_OPS]
    return counts[:, :, cols].reshape(counts.shape[0], -1)


@functools.cache
def _space_tables(dataset: str) -> tuple[LayerTable, LayerTable]:
    fixed = _build(np.zeros(len(EDGES), dtype=np.int64), dataset, f"{PREFIX}fixed/{dataset}")
    return fixed, _cell_conv_table(dataset)


def space_layers(dataset: str) -> SpaceLayers:
    """:class:`SpaceLayers` of all 15,625 networks on ``dataset`` (row i = NB201 index i)."""
    ds = canonical_dataset(dataset)
    fixed, convs = _space_tables(ds)
    return SpaceLayers(fixed, convs, _read_only(_conv_columns(op_counts())))


def space_macs(dataset: str) -> np.ndarray:
    """MACs (sum of :attr:`LayerTable.macs`) of every network, int64 (15625,)."""
    sl = space_layers(dataset)
    return int(sl.fixed.macs.sum()) + sl.counts @ sl.cell_convs.macs


def _cost(counts: np.ndarray, dataset: str, squeeze: bool = False) -> NB201Cost:
    fixed, convs = _space_tables(dataset)
    n_classes = NUM_CLASSES[dataset]
    bn = np.array([not name.endswith("downsample") for name in fixed.layer_names]) & (fixed.type != LayerType.GEMM)
    fixed_params = int(fixed.weights.sum() + 2 * fixed.K[bn].sum() + 2 * STAGE_CHANNELS[-1] + n_classes)
    c = _conv_columns(counts)
    flops = int(fixed.macs.sum()) + n_classes + c @ convs.macs
    params = fixed_params + c @ (convs.weights + 2 * convs.K)
    if squeeze:
        return NB201Cost(np.int64(flops[0]), np.int64(params[0]))
    return NB201Cost(flops, params)


def space_cost(dataset: str) -> NB201Cost:
    """:class:`NB201Cost` of every network, int64 arrays (15625,)."""
    return _cost(op_counts(), canonical_dataset(dataset))


def _traffic(codes: np.ndarray, dataset: str, squeeze: bool = False) -> ElementwiseTraffic:
    n = codes.shape[0]
    size = INPUT_SIZE[dataset]
    hw = [size >> s for s in range(len(STAGE_CHANNELS))]
    maps = [c * h * h for c, h in zip(STAGE_CHANNELS, hw)]  # elements of one map per stage
    cells_maps = CELLS_PER_STAGE * sum(maps)  # one map in each of the 15 cells, summed
    taps_3x3 = CELLS_PER_STAGE * sum(c * (3 * h - 2) ** 2 for c, h in zip(STAGE_CHANNELS, hw))
    live = codes != _NONE
    into = [[e for e, (to, _) in enumerate(EDGES) if to == j] for j in (1, 2, 3)]
    terms = np.stack([live[:, edges].sum(axis=1) for edges in into], axis=1)  # non-none terms per node
    summed = terms >= 2
    pools = (codes == _POOL).sum(axis=1).astype(np.int64)
    # fixed: reduction shortcut pools and residual adds, global pool
    red_in = [maps[s - 1] for s in (1, 2)]
    red_out = [maps[s] for s in (1, 2)]
    last = STAGE_CHANNELS[-1] * hw[-1] * hw[-1]
    pool_read = pools * cells_maps + sum(red_in) + last
    pool_write = pools * cells_maps + sum(m // 4 for m in red_in) + STAGE_CHANNELS[-1]
    pool_taps = pools * taps_3x3 + sum(red_in) + last
    sum_read = (terms * summed).sum(axis=1) * cells_maps + 2 * sum(red_out)
    sum_write = summed.sum(axis=1) * cells_maps + sum(red_out)
    sum_adds = np.maximum(terms - 1, 0).sum(axis=1) * cells_maps + sum(red_out)
    edges = pools * len(STAGE_CHANNELS) * CELLS_PER_STAGE
    fields = [edges, pool_read, pool_write, pool_taps, sum_read, sum_write, sum_adds]
    fields = [np.broadcast_to(np.asarray(f, dtype=np.int64), (n,)).copy() for f in fields]
    if squeeze:
        fields = [np.int64(f[0]) for f in fields]
    return ElementwiseTraffic(*fields)


def space_elementwise_traffic(dataset: str) -> ElementwiseTraffic:
    """:class:`ElementwiseTraffic` of every network, int64 arrays (15625,)."""
    return _traffic(edge_ops(), canonical_dataset(dataset))
