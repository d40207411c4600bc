"""The loop-nest model against 19 real Timeloop v3 reference runs (tests/data/timeloop).

Tolerances: cycles, MACs, utilized capacity and every per-level reads / fills / updates count
exactly equal; dynamic energy per component within 0.5% (Timeloop's breakdown minus its
leakage, leak-per-cycle x cycles x instances, as listed in ref_summary.csv).
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from codesign_gym.costmodels.loopnest import evaluate, read_spec

DATA = Path(__file__).resolve().parents[2] / "data" / "timeloop"
CASES = sorted(p.name for p in DATA.iterdir() if p.is_dir())

_spec = importlib.util.spec_from_file_location("timeloop_stats", Path(__file__).with_name("timeloop_stats.py"))
timeloop_stats = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(timeloop_stats)


def _load(case: str):
    folder = DATA / case
    mapping = folder / "map.yaml"
    spec = read_spec(folder / "parsed-processed-input.yaml", mapping if mapping.exists() else None, folder / "ERT.yaml")
    return spec, timeloop_stats.parse_stats(folder / "stats.txt")


def test_all_nineteen_cases_are_shipped():
    assert len(CASES) == 19


@pytest.mark.parametrize("case", CASES)
def test_cycles_macs_and_accesses_equal_timeloop(case):
    spec, ref = _load(case)
    res = evaluate(spec.problem, spec.architecture, spec.mapping, strict=True)
    assert res.cycles[0] == ref["cycles"]
    assert res.macs == ref["macs"]
    assert res.utilization[0] == pytest.approx(ref["macs"] / (ref["cycles"] * spec.architecture.compute.instances))
    checked = 0
    for l, level in enumerate(spec.architecture.levels):
        if level.dummy:
            continue
        spaces = ref["levels"][level.name]["spaces"]
        for s, space in enumerate(spec.problem.data_spaces):
            if space.name not in spaces:  # bypassed here
                assert res.reads[0, l, s] == res.fills[0, l, s] == res.updates[0, l, s] == 0
                continue
            r = spaces[space.name]
            assert res.utilized_capacity[0, l, s] == r["utilized_capacity"], (level.name, space.name)
            for field in ("reads", "fills", "updates"):
                assert getattr(res, field)[0, l, s] == r[field] * r["utilized_instances"], (level.name, space.name, field)
                checked += 1
    assert checked >= 6


@pytest.mark.parametrize("case", CASES)
def test_dynamic_energy_per_component_within_half_a_percent(case):
    spec, ref = _load(case)
    res = evaluate(spec.problem, spec.architecture, spec.mapping)
    for l, level in enumerate(spec.architecture.levels):
        if level.dummy:
            continue
        dynamic = sum(r["energy_total"] for r in ref["levels"][level.name]["spaces"].values())
        assert res.energy_pj_by_level[0, l] == pytest.approx(dynamic, rel=5e-3, abs=1e-6), level.name
    compute = ref["levels"][spec.architecture.compute.name]["compute_energy"]
    assert res.compute_energy_pj[0] == pytest.approx(compute, rel=5e-3)


def _summary_rows():
    with (DATA / "ref_summary.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_total_dynamic_energy_matches_the_summary_breakdown_minus_leakage():
    """ref_summary.csv's breakdown includes leakage; subtracting leak x cycles x instances per
    component (Timeloop's definition) must give our dynamic energy within 0.5%."""
    by_case = {}
    for case in CASES:
        spec, ref = _load(case)
        res = evaluate(spec.problem, spec.architecture, spec.mapping)
        leak = sum(ref["levels"][lvl.name].get("leak_total", 0.0) for lvl in spec.architecture.levels if not lvl.dummy)
        by_case[ref["cycles"], round(res.energy_pj[0] + leak)] = case
    matched = 0
    for row in _summary_rows():
        total = float(row["total_energy_pJ"])
        leak = float(row["leakage_pJ_included"] or 0)
        for (cycles, ours_plus_leak), case in by_case.items():
            if cycles == int(row["cycles"]) and ours_plus_leak == pytest.approx(total, rel=5e-3):
                matched += 1
                break
        else:
            pytest.fail(f"no case matches summary row {row['case']} (total {total} pJ, leakage {leak} pJ)")
    assert matched == 19


def test_numpy_batch_equals_single_evaluations():
    spec, _ = _load("eyeriss_like")
    from codesign_gym.costmodels.loopnest import Mapping

    batch = Mapping.stack([spec.mapping] * 5)
    res = evaluate(spec.problem, spec.architecture, batch)
    single = evaluate(spec.problem, spec.architecture, spec.mapping)
    assert np.array_equal(res.reads, np.repeat(single.reads, 5, axis=0))
    assert np.allclose(res.energy_pj, single.energy_pj[0])
