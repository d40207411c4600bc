"""Layer-table CSVs and the workload / memory CLIs fed hostile input: a clear error naming the file
and line (exit status 2 from the CLI) or a valid result, never a traceback, never a negative
count, never a modified input file (issue 15)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codesign_gym.costmodels.workloads import LayerTable, load_layer_csv, parse_layer_csv
from codesign_gym.experiments.cli import main

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
OURS = "name,type,K,C,Y,X,R,S,stride,padding,groups,residual_from"
CFX = "K,C,Y,X,R,S,T"
GOOD_ROWS = {OURS: ["conv1,CONV,32,3,224,224,3,3,2,1,1,-1", "dw,DSCONV,32,32,112,112,3,3,1,1,32,-1", "pw,CONV,16,32,112,112,1,1,1,0,1,-1"],
             CFX: ["64,3,224,224,3,3,1", "1,64,222,222,3,3,2", "128,64,220,220,1,1,1"]}
CELLS = ["", " ", "1", "0", "-1", "3.5", "1e3", "1e300", "nan", "inf", "99999999999999999999999", "CONV", "GEMM", "x", '"', '"a,b"',
         "\x00", "\ufeff", "é", "#"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@st.composite
def csv_texts(draw) -> str:
    """A layer CSV in either format with rows, cells, lines or bytes changed at random."""
    header = draw(st.sampled_from([OURS, CFX]))
    lines = [header] + list(GOOD_ROWS[header])
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        cells = lines[i].split(",")
        how = draw(st.sampled_from(["cell", "extra", "drop", "line", "dup"]))
        if how == "cell":
            cells[draw(st.integers(0, len(cells) - 1))] = draw(st.sampled_from(CELLS) | st.text(max_size=4))
        elif how == "extra":
            cells += draw(st.lists(st.sampled_from(CELLS), min_size=1, max_size=2))
        elif how == "drop":
            cells = cells[:-1]
        elif how == "line":
            lines.insert(i, draw(st.text(max_size=20)))
            continue
        else:
            lines.append(lines[i])
        lines[i] = ",".join(cells)
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n", "\n\n"]))


def _check_table(table: LayerTable) -> None:
    assert len(table) >= 1
    for column in ("K", "C", "Y", "X", "R", "S", "stride", "groups"):
        assert (np.asarray(getattr(table, column)) >= 1).all()
    assert (np.asarray(table.macs) >= 0).all()


def _check_error(err: ValueError, source: str) -> None:
    text = str(err)
    assert text.startswith(source) and "expected" in text, text


@SETTINGS
@given(text=csv_texts())
def test_layer_csv_reader_gives_a_table_or_names_the_line(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("csv") / "net.csv"
    path.write_text(text, encoding="utf-8")
    before = _digest(path)
    try:
        _check_table(load_layer_csv(path))
    except ValueError as err:
        _check_error(err, str(path))
    assert _digest(path) == before


@SETTINGS
@given(data=st.binary(max_size=200))
def test_binary_garbage_gives_a_clear_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bin") / "garbage.csv"
    path.write_bytes(data)
    try:
        _check_table(load_layer_csv(path))
    except ValueError as err:
        _check_error(err, str(path))
    assert path.read_bytes() == data


@pytest.mark.parametrize("row, fragment", [
    ("64,3,224,224,3,3,1,5", "line 2: 8 fields; the header has 7"),
    ("99999999999999999999999,3,224,224,3,3,1", "line 2: field 'K' is '99999999999999999999999', beyond int64"),
    ("1e300,3,224,224,3,3,1", "line 2: field 'K' is '1e300', beyond int64"),
    ('"64,3,224,224,3,3,1', "line 2"),
])
def test_bad_rows_name_the_line(row, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        parse_layer_csv(f"{CFX}\n{row}\n", "t", source="t.csv")


def test_binary_file_names_the_file_and_line(tmp_path):
    path = tmp_path / "w.csv"
    path.write_bytes(b"K,C,Y,X,R,S,T\n64,3,224,224,3,3,1\n\xff\xfe\x00")
    with pytest.raises(ValueError, match=re.escape(f"{path}, line 3: byte 0xff")):
        load_layer_csv(path)
    path.write_bytes(b"K,C,Y,X,R,S,T\n64,3,\x00224,224,3,3,1\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}, line 2: a NUL byte")):
        load_layer_csv(path)


def test_a_utf8_bom_is_read():
    table = parse_layer_csv(CFX + "\n" + GOOD_ROWS[CFX][0] + "\n", "t")
    assert len(table) == 1


@pytest.mark.parametrize("name", ["dir.csv", "dir"])
def test_workloads_show_of_a_directory_is_a_clear_error(tmp_path, capsys, name):
    (tmp_path / name).mkdir()
    assert main(["workloads", "show", str(tmp_path / name)]) == 2
    assert "is a directory; expected" in capsys.readouterr().err


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(text=csv_texts())
def test_workloads_show_cli(tmp_path_factory, capsys, text):
    path = tmp_path_factory.mktemp("show") / "net.csv"
    path.write_text(text, encoding="utf-8")
    before = _digest(path)
    capsys.readouterr()
    status = main(["workloads", "show", str(path)])
    out = capsys.readouterr()
    assert status in (0, 2)
    if status == 2:
        assert out.err.startswith("codesign-gym: error: ") and str(path) in out.err and "Traceback" not in out.err
    else:
        assert re.search(r"\n\d+ layers, [\d,]+ MACs\n$", out.out)
    assert _digest(path) == before


def test_memory_split_minus_one_with_a_grid_is_refused(capsys):
    assert main(["costmodel", "memory", "--split-layer", "-1", "--patch-grid", "4", "--json"]) == 2
    assert "split_layer=-1; expected a layer index in 0..52" in capsys.readouterr().err


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(split=st.none() | st.integers(-3, 60), grid=st.none() | st.integers(-2, 120), bpe=st.sampled_from([None, -1, 0, 1, 4]),
       model=st.sampled_from(["mobilenet_v2", "mnasnet"]))
def test_memory_cli_gives_a_valid_schedule_or_a_clear_error(capsys, split, grid, bpe, model):
    argv = ["costmodel", "memory", "--model", model, "--json"]
    argv += [] if split is None else ["--split-layer", str(split)]
    argv += [] if grid is None else ["--patch-grid", str(grid)]
    argv += [] if bpe is None else ["--bytes-per-element", str(bpe)]
    capsys.readouterr()
    status = main(argv)
    out = capsys.readouterr()
    assert status in (0, 2), out.err
    if status == 2:
        assert out.err.startswith("codesign-gym: error: ") and "expected" in out.err
        return
    report = json.loads(out.out)
    for key in ("peak_kib_layerwise", "peak_kib", "macs", "extra_macs"):
        assert report[key] >= 0
    if split is not None:
        assert 0 <= split and all(v >= 1 for v in report["split_output_shape"]), report
