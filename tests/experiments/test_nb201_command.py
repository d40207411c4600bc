"""``codesign-gym costmodel nb201``: every NAS-Bench-201 network on a named accelerator."""

from __future__ import annotations

import csv

from codesign_gym.experiments.cli import main


def test_writes_all_networks_with_the_documented_columns(tmp_path, capsys):
    out = tmp_path / "nb201.csv"
    assert main(["costmodel", "nb201", "--accelerator", "nvdla256", "--dataset", "cifar100", "-o", str(out),
                 "--samples", "64", "--rounds", "0"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 15625
    assert list(rows[0]) == ["index", "arch_str", "accuracy", "latency_cycles", "latency_ms", "energy_pj", "edp_pj_cycles"]
    r = rows[11472]
    assert r["arch_str"] == "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
    assert float(r["edp_pj_cycles"]) == float(r["energy_pj"]) * int(r["latency_cycles"]) or abs(
        float(r["edp_pj_cycles"]) / (float(r["energy_pj"]) * int(r["latency_cycles"])) - 1) < 1e-5
    assert "15625 networks on nvdla256" in capsys.readouterr().out


def test_unknown_accelerator_or_dataset_is_a_clear_error(tmp_path, capsys):
    assert main(["costmodel", "nb201", "--accelerator", "tpu", "-o", str(tmp_path / "x.csv")]) == 2
    assert "unknown accelerator 'tpu'" in capsys.readouterr().err
    assert main(["costmodel", "nb201", "--dataset", "mnist", "-o", str(tmp_path / "x.csv")]) == 2
    assert "mnist" in capsys.readouterr().err
