import pytest
import torch

from wsss_mm.registry import MODELS


def test_output_shape_and_inputs():
    neck = MODELS.build(
        dict(type='HVBiLSTM', in_channels=16, hidden_channels=6))
    assert neck.out_channels == 24
    x = torch.randn(2, 16, 3, 5)
    out = neck(x)
    assert out.shape == (2, 24, 3, 5)
    neck.eval()
    # A tuple of backbone outputs: the last one is used.
    assert torch.equal(neck((torch.randn(2, 16, 3, 5), x)), neck(x))
    assert torch.equal(neck([x]), neck(x))
    with pytest.raises(ValueError):
        neck(torch.randn(2, 15, 16))


def test_mixes_along_rows_and_columns_only():
    torch.manual_seed(0)
    neck = MODELS.build(
        dict(type='HVBiLSTM', in_channels=8, hidden_channels=4, dropout=0.5))
    neck.eval()  # dropout off
    x = torch.randn(1, 8, 4, 5)
    x2 = x.clone()
    r, c = 1, 3
    x2[0, :, r, c] += 1.0
    with torch.no_grad():
        diff = (neck(x2) - neck(x)).abs()
    row_part = diff[0, :8].amax(0)  # [h, w]
    col_part = diff[0, 8:].amax(0)
    # Row LSTM: the whole row r changes (both directions), nothing else.
    assert (row_part[r] > 1e-6).all()
    row_part[r] = 0
    assert row_part.max() < 1e-6
    # Column LSTM: the whole column c changes, nothing else.
    assert (col_part[:, c] > 1e-6).all()
    col_part[:, c] = 0
    assert col_part.max() < 1e-6


def test_dropout_active_in_training():
    neck = MODELS.build(
        dict(type='HVBiLSTM', in_channels=8, hidden_channels=4, dropout=0.5))
    x = torch.randn(1, 8, 3, 3)
    neck.train()
    torch.manual_seed(0)
    a = neck(x)
    torch.manual_seed(1)
    b = neck(x)
    assert not torch.allclose(a, b)
    neck.eval()
    assert torch.equal(neck(x), neck(x))
