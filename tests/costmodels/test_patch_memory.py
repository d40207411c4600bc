"""The MCUNetV2 peak-memory model: the paper's check values, an independent element-level
reference on small networks, the MobileNetV2 space against TF-slim's published table, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from codesign_gym.costmodels.mobilenet_space import (
    PUBLISHED_MBV2,
    block_output_layers,
    mobilenet_v2_variant,
    published_top1,
)
from codesign_gym.costmodels.patch_memory import (
    NO_SPLIT,
    layerwise_step_bytes,
    patch_memory,
    receptive_field,
    valid_split_layers,
)
from codesign_gym.costmodels.workloads import LayerType, get_workload
from codesign_gym.experiments.cli import main


@pytest.fixture(scope="module")
def mbv2():
    return get_workload("mobilenet_v2")


# ------------------------------------------------------------------ the check values
def test_layerwise_peak_of_mobilenet_v2_is_1372_kib(mbv2):
    res = patch_memory(mbv2, NO_SPLIT, 1)
    # block 2's 1x1 expansion: 112*112*(16+96) int8 bytes
    assert res.peak_bytes == 112 * 112 * (16 + 96)
    assert float(res.peak_kib) == 1372.0
    assert int(np.argmax(layerwise_step_bytes(mbv2))) == 3  # features.2.conv.0.0
    assert res.macs == 300_774_272 and res.extra_macs == 0


def test_4x4_patches_to_28x28x32_peak_is_171_5_kib(mbv2):
    split = 11  # the last row of features.4: the first 5 blocks counting the stem
    res = patch_memory(mbv2, split, 4)
    assert res.split_output_shape.tolist() == [28, 28, 32]
    assert float(res.peak_kib) == 171.5 and res.peak_bytes == 28 * 28 * (32 + 192)
    assert float(res.layerwise_peak_kib) == 1372.0
    assert res.patch_stage_peak_bytes < res.peak_bytes  # the patch stage is not the bottleneck
    # each 7x7 output patch needs a 75x75 input patch
    assert receptive_field(mbv2, split, 7) == 75
    assert res.input_patch_rows == 75 and res.input_patch_cols == 75
    # the paper's ~10% extra compute
    assert 0.08 < res.extra_macs / (res.macs - res.extra_macs) < 0.11


# ------------------------------------------------------------------ an independent reference
def _needed(out_idx: set[int], stride: int, pad: int, k: int, size: int) -> set[int]:
    """Input indices (of ``size``) that the output indices depend on, element by element."""
    return {i for o in out_idx for i in range(o * stride - pad, o * stride - pad + k) if 0 <= i < size}


def _reference(table, split: int, grid: int) -> tuple[int, int, int]:
    """(peak bytes, patch-stage peak bytes, MACs) by explicit sets and live-tensor lists."""
    n = len(table)
    H, W = table.out_rows, table.out_cols
    per_px = table.K * table.C * table.R * table.S // table.groups
    dw = table.type == LayerType.DSCONV
    res = table.residual_from

    def live_steps(first, last, rows, cols, full_out):
        """Peak over layers first..last of live bytes; rows/cols[l] = (in idx set, out idx set)."""
        peak = 0
        for l in range(first, last + 1):
            size_in = int(table.C[l]) * len(rows[l][0]) * len(cols[l][0])
            size_out = int(table.K[l]) * len(rows[l][1]) * len(cols[l][1])
            j = int(res[l])
            if j >= 0:  # the output accumulates into out_j's buffer (the region computed for j)
                size_out = max(size_out, int(table.K[j]) * len(rows[j][1]) * len(cols[j][1]))
            if l == split:
                size_out = 0  # written into the stage's full output buffer
            total = max(size_in, size_out) if (dw[l] and l != split) else size_in + size_out
            for i in range(l + 1, n):  # shortcuts held across layer l
                j = int(res[i])
                if 0 <= j and j + 1 < l < i:
                    total += int(table.K[j]) * len(rows[j][1]) * len(cols[j][1])
            peak = max(peak, total + full_out)
        return peak

    full = {l: (set(range(int(table.Y[l]))), set(range(int(H[l])))) for l in range(n)}
    full_c = {l: (set(range(int(table.X[l]))), set(range(int(W[l])))) for l in range(n)}
    if split < 0:
        return live_steps(0, n - 1, full, full_c, 0), 0, int(table.macs.sum())
    out_full = int(table.K[split] * H[split] * W[split])
    rest = live_steps(split + 1, n - 1, full, full_c, 0) if split + 1 < n else 0
    stage, macs = 0, int(table.macs[split + 1 :].sum())
    rcuts = [k * int(H[split]) // grid for k in range(grid + 1)]
    ccuts = [k * int(W[split]) // grid for k in range(grid + 1)]
    for pi in range(grid):
        for pj in range(grid):
            rows, cols = {}, {}
            r_out, c_out = set(range(rcuts[pi], rcuts[pi + 1])), set(range(ccuts[pj], ccuts[pj + 1]))
            for l in range(split, -1, -1):
                s, p = int(table.stride[l]), int(table.padding[l])
                r_in = _needed(r_out, s, p, int(table.R[l]), int(table.Y[l]))
                c_in = _needed(c_out, s, p, int(table.S[l]), int(table.X[l]))
                rows[l], cols[l] = (r_in, r_out), (c_in, c_out)
                macs += int(per_px[l]) * len(r_out) * len(c_out)
                r_out, c_out = r_in, c_in
            stage = max(stage, live_steps(0, split, rows, cols, out_full))
    return max(stage, rest), stage, macs


@pytest.mark.parametrize("width, resolution, kernels", [(0.35, 64, None), (0.5, 48, [3, 5, 7] * 5 + [5, 3])])
def test_model_matches_element_level_reference(width, resolution, kernels):
    table = mobilenet_v2_variant(width, resolution, kernels=kernels, num_classes=10)
    splits = valid_split_layers(table)
    rng = np.random.default_rng(0)
    cases = [(NO_SPLIT, 1)] + [(int(s), 1) for s in splits[:2]]
    for s in rng.choice(splits, size=8, replace=False):
        side = int(min(table.out_rows[s], table.out_cols[s]))
        cases.append((int(s), int(rng.integers(1, min(side, 6) + 1))))
    split = np.array([c[0] for c in cases])
    grid = np.array([c[1] for c in cases])
    got = patch_memory(table, split, grid)  # one batched call
    for k, (s, g) in enumerate(cases):
        peak, stage, macs = _reference(table, s, g)
        assert (int(got.peak_bytes[k]), int(got.patch_stage_peak_bytes[k]), int(got.macs[k])) == (peak, stage, macs), (s, g)


def test_single_patch_recomputes_nothing_and_smaller_patches_recompute_more(mbv2):
    split = np.array([4, 11, 11, 11, 20])
    grid = np.array([1, 1, 2, 4, 1])
    res = patch_memory(mbv2, split, grid)
    assert res.extra_macs[[0, 1, 4]].tolist() == [0, 0, 0]
    assert 0 < res.extra_macs[2] < res.extra_macs[3]


def test_batched_call_equals_scalar_calls_and_broadcasts(mbv2):
    splits = np.array([[-1], [5], [11], [14]])
    grids = np.array([1, 2, 3, 4, 7])
    res = patch_memory(mbv2, splits, grids)
    assert res.peak_bytes.shape == (4, 5) and res.split_output_shape.shape == (4, 5, 3)
    for a in range(4):
        for b in range(5):
            one = patch_memory(mbv2, int(splits[a, 0]), int(grids[b]))
            assert one.peak_bytes == res.peak_bytes[a, b] and one.macs == res.macs[a, b]
    assert res.macs.dtype == np.int64
    assert (patch_memory(mbv2, splits, grids, bytes_per_element=2).peak_bytes == 2 * res.peak_bytes).all()


def test_valid_splits_avoid_residual_edges(mbv2):
    splits = valid_split_layers(mbv2)
    assert 6 not in splits and 7 not in splits  # inside features.3 (shortcut 5 -> 8)
    assert set(block_output_layers(mbv2).tolist()) <= set(splits.tolist())
    assert 52 not in splits  # the classifier reads a pooled map


def test_mnasnet_is_single_path_too():
    table = get_workload("mnasnet")
    res = patch_memory(table, np.array([-1, 8]), np.array([1, 4]))
    assert res.peak_bytes[1] < res.peak_bytes[0]


@pytest.mark.parametrize(
    "split, grid, match",
    [(53, 2, "split_layer=53 is outside"), (-2, 1, "split_layer=-2"), (7, 2, "split_layer=7"),
     (11, 29, "grid=29 is larger than the 28x28"), (11, 0, "grid=0"), (11, 2.5, "grid=2.5")],
)
def test_bad_schedules_raise_clear_errors(mbv2, split, grid, match):
    with pytest.raises(ValueError, match=match):
        patch_memory(mbv2, split, grid)


def test_branching_networks_and_bad_options_are_rejected(mbv2):
    with pytest.raises(ValueError, match="single-path"):
        patch_memory(get_workload("resnet18"))
    with pytest.raises(ValueError, match="bytes_per_element=0"):
        patch_memory(mbv2, bytes_per_element=0)
    with pytest.raises(ValueError, match="LayerTable"):
        patch_memory("mobilenet_v2")


# ------------------------------------------------------------------ the network space
def test_default_variant_is_the_zoo_network(mbv2):
    v = mobilenet_v2_variant()
    assert v.equals(mbv2) and v.layer_names == mbv2.layer_names


@pytest.mark.parametrize("key", sorted(PUBLISHED_MBV2))
def test_variants_match_published_macs_and_parameters(key):
    macs_m, params_m, top1 = PUBLISHED_MBV2[key]
    table = mobilenet_v2_variant(*key, num_classes=1001)
    assert int(table.macs.sum()) // 10**6 == macs_m  # the table truncates to whole millions
    assert round(int(table.weights.sum()) / 1e6, 2) == params_m
    assert published_top1(*key) == top1


def test_kernel_and_expansion_choices_keep_the_layer_order():
    v = mobilenet_v2_variant(0.5, 96, kernels=[7] * 17, expansions=[3] * 16)
    assert len(v) == 53 and (v.R[v.type == LayerType.DSCONV] == 7).all()
    assert v.K[3] == 3 * v.C[3]
    assert published_top1(0.5, 100) is None


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(width=0), "width=0"), (dict(resolution=16), "resolution=16"), (dict(kernels=[4] * 17), "kernels"),
     (dict(expansions=[1] * 16), "expansions"), (dict(kernels=[3] * 3), "17 odd")],
)
def test_bad_variants_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mobilenet_v2_variant(**kwargs)


# ------------------------------------------------------------------ the CLI
def test_cli_memory_json(capsys):
    args = ["costmodel", "memory", "--model", "mobilenet_v2", "--resolution", "224", "--json"]
    assert main(args) == 0
    flat = json.loads(capsys.readouterr().out)
    assert flat["peak_kib_layerwise"] == 1372.0 and flat["peak_kib"] == 1372.0 and flat["extra_macs"] == 0
    assert main(args + ["--patch-grid", "4", "--split-layer", "11"]) == 0
    patched = json.loads(capsys.readouterr().out)
    assert patched["peak_kib"] == 171.5 and patched["split_output_shape"] == [28, 28, 32]
    assert patched["macs"] == 300_774_272 + patched["extra_macs"] and patched["extra_macs"] > 0


@pytest.mark.parametrize(
    "extra, match",
    [(["--split-layer", "11"], "go together"), (["--split-layer", "60", "--patch-grid", "2"], "split_layer=60"),
     (["--split-layer", "11", "--patch-grid", "99"], "grid=99")],
)
def test_cli_memory_bad_input(capsys, extra, match):
    assert main(["costmodel", "memory", "--json"] + extra) == 2
    assert match in capsys.readouterr().err
