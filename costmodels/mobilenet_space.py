"""A MobileNetV2-style network space (width, resolution, per-block kernel and expansion).

The space MCUNet / ProxylessNAS search on microcontrollers: torchvision's MobileNetV2 layout
(stem 3x3 s2 conv 32, 17 inverted-residual blocks in 7 stages, last 1x1 conv 1280, classifier)
with

* ``width``: channel multiplier, channels rounded as torchvision's ``_make_divisible(c * w, 8)``
  (the last conv keeps 1280 unless ``width > 1``);
* ``resolution``: input image side (square);
* ``kernels``: the depthwise kernel of each of the 17 blocks (odd, padding ``k // 2``);
* ``expansions``: the expansion ratio of blocks 2..17 (16 values, each >= 2; block 1 has none,
  as in MobileNetV2, so every variant has the same 53 rows in the same order).

``mobilenet_v2_variant()`` at its defaults is exactly ``workloads.zoo.mobilenet_v2()``. Layer
names follow torchvision's (``features.<k>...``); :func:`block_output_layers` gives the row that
ends the stem and each block, the natural split points of patch-based inference.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from codesign_gym.costmodels.workloads import NO_RESIDUAL, LayerTable
from codesign_gym.costmodels.workloads.zoo import NetBuilder

#: MobileNetV2's stages: (expansion t, output channels c, repeats n, first stride s).
MBV2_STAGES: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)
#: Inverted-residual blocks in MobileNetV2.
NUM_BLOCKS = 17


def make_divisible(value: float, divisor: int = 8) -> int:
    """torchvision's ``_make_divisible``: round to a multiple of ``divisor``, never below 90% of ``value``."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return int(new)


def mobilenet_v2_variant(
    width: float = 1.0,
    resolution: int = 224,
    kernels: Sequence[int] | None = None,
    expansions: Sequence[int] | None = None,
    num_classes: int = 1000,
) -> LayerTable:
    """Layer table of one MobileNetV2-style network (see the module docstring).

    Args:
        width: channel multiplier, > 0.
        resolution: input side in pixels, >= 32 (the network downsamples 32x).
        kernels: 17 odd depthwise kernel sizes (default all 3).
        expansions: 16 expansion ratios >= 2 for blocks 2..17 (default MobileNetV2's, all 6).
        num_classes: classifier outputs.

    Raises:
        ValueError: naming the bad value and what was expected.
    """
    if not isinstance(width, (int, float, np.integer, np.floating)) or not np.isfinite(width) or width <= 0:
        raise ValueError(f"width={width!r}; expected a positive multiplier such as 0.35, 0.5, 0.75, 1.0")
    if not isinstance(resolution, (int, np.integer)) or resolution < 32:
        raise ValueError(f"resolution={resolution!r}; expected an integer >= 32 pixels")
    kernels = [3] * NUM_BLOCKS if kernels is None else [int(k) for k in kernels]
    if len(kernels) != NUM_BLOCKS or any(k < 1 or k % 2 == 0 for k in kernels):
        raise ValueError(f"kernels={kernels!r}; expected {NUM_BLOCKS} odd positive sizes, one per block")
    expansions = [6] * (NUM_BLOCKS - 1) if expansions is None else [int(e) for e in expansions]
    if len(expansions) != NUM_BLOCKS - 1 or any(e < 2 for e in expansions):
        raise ValueError(f"expansions={expansions!r}; expected {NUM_BLOCKS - 1} ratios >= 2 (blocks 2..17)")
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"num_classes={num_classes!r}; expected a positive integer")

    b = NetBuilder("mobilenet_v2" if (width == 1.0 and resolution == 224 and set(kernels) == {3} and set(expansions) == {6})
                   else f"mobilenet_v2_w{width:g}_r{resolution}")
    stem = make_divisible(32 * width)
    last, x = b.conv("features.0.0", (3, int(resolution), int(resolution)), stem, 3, stride=2, padding=1)
    feat, block = 1, 0
    for t, c, n, s in MBV2_STAGES:
        out_c = make_divisible(c * width)
        for i in range(n):
            stride = s if i == 0 else 1
            k = kernels[block]
            ratio = 1 if block == 0 else expansions[block - 1]
            inp, producer = x[0], last
            prefix = f"features.{feat}.conv"
            h, j = x, 0
            if block > 0:
                _, h = b.conv(f"{prefix}.0.0", h, inp * ratio, 1)
                j = 1
            hidden = h[0]
            _, h = b.conv(f"{prefix}.{j}.0", h, hidden, k, stride=stride, padding=k // 2, groups=hidden)
            residual = producer if (stride == 1 and inp == out_c) else NO_RESIDUAL
            last, x = b.conv(f"{prefix}.{j + 1}", h, out_c, 1, residual_from=residual)
            feat += 1
            block += 1
    b.conv(f"features.{feat}.0", x, make_divisible(1280 * max(1.0, width)), 1)
    b.gemm("classifier.1", 1, make_divisible(1280 * max(1.0, width)), int(num_classes))
    return b.table()


def block_output_layers(table: LayerTable) -> np.ndarray:
    """Rows that end ``features.0`` (the stem) and each following ``features.<k>`` block except
    the last conv (``features.18``), int64 ascending: 18 rows for MobileNetV2."""
    prefixes = [".".join(name.split(".")[:2]) for name in table.layer_names]
    ends = [i for i in range(len(prefixes)) if prefixes[i].startswith("features.") and (i + 1 == len(prefixes) or prefixes[i + 1] != prefixes[i])]
    if len(ends) < 2:
        raise ValueError(f"layer table {table.name!r} has no features.<k> blocks; expected torchvision MobileNetV2 layer names")
    return np.asarray(ends[:-1], dtype=np.int64)


#: Published ImageNet checkpoints of MobileNetV2 (TF-slim), ``(width, resolution) ->
#: (MACs in millions, parameters in millions, float top-1 %)``, 1001 classes, default kernels
#: and expansions. Source: tensorflow/models, ``research/slim/nets/mobilenet/README.md``,
#: "Mobilenet V2 Imagenet Checkpoints" (Apache-2.0). The accuracies are those of the float
#: models; int8 accuracy is not published there and is not modelled.
PUBLISHED_MBV2: dict[tuple[float, int], tuple[int, float, float]] = {
    (1.4, 224): (582, 6.06, 75.0), (1.3, 224): (509, 5.34, 74.4),
    (1.0, 224): (300, 3.47, 71.8), (1.0, 192): (221, 3.47, 70.7), (1.0, 160): (154, 3.47, 68.8),
    (1.0, 128): (99, 3.47, 65.3), (1.0, 96): (56, 3.47, 60.3),
    (0.75, 224): (209, 2.61, 69.8), (0.75, 192): (153, 2.61, 68.7), (0.75, 160): (107, 2.61, 66.4),
    (0.75, 128): (69, 2.61, 63.2), (0.75, 96): (39, 2.61, 58.8),
    (0.5, 224): (97, 1.95, 65.4), (0.5, 192): (71, 1.95, 63.9), (0.5, 160): (50, 1.95, 61.0),
    (0.5, 128): (32, 1.95, 57.7), (0.5, 96): (18, 1.95, 51.2),
    (0.35, 224): (59, 1.66, 60.3), (0.35, 192): (43, 1.66, 58.2), (0.35, 160): (30, 1.66, 55.7),
    (0.35, 128): (20, 1.66, 50.8), (0.35, 96): (11, 1.66, 45.5),
}


def published_top1(width: float, resolution: int) -> float | None:
    """Published float ImageNet top-1 (%) of MobileNetV2 at ``(width, resolution)`` with default
    kernels and expansions (:data:`PUBLISHED_MBV2`), or ``None`` where none is published."""
    entry = PUBLISHED_MBV2.get((float(width), int(resolution)))
    return None if entry is None else entry[2]
