"""The torch tracer, checked against torch re-definitions of torchvision's networks.

The modules below follow torchvision's code (same layer order and hyper-parameters; BN,
activations and dropout included so that fx sees the same graph), written here because
torchvision is not installed and nothing is downloaded.
"""

import math
import warnings

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from codesign_gym.costmodels.workloads import (  # noqa: E402
    NO_RESIDUAL,
    RESIDUAL_FROM_INPUT,
    LayerType,
    get_workload,
    trace,
)
from codesign_gym.costmodels.workloads.tracer import TraceError  # noqa: E402


# ----------------------------------------------------------------------------- MobileNetV2
def conv_bn_relu6(inp, out, k=3, stride=1, groups=1):
    return nn.Sequential(nn.Conv2d(inp, out, k, stride, (k - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(out), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = [] if expand_ratio == 1 else [conv_bn_relu6(inp, hidden, k=1)]
        layers += [conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                    (6, 320, 1, 1)]
        features = [conv_bn_relu6(3, 32, stride=2)]
        inp = 32
        for t, c, n, s in settings:
            for i in range(n):
                features.append(InvertedResidual(inp, c, s if i == 0 else 1, t))
                inp = c
        features.append(conv_bn_relu6(inp, 1280, k=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(torch.flatten(x, 1))


# ----------------------------------------------------------------------------- ResNet
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2)
        self.layer3 = self._make_layer(block, 256, layers[2], 2)
        self.layer4 = self._make_layer(block, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ----------------------------------------------------------------------------- VGG16, AlexNet
class VGG16(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
        layers, c = [], 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(nn.Linear(512 * 49, 4096), nn.ReLU(True), nn.Dropout(),
                                        nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class AlexNet(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(True), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(True), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(True),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(True),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(3, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(nn.Dropout(), nn.Linear(256 * 36, 4096), nn.ReLU(True), nn.Dropout(),
                                        nn.Linear(4096, 4096), nn.ReLU(True), nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# ----------------------------------------------------------------------------- SqueezeNet 1.0
class Fire(nn.Module):
    def __init__(self, inplanes, squeeze, e1, e3):
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze, 1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, e1, 1)
        self.expand3x3 = nn.Conv2d(squeeze, e3, 3, padding=1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.act(self.expand1x1(x)), self.act(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 7, 2), nn.ReLU(True), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
            nn.MaxPool2d(3, 2, ceil_mode=True), Fire(512, 64, 256, 256))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(512, num_classes, 1), nn.ReLU(True),
                                        nn.AdaptiveAvgPool2d((1, 1)))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


# ----------------------------------------------------------------------------- MNASNet 1.0
class MnasInvertedResidual(nn.Module):
    def __init__(self, inp, out, k, stride, e):
        super().__init__()
        mid = inp * e
        self.apply_residual = inp == out and stride == 1
        self.layers = nn.Sequential(
            nn.Conv2d(inp, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, k, padding=k // 2, stride=stride, groups=mid, bias=False), nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True), nn.Conv2d(mid, out, 1, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        return self.layers(x) + x if self.apply_residual else self.layers(x)


def _stack(inp, out, k, s, e, n):
    return nn.Sequential(MnasInvertedResidual(inp, out, k, s, e), *[MnasInvertedResidual(out, out, k, 1, e)
                                                                    for _ in range(n - 1)])


class MNASNet(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1, stride=2, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.Conv2d(32, 16, 1, bias=False), nn.BatchNorm2d(16),
            _stack(16, 24, 3, 2, 3, 3), _stack(24, 40, 5, 2, 3, 3), _stack(40, 80, 5, 2, 6, 3),
            _stack(80, 96, 3, 1, 6, 2), _stack(96, 192, 5, 2, 6, 4), _stack(192, 320, 3, 1, 6, 1),
            nn.Conv2d(320, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        return self.classifier(self.layers(x).mean([2, 3]))


# ----------------------------------------------------------------------------- BERT layer
class BertLayer(nn.Module):
    """HuggingFace BertLayer's computation (no mask, eval mode), hidden states (B, T, H) in."""

    def __init__(self, hidden=768, heads=12, ffn=3072):
        super().__init__()
        self.heads, self.d = heads, hidden // heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.attn_out = nn.Linear(hidden, hidden)
        self.ln1 = nn.LayerNorm(hidden)
        self.intermediate = nn.Linear(hidden, ffn)
        self.output = nn.Linear(ffn, hidden)
        self.ln2 = nn.LayerNorm(hidden)

    def split(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.d).permute(0, 2, 1, 3)

    def forward(self, h):
        q, k, v = self.split(self.query(h)), self.split(self.key(h)), self.split(self.value(h))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.d)
        ctx = torch.matmul(scores.softmax(-1), v).permute(0, 2, 1, 3).flatten(2)
        a = self.ln1(self.attn_out(ctx) + h)
        return self.ln2(self.output(nn.functional.gelu(self.intermediate(a))) + a)


# ----------------------------------------------------------------------------- tests
def test_mobilenet_v2_traces_to_zoo_table_and_published_macs():
    t = trace(MobileNetV2(), (1, 3, 224, 224))
    assert int(t.macs.sum()) == 300_774_272
    assert len(t) == 53
    zoo = get_workload("mobilenet_v2")
    for col in ("type", "K", "C", "Y", "X", "R", "S", "stride", "padding", "groups", "residual_from"):
        assert getattr(t, col).tolist() == getattr(zoo, col).tolist(), col
    assert t.equals(zoo)
    assert t.layer_names[:2] == ("features.0.0", "features.1.conv.0.0")


@pytest.mark.parametrize(
    "name,make",
    [
        ("resnet18", lambda: ResNet(BasicBlock, [2, 2, 2, 2])),
        ("resnet50", lambda: ResNet(Bottleneck, [3, 4, 6, 3])),
        ("vgg16", VGG16),
        ("alexnet", AlexNet),
        ("squeezenet", SqueezeNet),
        ("mnasnet", MNASNet),
    ],
)
def test_torch_definitions_trace_to_zoo_tables(name, make):
    torch.manual_seed(0)
    t = trace(make(), (1, 3, 224, 224))
    zoo = get_workload(name)
    assert t.equals(zoo), [(i, a, b) for i, (a, b) in enumerate(zip(t.to_rows(), zoo.to_rows())) if
                           {k: v for k, v in a.items() if k != "name"} != {k: v for k, v in b.items() if k != "name"}][:3]
    if name != "mnasnet":  # torchvision-like names (mnasnet's test module nests differently)
        assert t.layer_names == zoo.layer_names


def test_bert_layer_traces_to_zoo_table():
    t = trace(BertLayer(), (1, 128, 768))
    assert t.equals(get_workload("bert_base_layer"))
    assert t.residual_from.tolist()[5] == RESIDUAL_FROM_INPUT


def test_batch_size_is_ignored():
    t1 = trace(ResNet(BasicBlock, [1, 1, 1, 1]), (1, 3, 64, 64))
    t2 = trace(ResNet(BasicBlock, [1, 1, 1, 1]), (2, 3, 64, 64))
    assert t1.equals(t2)


def test_example_tensor_and_training_flag_restored():
    m = MobileNetV2(num_classes=10).train()
    t = trace(m, torch.zeros(1, 3, 32, 32), name="tiny")
    assert t.name == "tiny" and t.K[-1] == 10
    assert m.training and all(x.training for x in m.modules())


def test_grouped_and_depthwise_types():
    m = nn.Sequential(nn.Conv2d(8, 16, 3, groups=4), nn.Conv2d(16, 16, 3, groups=16), nn.Conv2d(16, 32, 1, groups=16))
    t = trace(m, (1, 8, 10, 10))
    assert t.type.tolist() == [LayerType.GROUPCONV, LayerType.DSCONV, LayerType.GROUPCONV]
    assert t.groups.tolist() == [4, 16, 16]


def test_linear_rows_are_leading_dims_except_batch():
    t = trace(nn.Sequential(nn.Linear(16, 8), nn.Linear(8, 4)), (3, 5, 7, 16))
    assert t.Y.tolist() == [35, 35] and t.K.tolist() == [8, 4] and t.C.tolist() == [16, 8]
    assert trace(nn.Linear(16, 8), (4, 16)).Y.tolist() == [1]


def test_non_square_kernel_is_fine_and_same_padding():
    t = trace(nn.Sequential(nn.Conv2d(3, 4, (1, 3), padding=0), nn.Conv2d(4, 4, 5, padding="same")), (1, 3, 9, 9))
    assert (t.R[0], t.S[0]) == (1, 3) and t.padding.tolist() == [0, 2]


@pytest.mark.parametrize(
    "conv,what",
    [
        (nn.Conv2d(3, 4, 3, stride=(1, 2)), "stride"),
        (nn.Conv2d(3, 4, 3, padding=(1, 0)), "padding"),
        (nn.Conv2d(3, 4, 3, dilation=2), "dilation"),
        (nn.Conv2d(3, 4, (3, 5), padding="same"), "same"),
    ],
)
def test_unrepresentable_conv_raises_naming_module(conv, what):
    m = nn.Sequential(nn.Conv2d(3, 3, 1), conv)
    with pytest.raises(ValueError) as err:
        trace(m, (1, 3, 16, 16))
    assert isinstance(err.value, TraceError)
    assert "'1'" in str(err.value) and what in str(err.value)


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        y = self.a(x)
        if y.sum() > -1e9:  # data-dependent branch: fx cannot trace it
            y = y + self.b(y)
        return y


def test_fx_failure_falls_back_to_hooks_with_warning():
    with pytest.warns(UserWarning, match="falling back to forward hooks"):
        t = trace(DataDependent(), (1, 3, 8, 8))
    assert len(t) == 2 and t.residual_from.tolist() == [NO_RESIDUAL, NO_RESIDUAL]
    assert t.layer_names == ("a", "b")


def test_residual_sources_through_ops():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(4, 4, 3, padding=1)
            self.b = nn.Conv2d(4, 4, 3, padding=1)
            self.c = nn.Conv2d(4, 4, 1)
            self.d = nn.Conv2d(4, 4, 1)
            self.bias = nn.Parameter(torch.zeros(1, 4, 1, 1))

        def forward(self, x):
            y = torch.relu(self.a(x)) + x  # a gets -2
            z = self.b(y) + self.bias  # bias add: no edge
            w = torch.cat([self.c(z), self.d(z)], 1)[:, :4]  # cat mixes producers: unknown
            return w + y  # no edge (unknown source)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = trace(Net(), (1, 4, 8, 8))
    assert t.residual_from.tolist() == [RESIDUAL_FROM_INPUT, -1, -1, -1]


def test_module_without_layers_raises():
    with pytest.raises(ValueError, match="no Conv2d"):
        trace(nn.ReLU(), (1, 3, 4, 4))


def test_unsupported_layer_warns():
    with pytest.warns(UserWarning, match="Conv1d"):
        trace(nn.Sequential(nn.Conv1d(3, 4, 3), nn.Flatten(), nn.Linear(24, 2)), (1, 3, 8))


def test_single_layer_module_and_functional_warning():
    t = trace(nn.Conv2d(3, 8, 3, stride=2, padding=1), (1, 3, 32, 32))
    assert (len(t), t.stride[0], t.padding[0], t.out_rows[0]) == (1, 2, 1, 16)

    class F(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(4, 3, 3, 3))
            self.fc = nn.Linear(4 * 6 * 6, 2)

        def forward(self, x):
            return self.fc(torch.flatten(nn.functional.conv2d(x, self.w), 1))

    with pytest.warns(UserWarning, match="functional call"):
        t = trace(F(), (1, 3, 8, 8))
    assert len(t) == 1 and t.type[0] == LayerType.GEMM


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=30, deadline=None)
@given(c=st.integers(1, 4), k=st.integers(1, 4), size=st.integers(4, 20), r=st.integers(1, 4), s=st.integers(1, 4),
       stride=st.integers(1, 3), padding=st.integers(0, 2))
def test_traced_conv_matches_torch_output_and_macs(c, k, size, r, s, stride, padding):
    conv = nn.Conv2d(c, k, (r, s), stride=stride, padding=padding)
    net = nn.Sequential(conv, nn.ReLU())
    t = trace(net, (1, c, size, size + 1))
    out = net(torch.zeros(1, c, size, size + 1))
    assert (int(t.K[0]), int(t.out_rows[0]), int(t.out_cols[0])) == tuple(out.shape[1:])
    assert int(t.macs[0]) == k * c * r * s * out.shape[2] * out.shape[3]
