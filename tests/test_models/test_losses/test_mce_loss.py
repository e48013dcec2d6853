import torch
import torch.nn.functional as F

from wsss_mm.registry import MODELS


def test_mce_matches_bce_by_hand():
    loss_fn = MODELS.build(dict(type='MCELoss', loss_weight=2.0))
    assert loss_fn.loss_name == 'loss_mce'
    scores = torch.tensor([[0.9, 0.2], [0.4, 0.7]])
    labels = torch.tensor([[1, 0], [0, 1]])
    by_hand = -(torch.log(torch.tensor(0.9)) + torch.log(torch.tensor(0.8)) +
                torch.log(torch.tensor(0.6)) +
                torch.log(torch.tensor(0.7))) / 4
    loss = loss_fn(scores, labels)
    assert torch.allclose(loss, 2 * by_hand)
    assert torch.allclose(loss,
                          2 * F.binary_cross_entropy(scores, labels.float()))


def test_mce_clamps_saturated_scores():
    loss_fn = MODELS.build(
        dict(type='MCELoss', loss_name='loss_img', eps=1e-4))
    assert loss_fn.loss_name == 'loss_img'
    scores = torch.tensor([[1.0, 0.0]], requires_grad=True)
    loss = loss_fn(scores, torch.tensor([[0, 1]]))
    # Both entries are completely wrong; clamping bounds them at -log(eps).
    assert torch.allclose(loss, -torch.log(torch.tensor(1e-4)), rtol=1e-4)
    loss.backward()
    assert torch.isfinite(scores.grad).all()
