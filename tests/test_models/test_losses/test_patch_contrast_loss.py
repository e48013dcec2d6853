import torch

from wsss_mm.models.utils import patch_contrast_loss
from wsss_mm.registry import MODELS


def test_patch_contrast_loss_module():
    loss_fn = MODELS.build(
        dict(
            type='PatchContrastLoss',
            high_thr=0.6,
            low_ratio=0.2,
            loss_weight=0.02))
    assert loss_fn.loss_name == 'loss_pcl'
    torch.manual_seed(0)
    emb = torch.randn(2, 10, 8, requires_grad=True)
    scores = (torch.randn(2, 10, 4) * 4).softmax(-1)
    labels = torch.tensor([[1, 1, 0, 0], [0, 0, 1, 1]])
    loss = loss_fn(emb, scores, labels)
    expected = 0.02 * patch_contrast_loss(emb, scores, labels, 0.6, 0.2)
    assert expected > 0
    assert torch.allclose(loss, expected)
    loss.backward()
    assert emb.grad.abs().sum() > 0
