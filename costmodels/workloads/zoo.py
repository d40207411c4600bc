"""A zoo of real networks as layer tables, generated from code (numpy only, no torch).

Each builder reproduces the reference architecture exactly: padding, strides, groups and
residual edges as in torchvision (or the BERT paper for ``bert_base_layer``), at batch 1.

Rules shared by every builder (the tracer, :func:`..tracer.trace`, follows the same ones):

* One row per ``Conv2d`` / ``Linear`` (and per attention matmul in BERT), in the execution
  order of the reference PyTorch ``forward``.
* Pooling, BatchNorm, activations, dropout, flatten and concatenation are not rows: they
  cost no MACs in this model. A residual edge passes through them (e.g. ResNet's first block
  adds the stem conv's output after the max-pool, so its ``residual_from`` is the stem conv).
* A classifier ``Linear(in, out)`` is a GEMM row with ``M = Y = 1``: ``K = out``, ``C = in``.
* Type: ``groups == 1`` is CONV, ``groups == C == K`` is DSCONV, other ``groups > 1`` GROUPCONV.
* A residual add is fused into the LATER of its two producers, ``residual_from`` naming the
  other producer (for an identity shortcut: the layer that produced the block input, or
  ``RESIDUAL_FROM_INPUT`` (-2) when that is the network input).

Layer names follow torchvision's module names (``features.1.conv.0``, ``layer1.0.conv1``...).
"""

from __future__ import annotations

from typing import Callable

from .layer_table import NO_RESIDUAL, RESIDUAL_FROM_INPUT, LayerTable, LayerType

#: (channels, rows, cols) of an activation, batch excluded.
Shape = tuple[int, int, int]


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0, ceil_mode: bool = False) -> int:
    """Output size of a conv / pool window along one axis: ``(size + 2p - k) // s + 1``.

    With ``ceil_mode`` (PyTorch pooling) the division rounds up, but the last window must
    start inside the (left-padded) input, as in PyTorch.
    """
    span = size + 2 * padding - kernel
    if span < 0:
        raise ValueError(f"kernel {kernel} is larger than the padded input {size}+2*{padding}")
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def layer_type(k: int, c: int, groups: int) -> LayerType:
    """CONV for groups == 1, DSCONV for groups == C == K, GROUPCONV otherwise."""
    if groups == 1:
        return LayerType.CONV
    if groups == c == k:
        return LayerType.DSCONV
    return LayerType.GROUPCONV


class NetBuilder:
    """Collects rows while a network is described layer by layer.

    Every method takes the input activation shape and returns the row index and the output
    shape, so branches (shortcuts, Fire modules) are explicit in the builder code.
    """

    def __init__(self, name: str):
        self.name = name
        self.rows: list[dict[str, object]] = []

    def conv(
        self,
        layer_name: str,
        x: Shape,
        out_channels: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        residual_from: int = NO_RESIDUAL,
    ) -> tuple[int, Shape]:
        """A ``Conv2d(x[0], out_channels, kernel, stride, padding, groups=groups)`` row."""
        c, h, w = x
        r, s = (kernel, kernel) if isinstance(kernel, int) else kernel
        self.rows.append(
            dict(name=layer_name, type=layer_type(out_channels, c, groups), K=out_channels, C=c, Y=h, X=w,
                 R=r, S=s, stride=stride, padding=padding, groups=groups, residual_from=residual_from)
        )
        out = (out_channels, conv_out(h, r, stride, padding), conv_out(w, s, stride, padding))
        return len(self.rows) - 1, out

    def gemm(
        self,
        layer_name: str,
        m: int,
        reduction: int,
        n: int,
        groups: int = 1,
        residual_from: int = NO_RESIDUAL,
    ) -> int:
        """A GEMM row ``(M x Kr) @ (Kr x N)`` per group: ``K = N*groups``, ``C = Kr*groups``, ``Y = M``.

        A ``Linear(in, out)`` on ``M`` rows is ``gemm(name, M, in, out)``.
        """
        self.rows.append(
            dict(name=layer_name, type=LayerType.GEMM, K=n * groups, C=reduction * groups, Y=m, X=1, R=1, S=1,
                 stride=1, padding=0, groups=groups, residual_from=residual_from)
        )
        return len(self.rows) - 1

    def table(self) -> LayerTable:
        return LayerTable.from_rows(self.name, self.rows)


def pool(x: Shape, kernel: int, stride: int, padding: int = 0, ceil_mode: bool = False) -> Shape:
    """Shape after a max / average pool (not a row)."""
    c, h, w = x
    return (c, conv_out(h, kernel, stride, padding, ceil_mode), conv_out(w, kernel, stride, padding, ceil_mode))


# ---------------------------------------------------------------------------- MobileNetV2
def mobilenet_v2(image_size: int = 224, num_classes: int = 1000) -> LayerTable:
    """MobileNetV2, width 1.0 (torchvision ``mobilenet_v2``; Sandler et al. 2018).

    52 convs + the classifier: 300,774,272 MACs at 224x224 with 1000 classes.
    """
    b = NetBuilder("mobilenet_v2")
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    last, x = b.conv("features.0.0", (3, image_size, image_size), 32, 3, stride=2, padding=1)
    feat = 1
    for t, c, n, s in settings:
        for i in range(n):
            stride = s if i == 0 else 1
            inp, block_in_producer = x[0], last
            hidden = inp * t
            prefix = f"features.{feat}.conv"
            j = 0
            h = x
            if t != 1:
                _, h = b.conv(f"{prefix}.0.0", h, hidden, 1)
                j = 1
            _, h = b.conv(f"{prefix}.{j}.0", h, hidden, 3, stride=stride, padding=1, groups=hidden)
            residual = block_in_producer if (stride == 1 and inp == c) else NO_RESIDUAL
            last, x = b.conv(f"{prefix}.{j + 1}", h, c, 1, residual_from=residual)
            feat += 1
    last, x = b.conv(f"features.{feat}.0", x, 1280, 1)
    b.gemm("classifier.1", 1, 1280, num_classes)
    return b.table()


# ---------------------------------------------------------------------------- ResNet
def _resnet(name: str, bottleneck: bool, blocks: tuple[int, int, int, int], image_size: int, num_classes: int) -> LayerTable:
    """torchvision ResNet (v1.5: the stride sits in the 3x3 conv of a Bottleneck).

    Per block the forward runs conv1, conv2(, conv3), then ``downsample``; the residual add
    is fused into the later producer: the downsample conv when there is one (its
    ``residual_from`` is the block's last main-path conv), else the last main-path conv
    (``residual_from`` = the layer that produced the block input).
    """
    b = NetBuilder(name)
    last, x = b.conv("conv1", (3, image_size, image_size), 64, 7, stride=2, padding=3)
    x = pool(x, 3, 2, 1)
    expansion = 4 if bottleneck else 1
    for stage, (planes, n) in enumerate(zip((64, 128, 256, 512), blocks)):
        for i in range(n):
            stride = 2 if (stage > 0 and i == 0) else 1
            p = f"layer{stage + 1}.{i}"
            block_in, block_in_producer = x, last
            needs_down = stride != 1 or x[0] != planes * expansion
            if bottleneck:
                _, h = b.conv(f"{p}.conv1", x, planes, 1)
                _, h = b.conv(f"{p}.conv2", h, planes, 3, stride=stride, padding=1)
                main_name, main_k, main_kernel, main_stride, main_pad = f"{p}.conv3", planes * 4, 1, 1, 0
            else:
                _, h = b.conv(f"{p}.conv1", x, planes, 3, stride=stride, padding=1)
                main_name, main_k, main_kernel, main_stride, main_pad = f"{p}.conv2", planes, 3, 1, 1
            main_res = NO_RESIDUAL if needs_down else block_in_producer
            last, x = b.conv(main_name, h, main_k, main_kernel, main_stride, main_pad, residual_from=main_res)
            if needs_down:
                last, x = b.conv(f"{p}.downsample.0", block_in, planes * expansion, 1, stride=stride, residual_from=last)
    b.gemm("fc", 1, x[0], num_classes)
    return b.table()


def resnet18(image_size: int = 224, num_classes: int = 1000) -> LayerTable:
    """ResNet-18 (torchvision ``resnet18``): 20 convs + fc, 1,814,073,344 MACs at 224x224."""
    return _resnet("resnet18", False, (2, 2, 2, 2), image_size, num_classes)


def resnet50(image_size: int = 224, num_classes: int = 1000) -> LayerTable:
    """ResNet-50 v1.5 (torchvision ``resnet50``): 53 convs + fc, 4,089,184,256 MACs at 224x224."""
    return _resnet("resnet50", True, (3, 4, 6, 3), image_size, num_classes)


# ---------------------------------------------------------------------------- VGG16
def vgg16(image_size: int = 224, num_classes: int = 1000) -> LayerTable:
    """VGG-16 without BN (torchvision ``vgg16``, config D): 13 convs + 3 FC,
    15,470,264,320 MACs at 224x224. The adaptive average pool to 7x7 is an identity at 224."""
    b = NetBuilder("vgg16")
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    x: Shape = (3, image_size, image_size)
    seq = 0  # index in torchvision's features Sequential: conv, relu per conv; one slot per pool
    for v in cfg:
        if v == "M":
            x = pool(x, 2, 2)
            seq += 1
        else:
            _, x = b.conv(f"features.{seq}", x, int(v), 3, padding=1)
            seq += 2
    b.gemm("classifier.0", 1, 512 * 7 * 7, 4096)
    b.gemm("classifier.3", 1, 4096, 4096)
    b.gemm("classifier.6", 1, 4096, num_classes)
    return b.table()


# ---------------------------------------------------------------------------- AlexNet
def alexnet(image_size: int = 224, num_classes: int = 1000) -> LayerTable:
    """AlexNet as in torchvision ``alexnet`` (the one-GPU variant of Krizhevsky 2014, 64 first
    filters): 5 convs + 3 FC, 714,188,480 MACs at 224x224. Adaptive pool to 6x6 is an
    identity at 224."""
    b = NetBuilder("alexnet")
    _, x = b.conv("features.0", (3, image_size, image_size), 64, 11, stride=4, padding=2)
    x = pool(x, 3, 2)
    _, x = b.conv("features.3", x, 192, 5, padding=2)
    x = pool(x, 3, 2)
    _, x = b.conv("features.6", x, 384, 3, padding=1)
    _, x = b.conv("features.8", x, 256, 3, padding=1)
    _, x = b.conv("features.10", x, 256, 3, padding=1)
    b.gemm("classifier.1", 1, 256 * 6 * 6, 4096)
    b.gemm("classifier.4", 1, 4096, 4096)
    b.gemm("classifier.6", 1, 4096, num_classes)
    return b.table()


# ---------------------------------------------------------------------------- SqueezeNet
def squeezenet(image_size: int = 224, num_classes: int = 1000) -> LayerTable:
    """SqueezeNet 1.0 (torchvision ``squeezenet1_0``; Iandola et al. 2016): 26 convs,
    the last a 1x1 conv classifier (no Linear). Max-pools use ``ceil_mode=True``.
    Fire module rows: squeeze 1x1, expand 1x1, expand 3x3 (padding 1); their outputs are
    concatenated (not a row)."""
    b = NetBuilder("squeezenet")
    _, x = b.conv("features.0", (3, image_size, image_size), 96, 7, stride=2)

    def fire(idx: int, x: Shape, squeeze: int, e1: int, e3: int) -> Shape:
        _, s = b.conv(f"features.{idx}.squeeze", x, squeeze, 1)
        _, a = b.conv(f"features.{idx}.expand1x1", s, e1, 1)
        _, c = b.conv(f"features.{idx}.expand3x3", s, e3, 3, padding=1)
        return (a[0] + c[0], a[1], a[2])

    x = pool(x, 3, 2, ceil_mode=True)
    x = fire(3, x, 16, 64, 64)
    x = fire(4, x, 16, 64, 64)
    x = fire(5, x, 32, 128, 128)
    x = pool(x, 3, 2, ceil_mode=True)
    x = fire(7, x, 32, 128, 128)
    x = fire(8, x, 48, 192, 192)
    x = fire(9, x, 48, 192, 192)
    x = fire(10, x, 64, 256, 256)
    x = pool(x, 3, 2, ceil_mode=True)
    x = fire(12, x, 64, 256, 256)
    b.conv("classifier.1", x, num_classes, 1)
    return b.table()


# ---------------------------------------------------------------------------- MnasNet
def mnasnet(image_size: int = 224, num_classes: int = 1000) -> LayerTable:
    """MNASNet 1.0 as in torchvision ``mnasnet1_0``: the B1 variant of Tan et al. 2019
    (no squeeze-and-excitation), depth multiplier 1.0. 52 convs + the classifier.

    Stem: 3x3 s2 conv 32, depthwise 3x3 32, 1x1 conv 16 (no residual). Then inverted
    residual stacks (out, kernel, stride, expansion, repeats) = (24,3,2,3,3), (40,5,2,3,3),
    (80,5,2,6,3), (96,3,1,6,2), (192,5,2,6,4), (320,3,1,6,1); a residual add when
    ``stride == 1 and in == out``. Last 1x1 conv 1280, then Linear(1280, classes).
    """
    b = NetBuilder("mnasnet")
    _, x = b.conv("layers.0", (3, image_size, image_size), 32, 3, stride=2, padding=1)
    _, x = b.conv("layers.3", x, 32, 3, padding=1, groups=32)
    last, x = b.conv("layers.6", x, 16, 1)
    stacks = [(24, 3, 2, 3, 3), (40, 5, 2, 3, 3), (80, 5, 2, 6, 3), (96, 3, 1, 6, 2), (192, 5, 2, 6, 4), (320, 3, 1, 6, 1)]
    for si, (out, k, s, e, n) in enumerate(stacks):
        for i in range(n):
            stride = s if i == 0 else 1
            p = f"layers.{8 + si}.{i}.layers"
            inp, producer = x[0], last
            mid = inp * e
            _, h = b.conv(f"{p}.0", x, mid, 1)
            _, h = b.conv(f"{p}.3", h, mid, k, stride=stride, padding=k // 2, groups=mid)
            res = producer if (stride == 1 and inp == out) else NO_RESIDUAL
            last, x = b.conv(f"{p}.6", h, out, 1, residual_from=res)
    _, x = b.conv("layers.14", x, 1280, 1)
    b.gemm("classifier.1", 1, 1280, num_classes)
    return b.table()


# ---------------------------------------------------------------------------- BERT
def bert_base_layer(seq_len: int = 128, hidden: int = 768, heads: int = 12, ffn: int = 3072) -> LayerTable:
    """One BERT-base encoder layer (Devlin et al. 2019) at batch 1, as 8 GEMM rows.

    Rows, in the order of HuggingFace's ``BertLayer.forward``:

    0-2. ``query``, ``key``, ``value``: three separate ``Linear(hidden, hidden)`` on
         ``seq_len`` tokens (as in the reference implementation; not one fused 768->2304).
    3.   ``attention_scores``: per head ``Q_h (seq x d) @ K_h^T (d x seq)``, ``d = hidden/heads``;
         a grouped GEMM, ``groups = heads``, ``K = heads*seq``, ``C = heads*d = hidden``, ``Y = seq``.
    4.   ``attention_context``: per head ``P_h (seq x seq) @ V_h (seq x d)``; ``K = hidden``,
         ``C = heads*seq``, ``Y = seq``, ``groups = heads``.
    5.   ``attention.output.dense``: ``Linear(hidden, hidden)``, residual from the layer input (-2).
    6.   ``intermediate.dense``: ``Linear(hidden, ffn)``.
    7.   ``output.dense``: ``Linear(ffn, hidden)``, residual from row 5 (through LayerNorm).

    Softmax, scaling, LayerNorm and GELU are not rows. 931,135,488 MACs at the defaults.
    """
    if hidden % heads:
        raise ValueError(f"hidden={hidden} must be a multiple of heads={heads}")
    d = hidden // heads
    b = NetBuilder("bert_base_layer")
    for proj in ("query", "key", "value"):
        b.gemm(f"attention.self.{proj}", seq_len, hidden, hidden)
    b.gemm("attention.self.scores", seq_len, d, seq_len, groups=heads)
    b.gemm("attention.self.context", seq_len, seq_len, d, groups=heads)
    attn_out = b.gemm("attention.output.dense", seq_len, hidden, hidden, residual_from=RESIDUAL_FROM_INPUT)
    b.gemm("intermediate.dense", seq_len, hidden, ffn)
    b.gemm("output.dense", seq_len, ffn, hidden, residual_from=attn_out)
    return b.table()


#: Zoo name -> builder (all keyword arguments have defaults).
ZOO: dict[str, Callable[..., LayerTable]] = {
    "alexnet": alexnet,
    "bert_base_layer": bert_base_layer,
    "mnasnet": mnasnet,
    "mobilenet_v2": mobilenet_v2,
    "resnet18": resnet18,
    "resnet50": resnet50,
    "squeezenet": squeezenet,
    "vgg16": vgg16,
}
