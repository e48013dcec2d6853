"""The robust loss ignores exactly the pixels it should."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub

from wsss_mm.models.utils.robust import disagreement_weights, drop_ratio_at
from wsss_mm.registry import MODELS


def _case():
    # 1 image, 2 classes, 1x6 pixels; labels: [0, 1, 1, 0, 255, 1]
    # the model predicts class 0 everywhere, with growing confidence
    logits = torch.zeros(1, 2, 1, 6)
    logits[0, 0, 0] = torch.tensor([1., 1., 3., 2., 5., 0.5])
    labels = torch.tensor([[[0, 1, 1, 0, 255, 1]]])
    return logits, labels


def test_drop_ratio_schedule():
    assert drop_ratio_at(4, 5, 10, 0.4) == 0
    assert drop_ratio_at(5, 5, 10, 0.4) == 0
    assert drop_ratio_at(10, 5, 10, 0.4) == pytest.approx(0.2)
    assert drop_ratio_at(99, 5, 10, 0.4) == pytest.approx(0.4)
    assert drop_ratio_at(5, 5, 0, 0.4) == pytest.approx(0.4)


def test_disagreement_weights_exact():
    logits, labels = _case()
    # valid pixels: 0,1,2,3,5 (5); disagreeing (label 1, pred 0): 1, 2, 5
    # with CE: pixel 2 (margin 3) > pixel 1 (margin 1) > pixel 5 (0.5)
    w = disagreement_weights(logits, labels, ratio=0.0)
    assert w.tolist() == [[[1, 1, 1, 1, 0, 1]]]
    w = disagreement_weights(logits, labels, ratio=0.2)  # 1 pixel
    assert w.tolist() == [[[1, 1, 0, 1, 0, 1]]]
    w = disagreement_weights(logits, labels, ratio=0.4)  # 2 pixels
    assert w.tolist() == [[[1, 0, 0, 1, 0, 1]]]
    # more than the disagreeing pixels: only those 3
    w = disagreement_weights(logits, labels, ratio=1.0, down_weight=0.25)
    assert w.tolist() == [[[1, .25, .25, 1, 0, .25]]]


def test_loss_follows_the_iteration():
    logits, labels = _case()
    loss = MODELS.build(
        dict(type='ReliableCrossEntropyLoss', start_iter=10, ramp_iters=10,
             max_drop_ratio=0.4))
    assert loss.loss_name == 'loss_ce'
    hub = MessageHub.get_current_instance()
    ce = F.cross_entropy(
        logits, labels.clamp(max=1), reduction='none')[0, 0]
    hub.update_info('iter', 3)  # before start: plain CE over valid pixels
    keep = [0, 1, 2, 3, 5]
    torch.testing.assert_close(loss(logits, labels), ce[keep].mean())
    hub.update_info('iter', 15)  # half way: ratio 0.2 -> drop pixel 2
    torch.testing.assert_close(loss(logits, labels), ce[[0, 1, 3, 5]].mean())
    hub.update_info('iter', 25)  # ratio 0.4 -> drop pixels 1 and 2
    torch.testing.assert_close(loss(logits, labels), ce[[0, 3, 5]].mean())
    # gradients reach the kept pixels only
    x = logits.clone().requires_grad_(True)
    loss(x, labels).backward()
    assert x.grad[0, :, 0, [1, 2, 4]].abs().sum() == 0
    assert (x.grad[0, :, 0, [0, 3, 5]].abs().sum(0) > 0).all()
    hub.update_info('iter', 0)
    with pytest.raises(ValueError):
        MODELS.build(dict(type='ReliableCrossEntropyLoss',
                          max_drop_ratio=2))
