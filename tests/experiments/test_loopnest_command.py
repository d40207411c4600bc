"""``codesign-gym costmodel loopnest`` and ``bench loopnest``."""

from __future__ import annotations

import json
from pathlib import Path

from codesign_gym.experiments.cli import main

CASE = Path(__file__).resolve().parents[1] / "data" / "timeloop" / "eyeriss_like"


def test_json_summary_has_the_documented_fields(capsys):
    assert main(["costmodel", "loopnest", "--spec", str(CASE / "parsed-processed-input.yaml"),
                 "--mapping", str(CASE / "map.yaml"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["cycles"] == 86016 and out["macs"] == 10838016
    assert out["utilization"] == 0.75
    assert set(out["energy_pj_by_component"]) == {"DRAM", "shared_glb", "ifmap_spad", "weights_spad", "psum_spad", "mac"}
    assert out["accesses"]["shared_glb"]["Inputs"] == {"reads": 1354752, "fills": 157296, "updates": 0}
    assert "inter_PE_spatial" not in out["accesses"]  # dummy levels are left out
    assert abs(out["energy_pj"] - sum(out["energy_pj_by_component"].values())) < 1e-3


def test_text_summary_and_missing_mapping(capsys):
    assert main(["costmodel", "loopnest", "--spec", str(CASE / "parsed-processed-input.yaml"), "--mapping", str(CASE / "map.yaml")]) == 0
    text = capsys.readouterr().out
    assert "Cycles: 86016" in text and "pJ/MAC" in text
    assert main(["costmodel", "loopnest", "--spec", str(CASE / "parsed-processed-input.yaml")]) == 2
    assert "has no mapping" in capsys.readouterr().err


def test_bench_prints_throughput(capsys):
    assert main(["bench", "loopnest", "--batch-sizes", "1", "200", "--seconds", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "mappings_per_s" in out
    assert main(["bench", "loopnest", "--batch-sizes", "0"]) == 2
