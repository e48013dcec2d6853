import pytest
import torch
import torch.nn as nn
from mmengine.optim import build_optim_wrapper


class _Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, 4, 3))
        self.fc = nn.Linear(3, 3)
        self.norm = nn.LayerNorm(3)
        self.head = nn.Linear(3, 2)


def _groups(model, paramwise):
    wrapper = build_optim_wrapper(
        model,
        dict(type='OptimWrapper',
             optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.5),
             constructor='NoDecayOptimWrapperConstructor',
             paramwise_cfg=paramwise))
    names = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for g in wrapper.optimizer.param_groups:
        for p in g['params']:
            out[names[id(p)]] = (g['lr'], g['weight_decay'])
    return out


@pytest.mark.parametrize('paramwise', [
    None, dict(custom_keys={'head': dict(lr_mult=10.0)})
])
def test_no_decay_on_bias_norm_and_tokens(paramwise):
    got = _groups(_Net(), paramwise)
    head_lr = 10.0 if paramwise else 1.0
    assert got == {
        'pos_embed': (1.0, 0.0),
        'fc.weight': (1.0, 0.5),
        'fc.bias': (1.0, 0.0),
        'norm.weight': (1.0, 0.0),
        'norm.bias': (1.0, 0.0),
        'head.weight': (head_lr, 0.5),
        'head.bias': (head_lr, 0.0),
    }
