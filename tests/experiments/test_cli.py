"""The codesign-gym command line: demo, predict round trip, workloads, errors."""

from __future__ import annotations

import csv

import pytest

from codesign_gym.costmodels.dataflow import DATAFLOWS
from codesign_gym.experiments.cli import main

REFERENCE = "tests/data/maestro/reference.csv"


def test_demo_prints_every_builtin_dataflow(capsys):
    assert main(["costmodel", "demo", "--workload", "cfx/alexnet"]) == 0
    out = capsys.readouterr().out
    for name in DATAFLOWS:
        assert f"\n{name} " in out
    assert "1,485,153,024 MACs" in out  # ConfuciuX's AlexNet file (stride 1)


def test_predict_round_trip_reproduces_maestro(tmp_path, capsys):
    out = tmp_path / "priced.csv"
    assert main(["costmodel", "predict", REFERENCE, "-o", str(out)]) == 0
    with open(REFERENCE, newline="") as fh:
        ref = list(csv.DictReader(fh))
    with open(out, newline="") as fh:
        got = list(csv.DictReader(fh))
    assert len(got) == len(ref)
    for r, g in zip(ref, got):
        assert g["name"] == r["name"] and g["maestro_rc"] == r["maestro_rc"]  # inputs carried through
        assert int(g["runtime_cycles"]) == int(float(r["Runtime (Cycles)"]))
        assert int(g["input_l2_read"]) == int(float(r["input l2 read"]))


def test_predict_names_the_bad_row(tmp_path, capsys):
    cases = tmp_path / "bad.csv"
    cases.write_text(
        "name,type,K,C,Y,X,R,S,stride,dataflow,ktile,num_pes,noc_bw_cstr,offchip_bw_cstr,noc_latency\n"
        "ok,CONV,8,8,8,8,3,3,1,kcp,1,16,16,70000,1\n"
        "bad,CONV,8,8,8,8,3,3,1,kcp,1,0,16,70000,1\n"
    )
    assert main(["costmodel", "predict", str(cases), "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "num_pes" in err and "row 2" in err


def test_unknown_workload_is_a_clear_error(capsys):
    assert main(["costmodel", "demo", "--workload", "lenet9000"]) == 2
    assert "lenet9000" in capsys.readouterr().err


def test_workloads_list_and_show(capsys):
    assert main(["workloads", "list"]) == 0
    listing = capsys.readouterr().out
    assert "mobilenet_v2" in listing and "cfx/resnet50" in listing and "300,774,272 MACs" in listing
    assert main(["workloads", "show", "cfx/mobilenet_v2"]) == 0
    assert "52 layers" in capsys.readouterr().out


def test_version(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out.startswith("0.")


def test_missing_subcommand_exits_with_usage():
    with pytest.raises(SystemExit):
        main([])


def test_markdown_tables_escape_pipes():
    from codesign_gym.experiments.runner.tables import render_table

    lines = render_table([{"problem": "cfx/mobilenet_v2|dla", "gap": 0.5}], markdown=True).splitlines()
    assert all(line.count("|") - line.count("\\|") == 3 for line in lines)
