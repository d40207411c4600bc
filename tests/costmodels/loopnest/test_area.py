"""The area estimates against Timeloop's own per-level areas (tests/data/timeloop stats files)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign_gym.costmodels.loopnest.area import area_fit, area_table, estimate_area, mac_area, storage_area, total_area_um2

DATA = Path(__file__).resolve().parents[2] / "data" / "timeloop"
CASES = sorted(p.name for p in DATA.iterdir() if p.is_dir())


def timeloop_areas(stats: Path) -> dict[str, tuple[bool, float]]:
    """``{level: (is_total, um^2)}``: storage levels list per-instance ``Area``, the MAC level
    ``Area (total)`` over its instances."""
    out, current = {}, None
    for line in stats.read_text().splitlines():
        header = re.match(r"=== (\S+) ===$", line.strip())
        if header:
            current = header.group(1)
            continue
        m = re.match(r"\s*Area( \(total\))?\s*:\s*([\d.]+) um\^2", line)
        if m and current:
            out[current] = (m.group(1) is not None, float(m.group(2)))
    return out


@pytest.mark.parametrize("case", CASES)
def test_component_areas_equal_timeloops(case):
    ours = estimate_area(yaml.safe_load((DATA / case / "parsed-processed-input.yaml").read_text()))
    ref = timeloop_areas(DATA / case / "stats.txt")
    assert ref, case
    for name, (is_total, area) in ref.items():
        if name not in ours:  # dummy levels: not estimated, and Timeloop lists 0 or 1 um^2
            assert area <= 1.0, (case, name)
            continue
        instances, per_instance = ours[name]
        got = instances * per_instance if is_total else per_instance
        assert got == pytest.approx(area, rel=1e-4, abs=0.006), (case, name)  # stats print 2 decimals


def test_eyeriss_like_total_is_the_sum_over_instances():
    areas = estimate_area(yaml.safe_load((DATA / "eyeriss_like" / "parsed-processed-input.yaml").read_text()))
    # its ART: global buffer 217,363.37 um^2 once; per PE 70.09 + 5,816.44 + 123.63 (scratchpads) + 191.82 (MAC), 168 PEs
    assert total_area_um2(areas) == pytest.approx(217363.36892 + 168 * (70.091961 + 5816.44278 + 123.627348 + 191.82))


def test_fits_reproduce_their_rows_within_their_stated_residual():
    sram, rf = area_fit("sram"), area_fit("regfile")
    assert (sram.rows, rf.rows) == (6, 11)
    assert math.exp(sram.max_abs_log_residual) < 1.7 and math.exp(rf.max_abs_log_residual) < 1.55
    for row in area_table():
        if row["component_class"] == "smartbuffer_RF":
            fitted = rf(row["width_bits"], row["depth"], row["technology_nm"])
            assert abs(math.log(fitted / row["area_um2"])) <= rf.max_abs_log_residual + 1e-12
    assert storage_area("DRAM", None, 64, None) == 0.0


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(200, 4096), width=st.sampled_from([8, 16, 32, 64]), tech=st.sampled_from([22.0, 32.0, 45.0, 65.0]))
def test_fitted_areas_grow_with_depth_width_and_node(depth, width, tech):
    for cls in ("smartbuffer_SRAM", "smartbuffer_RF"):
        a = storage_area(cls, depth, width, tech)
        assert 0 < a < storage_area(cls, 2 * depth, width, tech)
        assert a < storage_area(cls, depth, 2 * width, tech) and a < storage_area(cls, depth, width, tech * 1.5)


def test_area_lookups_reject_unknown_classes_nodes_and_missing_sizes():
    with pytest.raises(ValueError, match="'optical'"):
        storage_area("optical", 16, 16, 45.0)
    with pytest.raises(ValueError, match="depth=None"):
        storage_area("smartbuffer_SRAM", None, 64, 45.0)
    with pytest.raises(ValueError, match="no MAC area for class 'intmac' at 7.0 nm"):
        mac_area("intmac", 7.0)
    assert mac_area("intmac", 32.0, 8) == 191.82 and mac_area("intmac", 45.0, 8) == 417.0
