"""AttentiveNAS backbones a0..a6 with HADAS's exit heads, as exact per-block work tables.

The configurations (resolution, widths, depths, kernels, expansions, exit positions ``block_ee``)
and the supernet's fixed choices (strides, SE, head) come from HADAS's
``eval_attentive_nas_exits_cifar.yml`` (shipped in ``data/hadas``). The layer structure follows
AttentiveNAS's static subnet (facebookresearch/AttentiveNAS ``models/modules/static_layers.py``,
``attentive_nas_dynamic_model.py``) as HADAS uses it:

- stem: 3x3 conv stride 2 (pad 1), BN, swish;
- each MBConv block: [1x1 expand conv, BN, swish] (absent when the expansion is 1), kxk depthwise
  conv (pad k//2), BN, swish, [SE: global pool, 1x1 conv to ``make_divisible(mid // 4, 8)``
  with bias, ReLU, 1x1 conv back with bias, h-sigmoid, multiply], 1x1 projection conv, BN; the
  shortcut is the identity, or a 2x2 average pool (stride 2, padding 1 on odd sizes) when the
  block strides, and a 1x1 conv when the channels change; then the add. The middle width is
  ``make_divisible(round(C_in * t), 8)``;
- head (``use_v3_head``): 1x1 conv to ``6 * C``, BN, swish, global pool, 1x1 conv to the last
  width (no BN), swish, linear classifier (with bias);
- HADAS's exit head (``models/modules/exit_block.py``) after block ``i`` of ``block_ee``
  (0-based over the MBConv blocks): 3x3 conv to 224 channels **without padding**, BN,
  LeakyReLU, global pool, a linear classifier and a linear + sigmoid confidence head.

Per segment (stem, each block, each exit head, final head) the tables hold MACs (conv and linear
multiply-accumulates, AttentiveNAS's FLOPs counter), FLOPs (2 x MACs plus one per output element
of every BN, activation, pool, add and multiply layer), parameters (conv/linear weights and
biases, 4 per BN channel as Keras counts them), activations (output elements summed over every
layer, Keras-style), layers (every conv, BN, activation, pool, add and multiply), bytes moved
``4 * (parameters + activations)`` (FP32), the parameters of the linear (fully connected) layers
among them, and the input elements the host copies in (the image, stem only). The same
definitions describe the measured networks the timing and power models are fitted on (their
``nb_params_fc`` and ``input_size`` columns; see :mod:`.fit`), so the fitted scale applies to
these tables.
"""

from __future__ import annotations

import dataclasses
import functools
from importlib import resources

import numpy as np

BACKBONES: tuple[str, ...] = ("a0", "a1", "a2", "a3", "a4", "a5", "a6")
#: Classes of the datasets HADAS trained exits on.
DATASET_CLASSES: dict[str, int] = {"cifar-100": 100, "tiny-imagenet": 200}
#: Output channels of HADAS's exit conv (``ExitBlock(conv_features=224)``).
EXIT_CONV_CHANNELS = 224
#: Bytes per element (FP32 inference, as measured).
BYTES_PER_ELEMENT = 4
FEATURES = ("macs", "flops", "params", "activations", "layers", "bytes", "fc_params", "input_elements")


def make_divisible(v: float, divisor: int = 8) -> int:
    """OFA/AttentiveNAS ``make_divisible`` (``min_val = divisor``; never below 90% of ``v``)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return int(new_v)


@dataclasses.dataclass(frozen=True)
class BackboneConfig:
    """One AttentiveNAS subnet: ``width`` (9: stem, 7 stages, last), ``kernel``/``expand``/``depth`` (7)."""

    name: str
    resolution: int
    width: tuple[int, ...]
    kernel: tuple[int, ...]
    expand: tuple[int, ...]
    depth: tuple[int, ...]
    block_ee: tuple[int, ...]

    @property
    def num_blocks(self) -> int:
        return int(sum(self.depth))

    @property
    def num_exits(self) -> int:
        return len(self.block_ee)


class _Counter:
    """Accumulates the work of one segment, layer by layer."""

    def __init__(self):
        self.macs = self.flops = self.params = self.activations = self.layers = self.fc_params = self.input_elements = 0

    def conv(self, cin: int, cout: int, k: int, hout: int, groups: int = 1, bias: bool = False) -> None:
        macs = cin // groups * cout * k * k * hout * hout
        self.macs += macs
        self.flops += 2 * macs
        self.params += cin // groups * cout * k * k + (cout if bias else 0)
        self.activations += cout * hout * hout
        self.layers += 1

    def linear(self, fin: int, fout: int) -> None:
        self.macs += fin * fout
        self.flops += 2 * fin * fout
        self.params += fin * fout + fout
        self.fc_params += fin * fout + fout
        self.activations += fout
        self.layers += 1

    def elementwise(self, elements: int, bn_channels: int = 0) -> None:
        """A BN (``bn_channels`` > 0: 4 parameters per channel), activation, pool, add or multiply."""
        self.flops += elements
        self.params += 4 * bn_channels
        self.activations += elements
        self.layers += 1

    def row(self) -> tuple[int, ...]:
        return (self.macs, self.flops, self.params, self.activations, self.layers,
                BYTES_PER_ELEMENT * (self.params + self.activations), self.fc_params, self.input_elements)


@dataclasses.dataclass(frozen=True)
class BackboneWork:
    """Work tables of one backbone with exits for ``num_classes`` classes (int64 arrays).

    ``stem`` (8,), ``blocks`` (B, 8), ``exits`` (E, 8), ``head`` (8,): columns in
    :data:`FEATURES` order. ``exit_after[e]`` is the block (0-based) exit ``e`` follows;
    ``block_out[b]`` = (channels, side) of block ``b``'s output.
    """

    config: BackboneConfig
    num_classes: int
    stem: np.ndarray
    blocks: np.ndarray
    exits: np.ndarray
    head: np.ndarray
    exit_after: np.ndarray
    block_out: np.ndarray

    def total(self, column: str) -> int:
        """Static network (no exits) total of one column of :data:`FEATURES`."""
        c = FEATURES.index(column)
        return int(self.stem[c] + self.blocks[:, c].sum() + self.head[c])


def _exit_head(cin: int, side: int, num_classes: int) -> tuple[int, ...]:
    c = _Counter()
    hout = side - 2  # 3x3 conv, stride 1, no padding
    if hout < 1:
        raise ValueError(f"an exit head needs a feature map of at least 3x3; got {side}x{side}")
    c.conv(cin, EXIT_CONV_CHANNELS, 3, hout)
    c.elementwise(EXIT_CONV_CHANNELS * hout * hout, bn_channels=EXIT_CONV_CHANNELS)
    c.elementwise(EXIT_CONV_CHANNELS * hout * hout)  # LeakyReLU
    c.elementwise(EXIT_CONV_CHANNELS)  # global pool
    c.linear(EXIT_CONV_CHANNELS, 1)  # confidence
    c.elementwise(1)  # sigmoid
    c.linear(EXIT_CONV_CHANNELS, num_classes)
    return c.row()


def backbone_work(config: BackboneConfig, num_classes: int, strides: tuple[int, ...], se: tuple[bool, ...]) -> BackboneWork:
    """Exact work tables of ``config`` (see the module docstring); ``strides``/``se`` per stage."""
    r = config.resolution
    stem = _Counter()
    stem.input_elements = 3 * r * r  # the RGB image the host feeds in
    side = (r + 2 - 3) // 2 + 1
    c0 = config.width[0]
    stem.conv(3, c0, 3, side)
    stem.elementwise(c0 * side * side, bn_channels=c0)
    stem.elementwise(c0 * side * side)
    blocks, outs = [], []
    cin = c0
    for stage in range(7):
        cout, k, t = config.width[stage + 1], config.kernel[stage], config.expand[stage]
        for i in range(config.depth[stage]):
            st = strides[stage] if i == 0 else 1
            b = _Counter()
            mid = make_divisible(round(cin * t), 8)
            if t != 1:
                b.conv(cin, mid, 1, side)
                b.elementwise(mid * side * side, bn_channels=mid)
                b.elementwise(mid * side * side)
            hout = (side + 2 * (k // 2) - k) // st + 1
            b.conv(mid, mid, k, hout, groups=mid)
            b.elementwise(mid * hout * hout, bn_channels=mid)
            b.elementwise(mid * hout * hout)
            if se[stage]:
                se_mid = make_divisible(mid // 4, 8)
                b.elementwise(mid)  # global pool
                b.conv(mid, se_mid, 1, 1, bias=True)
                b.elementwise(se_mid)  # ReLU
                b.conv(se_mid, mid, 1, 1, bias=True)
                b.elementwise(mid)  # h-sigmoid
                b.elementwise(mid * hout * hout)  # multiply
            b.conv(mid, cout, 1, hout)
            b.elementwise(cout * hout * hout, bn_channels=cout)
            if not (cin == cout and st == 1):
                hs = side
                if st > 1:
                    pad = 0 if side % 2 == 0 else 1
                    hs = (side + 2 * pad - 2) // 2 + 1
                    b.elementwise(cin * hs * hs)  # average pool
                if hs != hout:
                    raise ValueError(f"{config.name}: shortcut side {hs} != block output side {hout}")
                if cin != cout:
                    b.conv(cin, cout, 1, hs)
            b.elementwise(cout * hout * hout)  # add
            blocks.append(b.row())
            outs.append((cout, hout))
            cin, side = cout, hout
    head = _Counter()
    expand = 6 * cin
    head.conv(cin, expand, 1, side)
    head.elementwise(expand * side * side, bn_channels=expand)
    head.elementwise(expand * side * side)
    head.elementwise(expand)  # global pool
    head.conv(expand, config.width[-1], 1, 1)
    head.elementwise(config.width[-1])
    head.linear(config.width[-1], num_classes)
    nb = len(blocks)
    for e in config.block_ee:
        if not 0 <= e < nb:
            raise ValueError(f"{config.name}: exit position {e} is outside blocks 0..{nb - 1}")
    exits = [_exit_head(outs[e][0], outs[e][1], num_classes) for e in config.block_ee]
    as_int = lambda rows: np.asarray(rows, dtype=np.int64)  # noqa: E731
    return BackboneWork(config, num_classes, as_int(stem.row()), as_int(blocks), as_int(exits).reshape(-1, len(FEATURES)),
                        as_int(head.row()), np.asarray(config.block_ee, dtype=np.int64), as_int(outs))


@functools.lru_cache(maxsize=1)
def _yaml() -> dict:
    import yaml

    path = resources.files("codesign_gym.costmodels.xavier").joinpath("data", "hadas", "eval_attentive_nas_exits_cifar.yml")
    return yaml.safe_load(path.read_text())


def check_backbone(name: str) -> None:
    if name not in BACKBONES:
        raise ValueError(f"backbone {name!r} is not known; expected one of {list(BACKBONES)}")


def check_dataset(dataset: str) -> None:
    if dataset not in DATASET_CLASSES:
        raise ValueError(f"dataset {dataset!r} is not known; expected one of {list(DATASET_CLASSES)}")


@functools.lru_cache(maxsize=None)
def backbone_config(name: str) -> BackboneConfig:
    """HADAS's configuration of backbone ``name`` (a0..a6)."""
    check_backbone(name)
    m = _yaml()["pareto_models"][name]
    cfg = BackboneConfig(name, int(m["resolution"]), tuple(m["width"]), tuple(m["kernel_size"]), tuple(m["expand_ratio"]),
                         tuple(m["depth"]), tuple(int(b) for b in m["block_ee"]))
    if len(cfg.block_ee) != int(m["num_ee"]):
        raise ValueError(f"{name}: block_ee has {len(cfg.block_ee)} entries but num_ee is {m['num_ee']}")
    return cfg


def supernet_stages() -> tuple[tuple[int, ...], tuple[bool, ...]]:
    """Stride and SE flag of the 7 MBConv stages (``supernet_config`` mb1..mb7)."""
    sc = _yaml()["supernet_config"]
    names = [f"mb{i}" for i in range(1, 8)]
    return tuple(int(sc[n]["s"]) for n in names), tuple(bool(sc[n]["se"]) for n in names)


@functools.lru_cache(maxsize=None)
def load_backbone(name: str, dataset: str = "cifar-100", num_classes: int | None = None) -> BackboneWork:
    """Work tables of backbone ``name`` with its exits, classifier sized for ``dataset`` (or
    ``num_classes``, e.g. 1000 for the ImageNet FLOPs AttentiveNAS publishes)."""
    check_backbone(name)
    if num_classes is None:
        check_dataset(dataset)
        num_classes = DATASET_CLASSES[dataset]
    strides, se = supernet_stages()
    return backbone_work(backbone_config(name), int(num_classes), strides, se)
