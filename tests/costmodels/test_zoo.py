"""The zoo of real networks: MACs against published counts, structure and residual edges.

MAC counts (batch 1, 224x224, 1000 classes, including the classifier) are the torchvision
model cards' numbers ("GFLOPS" there counts multiply-accumulates); test_tracer.py also checks
every CNN here against a torch re-definition of the torchvision module.
"""

import numpy as np
import pytest

from codesign_gym.costmodels.workloads import NO_RESIDUAL, RESIDUAL_FROM_INPUT, LayerType, get_workload, zoo

EXPECTED = {
    # name: (rows, MACs, residual edges)
    "mobilenet_v2": (53, 300_774_272, 10),  # torchvision: 0.30 GFLOPS; MobileNetV2 paper: 300M MAdds
    "resnet18": (21, 1_814_073_344, 8),  # torchvision: 1.81 GFLOPS
    "resnet50": (54, 4_089_184_256, 16),  # torchvision: 4.09 GFLOPS
    "vgg16": (16, 15_470_264_320, 0),  # torchvision: 15.47 GFLOPS
    "alexnet": (8, 714_188_480, 0),  # torchvision: 0.71 GFLOPS
    "squeezenet": (26, 818_924_576, 0),  # torchvision squeezenet1_0: 0.82 GFLOPS
    "mnasnet": (53, 314_415_872, 10),  # torchvision mnasnet1_0: 0.31 GFLOPS; paper (B1): 315M
    "bert_base_layer": (8, 931_135_488, 2),
}


def test_every_zoo_model_is_tested():
    assert set(EXPECTED) == set(zoo.ZOO)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_zoo_rows_and_macs(name):
    t = get_workload(name)
    rows, macs, edges = EXPECTED[name]
    assert len(t) == rows
    assert int(t.macs.sum()) == macs
    assert int((t.residual_from != NO_RESIDUAL).sum()) == edges
    assert t.name == name and len(set(t.layer_names)) == rows


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_residual_edges_join_equal_shapes(name):
    """The tensor added into layer i's output has layer i's output shape."""
    t = get_workload(name)
    out = np.stack([t.K, t.out_rows, t.out_cols], axis=1)
    for i in np.flatnonzero(t.residual_from != NO_RESIDUAL):
        r = int(t.residual_from[i])
        src = (t.C[0], t.Y[0], t.X[0]) if r == RESIDUAL_FROM_INPUT else tuple(out[r])
        if name.startswith("resnet") and r == 0:
            # the stem's output reaches layer1.0 through the 3x3 s2 p1 max-pool (not a row)
            src = (src[0], zoo.conv_out(src[1], 3, 2, 1), zoo.conv_out(src[2], 3, 2, 1))
        assert tuple(out[i]) == tuple(src), (name, i, r)


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet18", "resnet50", "vgg16", "mnasnet", "squeezenet"])
def test_consecutive_chain_shapes(name):
    """Along a plain chain, a layer's input channels equal some earlier output's channels."""
    t = get_workload(name)
    produced = {(int(t.C[0]), int(t.Y[0]))}
    for i in range(len(t)):
        if t.type[i] != LayerType.GEMM:
            assert any(c == t.C[i] for c, _ in produced) or name == "squeezenet", (name, i)
        produced.add((int(t.K[i]), int(t.out_rows[i])))


def test_mobilenet_v2_structure():
    t = get_workload("mobilenet_v2")
    assert (t.type == LayerType.DSCONV).sum() == 17
    assert (t.K[0], t.C[0], t.Y[0], t.R[0], t.stride[0], t.padding[0]) == (32, 3, 224, 3, 2, 1)
    assert (t.out_rows[0], t.out_rows[-2]) == (112, 7)
    assert (t.type[-1], t.K[-1], t.C[-1], t.Y[-1]) == (LayerType.GEMM, 1000, 1280, 1)
    # first residual: block features.3 (24->24, stride 1) adds features.2's output (its project conv)
    assert t.layer_names[8] == "features.3.conv.2" and t.residual_from[8] == 5
    assert t.layer_names[5] == "features.2.conv.2"
    assert np.all(t.padding[t.type == LayerType.DSCONV] == 1)


def test_resnet_residuals_follow_torchvision_forward_order():
    t = get_workload("resnet50")
    names = list(t.layer_names)
    # layer1.0: conv1, conv2, conv3, then downsample; the add is fused into downsample
    assert names[1:5] == ["layer1.0.conv1", "layer1.0.conv2", "layer1.0.conv3", "layer1.0.downsample.0"]
    assert t.residual_from[3] == NO_RESIDUAL and t.residual_from[4] == 3
    # layer1.1 identity shortcut: conv3 adds the block input, produced (after the add) by row 4
    assert names[7] == "layer1.1.conv3" and t.residual_from[7] == 4
    # v1.5: the stride is in conv2 (3x3) and in downsample
    i = names.index("layer2.0.conv2")
    assert t.stride[i] == 2 and t.stride[names.index("layer2.0.conv1")] == 1
    assert t.stride[names.index("layer2.0.downsample.0")] == 2
    r18 = get_workload("resnet18")
    # first block: identity shortcut around the max-pool -> from the stem conv (row 0)
    assert r18.layer_names[2] == "layer1.0.conv2" and r18.residual_from[2] == 0


def test_bert_layer_rows():
    t = get_workload("bert_base_layer")
    assert np.all(t.type == LayerType.GEMM) and np.all(t.Y == 128)
    assert t.groups.tolist() == [1, 1, 1, 12, 12, 1, 1, 1]
    assert t.residual_from.tolist() == [-1, -1, -1, -1, -1, RESIDUAL_FROM_INPUT, -1, 5]
    # per head scores (128x64)@(64x128) and context (128x128)@(128x64)
    assert t.macs[3] == t.macs[4] == 12 * 128 * 64 * 128
    assert t.macs[0] == 128 * 768 * 768 and t.macs[6] == t.macs[7] == 128 * 768 * 3072


def test_image_size_and_classes_are_parameters():
    small = zoo.resnet18(image_size=112, num_classes=10)
    assert small.Y[0] == 112 and small.K[-1] == 10
    assert zoo.bert_base_layer(seq_len=64).macs.sum() < get_workload("bert_base_layer").macs.sum()
    with pytest.raises(ValueError, match="heads"):
        zoo.bert_base_layer(hidden=100, heads=12)


@pytest.mark.parametrize("size,k,s,p,ceil,expect", [(109, 3, 2, 0, True, 54), (54, 3, 2, 0, True, 27),
                                                    (27, 3, 2, 0, True, 13), (55, 3, 2, 0, False, 27),
                                                    (112, 3, 2, 1, False, 56), (6, 3, 2, 0, True, 3)])
def test_conv_out(size, k, s, p, ceil, expect):
    assert zoo.conv_out(size, k, s, p, ceil) == expect
