import torch

from wsss_mm.models.utils import equivariance_loss
from wsss_mm.registry import MODELS


def test_equivariance_loss_module():
    loss_fn = MODELS.build(
        dict(type='EquivarianceLoss', loss_weight=0.5, loss_name='loss_et'))
    assert loss_fn.loss_name == 'loss_et'
    torch.manual_seed(0)
    p1 = torch.randn(2, 3, 4, 4).softmax(1)
    p2 = torch.randn(2, 3, 4, 4).softmax(1)
    labels = torch.tensor([[1, 0, 1], [1, 1, 1]])

    def flip(x):
        return torch.flip(x, dims=(-1, ))

    loss = loss_fn(p1, p2, labels, flip)
    expected = 0.5 * equivariance_loss(p1, p2, labels, flip)
    assert expected > 0
    assert torch.allclose(loss, expected)
    assert MODELS.build(dict(type='EquivarianceLoss')).loss_name == 'loss_eq'
