"""NAS-Bench-201: shipped accuracies, cell strings, and each cell's network against published counts.

Published figures (NAS-Bench-201 API ``get_cost_info``: ``flops`` = conv + linear MACs + the
classifier's bias adds, in 1e6; ``params`` = all parameters incl. BN affine, in 1e6):

* D-X-Y/NATS-Bench issue #24 (2021-10-07): index 0 has 15.64737 (cifar10-valid, the CIFAR-10
  network), 15.65322 (cifar100) and 3.91948 (ImageNet16-120) MFLOPs.
* D-X-Y/NATS-Bench issue #36 (2022-01-19): ``|skip_connect~0|+|none~0|nor_conv_3x3~1|+|avg_pool_3x3~0|
  nor_conv_3x3~1|nor_conv_3x3~2|`` on CIFAR-10 (``hp="12"``): 113.95137 MFLOPs, 0.802426 M params.
* D-X-Y/AutoDL-Projects issue #134 (2023-08-29): ``|skip_connect~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|
  nor_conv_3x3~0|avg_pool_3x3~1|none~2|`` on CIFAR-10 (NAS-Bench-201-v1_1-096897): 0.56 M params.
* automl/MO-HPOBenchExperimentUtils README, "Get Bounds for Nasbench benchmarks" (min / max over
  the NAS-Bench-201-v1_1-096897 records): params 0.073306..1.531546 (CIFAR-10 valid),
  0.079156..1.537396 (CIFAR-100), 0.080456..1.538696 (ImageNet16-120); MFLOPs 7.78305..220.11969,
  7.7889..220.12554, 1.9534..55.03756.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from codesign_gym.costmodels.workloads import (
    INT_COLUMNS,
    NO_RESIDUAL,
    LayerType,
    get_workload,
    nb201,
)

RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
ISSUE36 = "|skip_connect~0|+|none~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ISSUE134 = "|skip_connect~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|"
ALL_3X3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ALL_POOL = "|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|"


def uniform(op: str) -> str:
    return nb201.format_arch([op] * 6)


# ---------------------------------------------------------------------------- data
def test_accuracy_table():
    acc = nb201.load_accuracies()
    assert np.array_equal(acc.index, np.arange(15625))
    assert len(set(acc.arch_str.tolist())) == 15625
    for ds in nb201.DATASETS:
        a = acc.accuracy(ds)
        assert a.shape == (15625,) and a.dtype == np.float64 and np.all((a > 0) & (a <= 100))
    assert acc.accuracy("imagenet16-120") is acc.imagenet16_120
    # the ResNet cell as issue #6 quotes it: 93.91% on CIFAR-10, 70 cells at or above it (itself included)
    assert acc.arch_str[11472] == RESNET
    assert (acc.cifar10[11472], acc.cifar100[11472], acc.imagenet16_120[11472]) == (93.91, 70.89, 44.2333)
    assert int((acc.cifar10 >= acc.cifar10[11472]).sum()) == 70
    assert not acc.cifar10.flags.writeable


def test_every_cell_string_parses_and_round_trips():
    acc = nb201.load_accuracies()
    codes = nb201.edge_ops()
    assert codes.shape == (15625, 6)
    for i, s in enumerate(acc.arch_str.tolist()):
        ops = nb201.parse_arch(s)
        assert nb201.format_arch(ops) == s and nb201.format_arch(codes[i]) == s
        assert nb201.arch_index(s) == i and nb201.arch_from_index(i) == s
    assert np.array_equal(nb201.ops_to_index(codes), np.arange(15625))
    # every one of the 5^6 op combinations is a cell
    assert len({tuple(r) for r in codes.tolist()}) == 5 ** 6


def test_parse_resnet_cell():
    assert nb201.parse_arch(RESNET) == ("nor_conv_3x3", "none", "nor_conv_3x3", "skip_connect", "none", "skip_connect")
    assert nb201.arch_index(RESNET) == 11472
    assert nb201.ops_to_index([[3, 0, 3, 1, 0, 1]]).tolist() == [11472]


@pytest.mark.parametrize("bad, part", [
    ("", "expected 3"),
    ("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|", "expected 3"),
    ("nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|", "start and end with '|'"),
    ("|nor_conv_3x3~0|+|none~0|+|skip_connect~0|none~1|skip_connect~2|", "expected 2"),
    ("|conv_5x5~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|", "unknown op 'conv_5x5'"),
    ("|max_pool_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|", "unknown op"),
    ("|nor_conv_3x3~0|+|none~1|nor_conv_3x3~0|+|skip_connect~0|none~1|skip_connect~2|", "should read node 0"),
    ("|nor_conv_3x3|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|", "should read node 0"),
    (" " + RESNET, "start and end"),
])
def test_bad_cell_strings(bad, part):
    with pytest.raises(ValueError) as err:
        nb201.parse_arch(bad)
    msg = str(err.value)
    assert repr(bad) in msg and part in msg and "expected '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|'" in msg
    assert "avg_pool_3x3" in msg  # lists the ops
    with pytest.raises(ValueError):
        nb201.arch_index(bad)


def test_bad_arch_inputs():
    with pytest.raises(TypeError):
        nb201.parse_arch(11472)
    for bad in (-1, 15625, 1.0, True, "11472"):
        with pytest.raises(ValueError, match="0..15624"):
            nb201.arch_from_index(bad)
    with pytest.raises(ValueError, match="6 edges"):
        nb201.format_arch(["none"] * 5)
    with pytest.raises(ValueError, match="not one of"):
        nb201.format_arch(["none"] * 5 + ["max_pool_3x3"])
    with pytest.raises(ValueError, match="0..4"):
        nb201.ops_to_index([0, 0, 0, 0, 0, 5])
    with pytest.raises(ValueError, match=r"\(\.\.\., 6\)"):
        nb201.ops_to_index([0, 0, 0])


def test_datasets():
    assert nb201.canonical_dataset("imagenet16-120") == "ImageNet16-120"
    assert nb201.canonical_dataset("CIFAR10") == "cifar10"
    for bad in ("imagenet", "cifar10-valid", "", None):
        with pytest.raises(ValueError) as err:
            nb201.network_table(RESNET, bad)
        assert "cifar10, cifar100, ImageNet16-120" in str(err.value)


# ---------------------------------------------------------------------------- published counts
@pytest.mark.parametrize("arch, dataset, mflops, mparams", [
    (0, "cifar10", 15.64737, None),  # NATS-Bench #24 (cifar10-valid: same network as cifar10)
    (0, "cifar100", 15.65322, None),  # NATS-Bench #24
    (0, "ImageNet16-120", 3.91948, None),  # NATS-Bench #24
    (ISSUE36, "cifar10", 113.95137, 0.802426),  # NATS-Bench #36
])
def test_published_flops_and_params(arch, dataset, mflops, mparams):
    cost = nb201.nb201_cost(arch, dataset)
    assert int(cost.flops) == round(mflops * 1e6)
    if mparams is not None:
        assert int(cost.params) == round(mparams * 1e6)
    # flops = table MACs + the classifier's bias adds
    table = nb201.network_table(arch, dataset)
    assert int(table.macs.sum()) + nb201.NUM_CLASSES[dataset] == int(cost.flops)


def test_published_params_rounded_and_resnet_cell():
    # AutoDL-Projects #134: 0.56 M; the ResNet cell has the same conv edges (two 3x3 per cell)
    assert round(int(nb201.nb201_cost(ISSUE134, "cifar10").params) / 1e6, 2) == 0.56
    cost = nb201.nb201_cost(RESNET, "cifar10")
    assert (int(cost.flops), int(cost.params)) == (78_561_930, 559_386)
    assert int(cost.flops) == int(nb201.nb201_cost(ISSUE134, "cifar10").flops)


@pytest.mark.parametrize("dataset, params, mflops", [
    ("cifar10", (0.073306, 1.531546), (7.78305, 220.11969)),
    ("cifar100", (0.079156, 1.537396), (7.7889, 220.12554)),
    ("ImageNet16-120", (0.080456, 1.538696), (1.9534, 55.03756)),
])
def test_published_bounds_over_the_space(dataset, params, mflops):
    """MO-HPOBenchExperimentUtils' min / max over all NAS-Bench-201 records."""
    cost = nb201.space_cost(dataset)
    assert (int(cost.params.min()), int(cost.params.max())) == tuple(round(p * 1e6) for p in params)
    assert (int(cost.flops.min()), int(cost.flops.max())) == tuple(round(f * 1e6) for f in mflops)
    # the extremes are the conv-free cells and the all-3x3 cell
    assert int(cost.flops[nb201.arch_index(ALL_3X3)]) == int(cost.flops.max())
    assert int(cost.params[nb201.arch_index(uniform("skip_connect"))]) == int(cost.params.min())


# ---------------------------------------------------------------------------- structure
def test_conv_free_cells_are_the_fixed_rows():
    fixed = nb201.space_layers("cifar10").fixed
    names = ["stem.conv", "reduction1.conv_a", "reduction1.conv_b", "reduction1.downsample",
             "reduction2.conv_a", "reduction2.conv_b", "reduction2.downsample", "classifier"]
    assert list(fixed.layer_names) == names
    for op in ("none", "skip_connect", "avg_pool_3x3"):
        t = nb201.network_table(uniform(op), "cifar10")
        assert list(t.layer_names) == names and t.equals(fixed)
    cols = ("type", "K", "C", "Y", "X", "R", "S", "stride", "padding", "groups", "residual_from")
    rows = {r["name"]: tuple(r[c] for c in cols) for r in fixed.to_rows()}
    assert rows["stem.conv"] == ("CONV", 16, 3, 32, 32, 3, 3, 1, 1, 1, NO_RESIDUAL)
    assert rows["reduction1.conv_a"] == ("CONV", 32, 16, 32, 32, 3, 3, 2, 1, 1, NO_RESIDUAL)
    assert rows["reduction1.conv_b"] == ("CONV", 32, 32, 16, 16, 3, 3, 1, 1, 1, NO_RESIDUAL)
    # shortcut: 2x2 avg-pool (not a row) then 1x1 conv, the add fused into it (residual from conv_b)
    assert rows["reduction1.downsample"] == ("CONV", 32, 16, 16, 16, 1, 1, 1, 0, 1, 2)
    assert rows["reduction2.downsample"] == ("CONV", 64, 32, 8, 8, 1, 1, 1, 0, 1, 5)
    assert rows["classifier"] == ("GEMM", 10, 64, 1, 1, 1, 1, 1, 0, 1, NO_RESIDUAL)


@pytest.mark.parametrize("dataset, size, classes",
                         [("cifar10", 32, 10), ("cifar100", 32, 100), ("ImageNet16-120", 16, 120)])
def test_all_3x3_network(dataset, size, classes):
    t = nb201.network_table(ALL_3X3, dataset)
    assert t.name == f"nb201/{nb201.arch_index(ALL_3X3)}/{dataset}"
    assert len(t) == 1 + 3 * 5 * 6 + 2 * 3 + 1 and len(set(t.layer_names)) == len(t)
    for s, c in enumerate((16, 32, 64)):
        cell = [i for i, n in enumerate(t.layer_names) if n.startswith(f"stage{s + 1}.cell")]
        assert len(cell) == 30
        assert set(t.K[cell]) == set(t.C[cell]) == {c} and set(t.Y[cell]) == set(t.out_rows[cell]) == {size >> s}
        assert set(t.R[cell]) == {3} and set(t.padding[cell]) == {1} and set(t.stride[cell]) == {1}
    assert t.layer_names[1:7] == tuple(f"stage1.cell0.edge{j}<-{i}.nor_conv_3x3" for j, i in nb201.EDGES)
    assert int(t.K[-1]) == classes and t.type[-1] == LayerType.GEMM


def test_resnet_cell_is_a_chain_of_basic_blocks():
    t = get_workload("nb201/11472/cifar10")
    assert t.name == "nb201/11472/cifar10" and len(t) == 38
    assert int(t.macs.sum()) == 78_561_920  # + 10 bias adds = 78.56193 MFLOPs
    names = list(t.layer_names)
    for s in (1, 2, 3):
        for c in range(5):
            i = names.index(f"stage{s}.cell{c}.edge2<-1.nor_conv_3x3")
            assert names[i - 1] == f"stage{s}.cell{c}.edge1<-0.nor_conv_3x3"
            assert t.residual_from[i - 1] == NO_RESIDUAL
            assert t.residual_from[i] == i - 2  # the row that produced the cell's input
    assert int((t.residual_from != NO_RESIDUAL).sum()) == 15 + 2


def test_convs_whose_output_is_unused_are_still_computed():
    """InferCell runs every edge: node 1 here feeds only `none` edges, its conv is still a row."""
    dead = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    t = nb201.network_table(dead, "cifar10")
    assert len(t) == 8 + 15
    assert sum(n.endswith("edge1<-0.nor_conv_3x3") for n in t.layer_names) == 15
    # and a conv on an all-`none` node (zeros) too
    t = nb201.network_table("|none~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|skip_connect~2|", "cifar10")
    assert sum(n.endswith("edge2<-1.nor_conv_1x1") for n in t.layer_names) == 15


@pytest.mark.parametrize("index", [0, 1, 2, 3, 11472, 4200, 9999, 15624])
def test_residual_edges_join_equal_shapes(index):
    for ds in nb201.DATASETS:
        t = nb201.network_table(index, ds)
        out = np.stack([t.K, t.out_rows, t.out_cols], axis=1)
        for i in np.flatnonzero(t.residual_from != NO_RESIDUAL):
            r = int(t.residual_from[i])
            assert 0 <= r < i and tuple(out[r]) == tuple(out[i]), (index, ds, t.layer_names[i])


# ---------------------------------------------------------------------------- whole space
def test_op_counts_and_space_layers():
    counts = nb201.op_counts()
    assert counts.shape == (15625, 3, 5) and counts.dtype == np.int64
    assert np.all(counts.sum(axis=2) == 30)
    assert np.all(counts[:, 0] == counts[:, 1]) and np.all(counts[:, 0] == counts[:, 2])
    per_cell = np.stack([(nb201.edge_ops() == k).sum(axis=1) for k in range(5)], axis=1)
    assert np.array_equal(counts[:, 0], 5 * per_cell)
    sl = nb201.space_layers("ImageNet16-120")
    assert sl.counts.shape == (15625, 6) and len(sl.fixed) == 8
    assert list(sl.cell_convs.layer_names) == [f"stage{s}.{op}" for s in (1, 2, 3) for op in nb201.CONV_OPS]
    assert sl.cell_convs.Y.tolist() == [16, 16, 8, 8, 4, 4] and sl.cell_convs.R.tolist() == [1, 3] * 3


@pytest.mark.parametrize("dataset", nb201.DATASETS)
def test_space_arrays_match_single_networks(dataset):
    macs = nb201.space_macs(dataset)
    cost = nb201.space_cost(dataset)
    traffic = nb201.space_elementwise_traffic(dataset)
    assert macs.shape == cost.flops.shape == traffic.sum_adds.shape == (15625,)
    assert macs.dtype == cost.params.dtype == traffic.pool_taps.dtype == np.int64
    assert np.array_equal(cost.flops, macs + nb201.NUM_CLASSES[dataset])
    rng = np.random.default_rng(0)
    for i in [0, 11472, 15624, *rng.integers(0, 15625, 12).tolist()]:
        t = nb201.network_table(i, dataset)
        assert int(t.macs.sum()) == int(macs[i])
        single = nb201.elementwise_traffic(nb201.arch_from_index(i), dataset)
        assert tuple(int(v) for v in single) == tuple(int(f[i]) for f in traffic)
        c = nb201.nb201_cost(i, dataset)
        assert (int(c.flops), int(c.params)) == (int(cost.flops[i]), int(cost.params[i]))


# ---------------------------------------------------------------------------- element-wise traffic
def _taps(h: int) -> int:
    """In-bounds taps of 3x3 windows (stride 1, padding 1) over an h x h map, by brute force."""
    return sum(1 for y in range(h) for x in range(h) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
               if 0 <= y + dy < h and 0 <= x + dx < h)


def test_elementwise_traffic_by_hand():
    maps = [16 * 32 * 32, 32 * 16 * 16, 64 * 8 * 8]  # one map per stage, CIFAR
    fixed_pool_read = maps[0] + maps[1] + maps[2]  # shortcut pools read stage 1, 2 maps; global pool stage 3
    fixed_pool_write = maps[0] // 4 + maps[1] // 4 + 64
    res_add = maps[1] + maps[2]  # the reduction blocks' residual adds
    # the ResNet cell: node 3 = input + node 2 in all 15 cells
    tr = nb201.elementwise_traffic(RESNET, "cifar10")
    assert int(tr.avg_pool_3x3_edges) == 0
    assert (int(tr.pool_read_elements), int(tr.pool_write_elements), int(tr.pool_taps)) == (
        fixed_pool_read, fixed_pool_write, fixed_pool_read)
    cells = 5 * sum(maps)
    assert (int(tr.sum_read_elements), int(tr.sum_write_elements), int(tr.sum_adds)) == (
        2 * cells + 2 * res_add, cells + res_add, cells + res_add)
    # all avg_pool_3x3: 6 pools per cell; node 2 sums 2 terms, node 3 sums 3
    tr = nb201.elementwise_traffic(ALL_POOL, "cifar10")
    assert int(tr.avg_pool_3x3_edges) == 90
    taps = 5 * 6 * (16 * _taps(32) + 32 * _taps(16) + 64 * _taps(8))
    assert int(tr.pool_taps) == taps + fixed_pool_read
    assert int(tr.pool_read_elements) == 6 * cells + fixed_pool_read
    assert int(tr.pool_write_elements) == 6 * cells + fixed_pool_write
    assert (int(tr.sum_read_elements), int(tr.sum_write_elements), int(tr.sum_adds)) == (
        5 * cells + 2 * res_add, 2 * cells + res_add, 3 * cells + res_add)
    assert int(tr.read_elements) == int(tr.pool_read_elements) + int(tr.sum_read_elements)
    # `none` terms are not counted
    tr = nb201.elementwise_traffic(uniform("none"), "cifar10")
    assert int(tr.sum_adds) == res_add and int(tr.sum_read_elements) == 2 * res_add


# ---------------------------------------------------------------------------- registry
def test_registry_names():
    t = get_workload("nb201/11472/cifar10")
    assert t.equals(nb201.network_table(RESNET, "cifar10"))
    t = get_workload(f"nb201/{ISSUE36}/imagenet16-120")
    assert t.name == f"nb201/{nb201.arch_index(ISSUE36)}/ImageNet16-120" and int(t.K[-1]) == 120
    for bad, what in [("nb201/15625/cifar10", "0..15624"), ("nb201/0/imagenet", "ImageNet16-120"),
                      ("nb201/0", "nb201/<index>/<dataset>"), ("nb201/|none~0|/cifar10", "expected 3")]:
        with pytest.raises(ValueError) as err:
            get_workload(bad)
        assert what in str(err.value)
    with pytest.raises(ValueError, match="nb201/<index>/<dataset>"):
        get_workload("no_such_net")


# ---------------------------------------------------------------------------- against torch
def test_torch_redefinition_traces_to_the_same_rows_and_params():
    """A torch re-definition of NB201's TinyNetwork (ReLUConvBN, InferCell summing every edge,
    ResNetBasicblock, BN-ReLU, global pool, Linear), traced: the same rows (residual edges aside:
    the tracer fuses every traced add) and the same parameter count as :func:`nb201_cost`."""
    torch = pytest.importorskip("torch")
    from codesign_gym.costmodels.workloads import trace
    from torch import nn

    def relu_conv_bn(cin, cout, k, stride):
        return nn.Sequential(nn.ReLU(), nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, bias=False), nn.BatchNorm2d(cout))

    class Zero(nn.Module):
        def forward(self, x):
            return x.mul(0.0)

    def edge(op, c):
        return {"none": Zero, "skip_connect": nn.Identity,
                "avg_pool_3x3": lambda: nn.AvgPool2d(3, 1, 1, count_include_pad=False),
                "nor_conv_1x1": lambda: relu_conv_bn(c, c, 1, 1),
                "nor_conv_3x3": lambda: relu_conv_bn(c, c, 3, 1)}[op]()

    class Cell(nn.Module):
        def __init__(self, ops, c):
            super().__init__()
            self.edges = nn.ModuleList(edge(op, c) for op in ops)

        def forward(self, x):
            nodes = [x]
            for j in (1, 2, 3):
                nodes.append(sum(self.edges[e](nodes[i]) for e, (to, i) in enumerate(nb201.EDGES) if to == j))
            return nodes[3]

    class Reduction(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.conv_a, self.conv_b = relu_conv_bn(cin, cout, 3, 2), relu_conv_bn(cout, cout, 3, 1)
            self.downsample = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(cin, cout, 1, bias=False))

        def forward(self, x):
            y = self.conv_b(self.conv_a(x))
            return self.downsample(x) + y

    class Net(nn.Module):
        def __init__(self, ops, classes):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16))
            cells = [Cell(ops, 16) for _ in range(5)]
            cells += [Reduction(16, 32)] + [Cell(ops, 32) for _ in range(5)]
            cells += [Reduction(32, 64)] + [Cell(ops, 64) for _ in range(5)]
            self.cells = nn.Sequential(*cells)
            self.lastact = nn.Sequential(nn.BatchNorm2d(64), nn.ReLU())
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(64, classes)

        def forward(self, x):
            return self.classifier(self.pool(self.lastact(self.cells(self.stem(x)))).flatten(1))

    mixed = "|nor_conv_1x1~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|none~0|skip_connect~1|nor_conv_3x3~2|"
    for arch, ds in [(RESNET, "cifar10"), (nb201.arch_from_index(0), "ImageNet16-120"), (mixed, "cifar100")]:
        net = Net(nb201.parse_arch(arch), nb201.NUM_CLASSES[ds]).eval()
        size = nb201.INPUT_SIZE[ds]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = trace(net, (1, 3, size, size))
        ours = nb201.network_table(arch, ds)
        assert len(traced) == len(ours)
        for col in INT_COLUMNS:
            if col != "residual_from":
                assert np.array_equal(getattr(traced, col), getattr(ours, col)), (arch, ds, col)
        assert sum(p.numel() for p in net.parameters()) == int(nb201.nb201_cost(arch, ds).params)
        with torch.no_grad():
            assert net(torch.zeros(1, 3, size, size)).shape == (1, nb201.NUM_CLASSES[ds])
