"""The two cost-model CLIs on bad input: ``codesign-gym: error: ...`` and exit status 2, no
traceback, and the input file never modified (``costmodel predict``, ``costmodel loopnest``)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from codesign_gym.experiments.cli import main

HEADER = "name,type,K,C,Y,X,R,S,stride,dataflow,ktile,num_pes,noc_bw_cstr,offchip_bw_cstr,noc_latency"
OK_ROW = "ok,CONV,64,32,56,56,3,3,1,kcp,1,256,64,70000,1"
BIG_ROW = "big,CONV,1048576,1048576,4096,4096,3,3,1,kcp,1,1024,64,70000,1"
TIMELOOP = Path(__file__).resolve().parents[1] / "data" / "timeloop" / "eyeriss_like"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _error(capsys, argv, *patterns) -> str:
    """Run the CLI; assert exit 2 with one clear error line containing every pattern."""
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("codesign-gym: error: ") and "Traceback" not in err, err
    for p in patterns:
        assert p in err, (p, err)
    return err


@pytest.fixture
def cases(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text(f"{HEADER}\n{OK_ROW}\n{BIG_ROW}\n")
    return path


# ---------------------------------------------------------------- costmodel predict
def test_predict_overflow_row_is_refused_naming_row_and_quantity(capsys, cases, tmp_path):
    before = _digest(cases)
    _error(capsys, ["costmodel", "predict", str(cases), "-o", str(tmp_path / "out.csv")], "row 2 (big)", "macs=", "int64")
    assert _digest(cases) == before and not (tmp_path / "out.csv").exists()


def test_predict_output_equal_to_input_is_refused_and_input_untouched(capsys, cases, tmp_path, monkeypatch):
    cases.write_text(f"{HEADER}\n{OK_ROW}\n")
    before = _digest(cases)
    _error(capsys, ["costmodel", "predict", str(cases), "-o", str(cases)], "is the input file")
    monkeypatch.chdir(tmp_path)
    _error(capsys, ["costmodel", "predict", "cases.csv", "-o", "./sub/../cases.csv"], "is the input file")
    link = tmp_path / "link.csv"
    link.symlink_to(cases)
    _error(capsys, ["costmodel", "predict", str(cases), "-o", str(link)], "is the input file")
    assert _digest(cases) == before


def test_predict_directories_are_refused(capsys, cases, tmp_path):
    _error(capsys, ["costmodel", "predict", str(tmp_path), "-o", str(tmp_path / "o.csv")], "is a directory")
    _error(capsys, ["costmodel", "predict", str(cases), "-o", str(tmp_path)], "is a directory")
    _error(capsys, ["costmodel", "predict", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o.csv")], "does not exist")


def test_predict_value_beyond_int64_is_refused(capsys, cases, tmp_path):
    cases.write_text(f"{HEADER}\nhuge,CONV,99999999999999999999,32,56,56,3,3,1,kcp,1,256,64,70000,1\n")
    _error(capsys, ["costmodel", "predict", str(cases), "-o", str(tmp_path / "o.csv")], "row 1", "'K'", "99999999999999999999")


def test_predict_extra_cells_are_refused_naming_the_line(capsys, cases, tmp_path):
    cases.write_text(f"{HEADER}\n{OK_ROW}\n{OK_ROW},7,8\n")
    before = _digest(cases)
    _error(capsys, ["costmodel", "predict", str(cases), "-o", str(tmp_path / "o.csv")], "line 3", "17 cells", "expected 15")
    assert _digest(cases) == before


def test_predict_binary_input_is_refused(capsys, cases, tmp_path):
    cases.write_bytes(b"\xff\xfe\x00garbage\x81\n")
    _error(capsys, ["costmodel", "predict", str(cases), "-o", str(tmp_path / "o.csv")], "not UTF-8")


@pytest.mark.parametrize("value", ["True", "16.5", "1e400", "nan", "-3", ""])
def test_predict_bad_num_pes_is_refused(capsys, cases, tmp_path, value):
    cases.write_text(f"{HEADER}\nx,CONV,64,32,56,56,3,3,1,kcp,1,{value},64,70000,1\n")
    _error(capsys, ["costmodel", "predict", str(cases), "-o", str(tmp_path / "o.csv")], "row 1", "num_pes")


def test_predict_valid_rows_are_written(capsys, cases, tmp_path):
    cases.write_text(f"{HEADER}\n{OK_ROW}\n")
    out = tmp_path / "o.csv"
    assert main(["costmodel", "predict", str(cases), "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 2 and "runtime_cycles" in lines[0]


CELL = st.one_of(st.integers(-3, 2 ** 70).map(str), st.sampled_from(["", "x", "1.5", "nan", "inf", "True", "kcp", "CONV", '"', "1e30"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(CELL, min_size=13, max_size=17), col=st.integers(2, 14))
def test_predict_fuzz_clear_error_or_output_never_modifies_input(capsys, tmp_path, cells, col):
    base = OK_ROW.split(",")
    row = base[:col] + cells[:1] + base[col + 1:] if len(cells) % 2 else cells
    path = tmp_path / "fuzz.csv"
    path.write_text(f"{HEADER}\n{','.join(row)}\n")
    before = _digest(path)
    rc = main(["costmodel", "predict", str(path), "-o", str(tmp_path / "fuzz_out.csv")])
    err = capsys.readouterr().err
    assert rc in (0, 2), err
    if rc == 2:
        assert err.startswith("codesign-gym: error: ") and err.count("\n") == 1, err
    assert _digest(path) == before


# ---------------------------------------------------------------- costmodel loopnest
@pytest.fixture
def timeloop_case(tmp_path):
    folder = tmp_path / "case"
    shutil.copytree(TIMELOOP, folder)
    return folder


def test_loopnest_malformed_yaml_is_refused(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("problem: [unclosed\n  a: b: c\n")
    _error(capsys, ["costmodel", "loopnest", "--spec", str(bad)], "malformed YAML", "line 2")
    _error(capsys, ["costmodel", "loopnest", "--spec", str(tmp_path)], "is a directory")


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_loopnest_problem_beyond_int64_is_refused(capsys, timeloop_case, json_flag):
    spec = timeloop_case / "parsed-processed-input.yaml"
    text = spec.read_text()
    for dim, old, new in (("C", 3, 2 ** 20), ("M", 32, 2 ** 20), ("P", 112, 4096), ("Q", 112, 4096)):
        assert f"        {dim}: {old}\n" in text
        text = text.replace(f"        {dim}: {old}\n", f"        {dim}: {new}\n")
    spec.write_text(text)
    _error(capsys, ["costmodel", "loopnest", "--spec", str(spec), "--mapping", str(timeloop_case / "map.yaml"), *json_flag],
           "MACs", "does not fit in int64")


def test_loopnest_float_factor_is_refused(capsys, timeloop_case):
    import yaml

    mapping = yaml.safe_load((timeloop_case / "map.yaml").read_text())
    entries = mapping["mapping"] if isinstance(mapping, dict) else mapping
    entry = next(e for e in entries if e.get("type") == "temporal" and e.get("factors"))
    entry["factors"] = {"C": 64.5}
    (timeloop_case / "map.yaml").write_text(yaml.safe_dump(mapping))
    _error(capsys, ["costmodel", "loopnest", "--spec", str(timeloop_case / "parsed-processed-input.yaml"),
                    "--mapping", str(timeloop_case / "map.yaml")], "64.5")


def test_loopnest_valid_case_json(capsys, timeloop_case):
    assert main(["costmodel", "loopnest", "--spec", str(timeloop_case / "parsed-processed-input.yaml"),
                 "--mapping", str(timeloop_case / "map.yaml"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] and out["cycles"] > 0 and out["macs"] > 0
