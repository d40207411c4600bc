"""LayerTable conventions: output sizes, MACs, validation errors, helpers."""

import numpy as np
import pytest

from codesign_gym.costmodels.workloads import (
    NO_RESIDUAL,
    RESIDUAL_FROM_INPUT,
    LayerTable,
    LayerTableError,
    LayerType,
    from_maestro_dims,
)


def _row(**kw):
    row = dict(type="CONV", K=8, C=4, Y=10, X=10, R=3, S=3)
    row.update(kw)
    return row


@pytest.mark.parametrize("y,r,stride", [(224, 3, 1), (224, 7, 2), (56, 1, 1), (13, 3, 2), (27, 5, 3), (11, 11, 4)])
def test_output_size_is_maestro_rule_without_padding(y, r, stride):
    t = LayerTable.from_rows("t", [_row(Y=y, X=y + 1, R=r, S=r, stride=stride)])
    assert t.out_rows[0] == (y - r) // stride + 1
    assert t.out_cols[0] == (y + 1 - r) // stride + 1


def test_output_size_with_padding_and_macs():
    # ResNet stem: 7x7 s2 p3 on 224 -> 112; MACs = K*C*112*112*49
    t = LayerTable.from_rows("t", [_row(K=64, C=3, Y=224, X=224, R=7, S=7, stride=2, padding=3)])
    assert (t.out_rows[0], t.out_cols[0]) == (112, 112)
    assert t.macs[0] == 64 * 3 * 112 * 112 * 49 == 118_013_952
    assert t.macs.dtype == np.int64


def test_depthwise_and_grouped_gemm_macs():
    dw = LayerTable.from_rows("t", [_row(type="DSCONV", K=32, C=32, groups=32, Y=112, X=112, padding=1)])
    assert dw.macs[0] == 32 * 112 * 112 * 9
    # 12 heads of (128x64)@(64x128)
    g = LayerTable.from_rows("t", [dict(type="GEMM", K=12 * 128, C=12 * 64, Y=128, X=1, R=1, S=1, groups=12)])
    assert g.macs[0] == 12 * 128 * 64 * 128


@pytest.mark.parametrize(
    "bad,field",
    [
        (dict(K=0), "K"),
        (dict(stride=-1), "stride"),
        (dict(padding=-1), "padding"),
        (dict(R=12), "R"),
        (dict(groups=3), "groups"),
        (dict(type="DSCONV", K=8, C=4, groups=4), "type"),
        (dict(residual_from=1), "residual_from"),
        (dict(residual_from=-3), "residual_from"),
        (dict(type="BOGUS"), "type"),
    ],
)
def test_validation_names_layer_and_field(bad, field):
    with pytest.raises(LayerTableError) as err:
        LayerTable.from_rows("tbl", [_row(), _row(**bad)])
    assert err.value.index == 1 and err.value.field == field
    assert "layer 1" in str(err.value) and "'tbl'" in str(err.value)


def test_residual_codes_accepted():
    t = LayerTable.from_rows("t", [_row(residual_from=RESIDUAL_FROM_INPUT), _row(K=8, C=8, residual_from=0)])
    assert t.residual_from.tolist() == [RESIDUAL_FROM_INPUT, 0]
    assert NO_RESIDUAL == -1


def test_from_maestro_dims():
    k, c, g = from_maestro_dims("DSCONV", [1, 1], [32, 96])
    assert k.tolist() == [32, 96] and c.tolist() == [32, 96] and g.tolist() == [32, 96]
    k, c, g = from_maestro_dims(LayerType.CONV, 64, 3)
    assert (int(k), int(c), int(g)) == (64, 3, 1)
    with pytest.raises(ValueError, match="K=1"):
        from_maestro_dims("DSCONV", 2, 32)


def test_select_remaps_residuals():
    t = LayerTable.from_rows("t", [_row(K=4), _row(C=4), _row(K=8, C=8, residual_from=1), _row(K=8, C=8, residual_from=0)])
    s = t.select([1, 2, 3])
    assert s.residual_from.tolist() == [NO_RESIDUAL, 0, NO_RESIDUAL]


def test_equals_compares_integer_columns():
    a = LayerTable.from_rows("a", [_row()])
    assert a.equals(LayerTable.from_rows("b", [dict(_row(), name="other")]))
    assert not a.equals(LayerTable.from_rows("a", [_row(padding=1)]))
