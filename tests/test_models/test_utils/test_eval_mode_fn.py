import pytest
import torch
import torch.nn as nn

from wsss_mm.models.utils import eval_mode


def test_eval_mode_turns_dropout_off_and_restores_each_flag():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5),
                          nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 2)))
    model.train()
    model[2][1].eval()  # kept in eval mode on purpose
    before = [m.training for m in model.modules()]
    x = torch.ones(3, 4)
    with eval_mode(model) as m:
        assert m is model
        assert not any(mod.training for mod in model.modules())
        out = model(x)
    # dropout off: the plain composition of the linear layers
    expected = model[2][1](model[0](x))
    assert torch.equal(out, expected)
    assert [m.training for m in model.modules()] == before
    # restored after an error too
    with pytest.raises(RuntimeError):
        with eval_mode(model):
            raise RuntimeError('boom')
    assert [m.training for m in model.modules()] == before
