"""Workload lookup, ConfuciuX tables and CSV layer files."""

import os
from pathlib import Path

import numpy as np
import pytest

from codesign_gym.costmodels import workloads as wl
from codesign_gym.costmodels.workloads import LayerTable, LayerType, get_workload, list_workloads

CFX_DIR = Path(wl.__file__).parent / "data" / "cfx"


# ------------------------------------------------------------------ ConfuciuX tables
@pytest.mark.parametrize("name,n", [("cfx/mobilenet_v2", 52), ("cfx/resnet50", 53), ("cfx/resnet18", 20),
                                    ("cfx/vgg16", 13), ("cfx/alexnet", 5), ("cfx/squeezenet", 26),
                                    ("cfx/mnasnet", 52), ("cfx/example", 2)])
def test_cfx_layer_counts(name, n):
    t = get_workload(name)
    assert len(t) == n
    assert t.name == name


def test_cfx_loads_stride_one_no_padding_no_residuals():
    for name in wl.list_cfx():
        t = get_workload(name)
        assert np.all(t.stride == 1) and np.all(t.padding == 0), name
        assert np.all(t.residual_from == wl.NO_RESIDUAL), name


def test_cfx_depthwise_rows_become_pytorch_convention():
    raw = np.loadtxt(CFX_DIR / "mobilenet_v2.csv", delimiter=",", skiprows=1, dtype=np.int64)
    t = get_workload("cfx/mobilenet_v2")
    dw = raw[:, 6] == 2
    assert dw.sum() == 17  # one depthwise conv per inverted residual block
    assert np.all(raw[dw, 0] == 1)  # MAESTRO: K=1
    assert np.all(t.type[dw] == LayerType.DSCONV)
    assert np.array_equal(t.K[dw], raw[dw, 1]) and np.array_equal(t.groups[dw], raw[dw, 1])
    assert np.array_equal(t.C, raw[:, 1])
    assert np.all(t.type[~dw] == LayerType.CONV) and np.all(t.groups[~dw] == 1)
    assert np.array_equal(t.K[~dw], raw[~dw, 0])
    for col, j in (("Y", 2), ("X", 3), ("R", 4), ("S", 5)):
        assert np.array_equal(getattr(t, col), raw[:, j])
    # second row of the file: 1,32,112,112,3,3,2 -> a 3x3 depthwise over 32 channels
    assert (t.K[1], t.C[1], t.groups[1], t.macs[1]) == (32, 32, 32, 32 * 110 * 110 * 9)


def test_cfx_ships_readme_with_source_and_license():
    text = (CFX_DIR / "README.md").read_text()
    assert "maestro-project/confuciux" in text and "MIT" in text


def test_load_cfx_accepts_bare_name_and_rejects_unknown():
    assert wl.load_cfx("resnet50").equals(get_workload("cfx/resnet50"))
    with pytest.raises(ValueError, match="cfx/mobilenet_v2"):
        wl.load_cfx("cfx/nope")
    with pytest.raises(ValueError):
        wl.load_cfx("../zoo")


# ------------------------------------------------------------------ lookup
def test_list_workloads_has_zoo_and_cfx():
    names = list_workloads()
    for n in ("mobilenet_v2", "resnet18", "resnet50", "vgg16", "mnasnet", "squeezenet", "alexnet",
              "bert_base_layer", "cfx/mobilenet_v2", "cfx/resnet50"):
        assert n in names
    for n in names:
        assert isinstance(get_workload(n), LayerTable)


def test_zoo_and_cfx_names_are_different_workloads():
    real, cfx = get_workload("mobilenet_v2"), get_workload("cfx/mobilenet_v2")
    assert len(real) == 53 and len(cfx) == 52  # the zoo has the classifier
    assert (real.padding > 0).any() and (real.stride > 1).any() and (real.residual_from >= 0).any()


def test_get_workload_passes_a_table_through():
    t = get_workload("resnet18")
    assert get_workload(t) is t


@pytest.mark.parametrize("bad", ["mobilenet", "cfx/nope", "resnet-50", ""])
def test_unknown_workload_lists_available(bad):
    with pytest.raises(ValueError) as err:
        get_workload(bad)
    msg = str(err.value)
    assert repr(bad) in msg and "mobilenet_v2" in msg and "cfx/resnet50" in msg


def test_missing_csv_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        get_workload(str(tmp_path / "none.csv"))


# ------------------------------------------------------------------ CSV files
def test_csv_round_trip(tmp_path):
    for name in ("mobilenet_v2", "resnet50", "bert_base_layer"):
        t = get_workload(name)
        path = wl.save_layer_csv(t, tmp_path / f"{name}.csv")
        back = get_workload(str(path))
        assert back.equals(t) and back.layer_names == t.layer_names and back.name == name
        assert get_workload(Path(path)).equals(t)  # os.PathLike


def test_csv_in_cfx_format_is_detected(tmp_path):
    p = tmp_path / "mine.csv"
    p.write_text("K,C,Y,X,R,S,T\n64,32,56,56,3,3,1\n1,64,54,54,3,3,2\n")
    t = wl.load_layer_csv(p)
    assert t.name == "mine" and t.type.tolist() == [LayerType.CONV, LayerType.DSCONV]
    assert (t.K[1], t.C[1], t.groups[1]) == (64, 64, 64)


def test_csv_optional_columns_default(tmp_path):
    p = tmp_path / "min.csv"
    p.write_text("type,K,C,Y,X,R,S\nconv,8,3,32,32,3,3\nFC,10,8,1,1,1,1\n\n")
    t = wl.load_layer_csv(p, name="tiny")
    assert t.name == "tiny" and t.layer_names == ("tiny_L0", "tiny_L1")
    assert t.stride.tolist() == [1, 1] and t.padding.tolist() == [0, 0] and t.groups.tolist() == [1, 1]
    assert t.residual_from.tolist() == [-1, -1] and t.type.tolist() == [LayerType.CONV, LayerType.GEMM]


HEADER = "name,type,K,C,Y,X,R,S,stride,padding,groups,residual_from\n"
GOOD = "a,CONV,8,3,32,32,3,3,1,1,1,-1\n"


@pytest.mark.parametrize(
    "body,line,field",
    [
        (GOOD + "b,CONV,8,8,32,x,3,3,1,1,1,-1\n", 3, "X"),
        (GOOD + "b,CONV,8,8,32,32,3,3,1.5,1,1,-1\n", 3, "stride"),
        (GOOD + "b,WIBBLE,8,8,32,32,3,3,1,1,1,-1\n", 3, "type"),
        (GOOD + "b,CONV,8,8,32,32,3,3,1,1,3,-1\n", 3, "groups"),
        (GOOD + "b,CONV,8,8,32,32,3,3,1,1,1,5\n", 3, "residual_from"),
        (GOOD + "\nb,CONV,0,8,32,32,3,3,1,1,1,-1\n", 4, "K"),
        (GOOD + "b,DSCONV,8,4,32,32,3,3,1,1,4,-1\n", 3, "type"),
        (GOOD + "b,CONV,8,8,2,32,3,3,1,0,1,-1\n", 3, "R"),
    ],
)
def test_bad_csv_row_names_file_line_and_field(tmp_path, body, line, field):
    p = tmp_path / "net.csv"
    p.write_text(HEADER + body)
    with pytest.raises(ValueError) as err:
        wl.load_layer_csv(p)
    msg = str(err.value)
    assert str(p) in msg and f"line {line}" in msg and f"'{field}'" in msg, msg


@pytest.mark.parametrize(
    "text,expect",
    [
        ("K,C,Y,X,R,S,T\n1,8,8,8,3,3,3\n", "'T'"),
        ("K,C,Y,X,R,S,T\n4,8,8,8,3,3,2\n", "'K'"),
        ("K,C,Y,X,R,S,T\n4,8,8,8,3\n", "line 2"),
        ("type,K,C,Y,X,R,S,colour\nCONV,1,1,1,1,1,1,red\n", "colour"),
        ("type,K,C,Y,X,R\nCONV,1,1,1,1,1\n", "'S'"),
        ("", "empty"),
        ("K,C,Y,X,R,S,T\n", "no layers"),
    ],
)
def test_bad_csv_files(tmp_path, text, expect):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(ValueError) as err:
        wl.load_layer_csv(p)
    assert expect in str(err.value) and "bad.csv" in str(err.value)


# spelled in pieces so that this guard does not match itself
FORBIDDEN = ("/work/" + "shared", ".." + "/shared")


def test_package_never_reads_shared_folder():
    """No module of any package folder (nor a test) refers to the shared data folder: users and CI
    on other machines do not have it."""
    repo = Path(__file__).resolve().parents[2]
    files = [f for folder in ("costmodels", "envs", "agents", "experiments", "tests") for f in (repo / folder).rglob("*.py")]
    assert len(files) > 20
    for f in files:
        text = f.read_text()
        assert not any(word in text for word in FORBIDDEN), f


def test_importing_workloads_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, codesign_gym.costmodels.workloads as w; w.get_workload('resnet50'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}, check=True)
    assert out.stdout.strip() == "False"
