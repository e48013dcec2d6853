"""PatchClassifierHead and the registered pooling layers."""
import pytest
import torch

from wsss_mm.models.utils import adaptive_k_pool, gap_pool, gmp_pool, topk_pool
from wsss_mm.registry import MODELS


@pytest.mark.parametrize('cfg, fn', [
    (dict(type='GlobalMaxPool'), gmp_pool),
    (dict(type='GlobalAvgPool'), gap_pool),
    (dict(type='TopKPool', k=3), lambda s: topk_pool(s, 3)),
    (dict(type='AdaptiveKPool', k_max=4, gap=0.2),
     lambda s: adaptive_k_pool(s, k_max=4, gap=0.2)),
])
def test_registered_poolings_match_functions(cfg, fn):
    scores = torch.rand(2, 10, 5)
    pool = MODELS.build(cfg)
    assert torch.equal(pool(scores), fn(scores))


def test_adaptive_pool_module_hand_value():
    # One class, patches 0.9, 0.85, 0.7, 0.1: gap 0.1 keeps 0.9 and 0.85.
    scores = torch.tensor([[[0.9], [0.85], [0.7], [0.1]]])
    out = MODELS.build(dict(type='AdaptiveKPool', k_max=6, gap=0.1))(scores)
    assert torch.allclose(out, torch.tensor([[0.875]]))


def _head(**kwargs):
    cfg = dict(
        type='PatchClassifierHead',
        in_channels=8,
        num_classes=3,
        pooling=dict(type='AdaptiveKPool', k_max=6, gap=0.1),
        loss_cls=dict(type='MCELoss'),
        loss_contrast=dict(type='PatchContrastLoss', loss_weight=0.5))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_head_probabilities_and_pooling():
    head = _head()
    feats = torch.randn(2, 8, 4, 5)
    probs = head(feats)
    assert probs.shape == (2, 3, 4, 5)
    assert torch.allclose(probs.sum(1), torch.ones(2, 4, 5), atol=1e-6)
    # Pooling runs over the 20 patches of each image.
    flat = probs.flatten(2).transpose(1, 2)
    assert torch.allclose(head.pool(probs), adaptive_k_pool(flat, 6, 0.1))
    assert head.classifier.bias is None


def test_head_loss_values():
    head = _head(loss_contrast=None)
    feats = torch.randn(2, 8, 3, 3)
    labels = torch.tensor([[1., 0., 1.], [1., 1., 0.]])
    losses, probs = head.loss(feats, labels)
    pooled = head.pool(probs).clamp(1e-6, 1 - 1e-6)
    expected = torch.nn.functional.binary_cross_entropy(pooled, labels)
    assert torch.allclose(losses['loss_mce'], expected, atol=1e-6)
    assert set(losses) == {'loss_mce', 'acc_cls'}
    with_pcl, _ = _head().loss(feats, labels)
    assert 'loss_pcl' in with_pcl


def test_head_learns_patch_classes():
    """A few steps on a fixed batch: loss decreases and patches with a
    class's feature direction end up classified as that class. (With max
    or adaptive-K pooling on 16 one-hot patches the top-K set can lock onto
    background patches from the start: only the selected patches get a
    gradient, which is the method's known weakness, not tested here.)"""
    torch.manual_seed(0)
    head = _head(loss_contrast=None, pooling=dict(type='GlobalAvgPool'))
    # Background patches carry e0, class-1 patches e1, class-2 patches e2.
    feats = torch.zeros(2, 8, 4, 4)
    feats[:, 0] = 1.0
    feats[0, :, :2, :2] = 0
    feats[0, 1, :2, :2] = 1.0
    feats[1, :, 2:, 2:] = 0
    feats[1, 2, 2:, 2:] = 1.0
    labels = torch.tensor([[1., 1., 0.], [1., 0., 1.]])
    opt = torch.optim.Adam(head.parameters(), lr=0.1)
    first = None
    for _ in range(60):
        losses, _ = head.loss(feats, labels)
        first = first if first is not None else float(losses['loss_mce'])
        opt.zero_grad()
        losses['loss_mce'].backward()
        opt.step()
    # GAP's floor is high (a class covers a quarter of an image).
    assert float(losses['loss_mce']) < 0.7 * first
    pred = head(feats).argmax(1)
    assert torch.all(pred[0, :2, :2] == 1) and torch.all(pred[1, 2:, 2:] == 2)
    assert pred[0, 3, 3] == 0 and pred[1, 0, 0] == 0


def test_background_prior_pooling_hand_computed():
    """bg_pooling pools the background column its own way; the other
    classes keep the head's pooling."""
    head = _head(
        loss_contrast=None,
        pooling=dict(type='GlobalMaxPool'),
        bg_pooling=dict(type='TopKRatioPool', ratio=0.5),
        bg_index=0)
    # 4 patches; background scores 0.9, 0.1, 0.2, 0.1: max 0.9, but the
    # mean of the top half is (0.9 + 0.2) / 2 = 0.55. Class 1 (the
    # foreground painted over three patches) stays max-pooled: 0.8.
    probs = torch.tensor([[[0.9, 0.1, 0.2, 0.1], [0.05, 0.8, 0.7, 0.8],
                           [0.05, 0.1, 0.1, 0.1]]]).reshape(1, 3, 2, 2)
    pooled = head.pool(probs)
    assert torch.allclose(pooled, torch.tensor([[0.55, 0.8, 0.1]]))
    plain = _head(loss_contrast=None, pooling=dict(type='GlobalMaxPool'))
    assert torch.allclose(plain.pool(probs), torch.tensor([[0.9, 0.8, 0.1]]))
    # The painted image now costs background loss: BCE(0.55, 1) > BCE(0.9).
    labels = torch.tensor([[1., 1., 0.]])
    bce = torch.nn.functional.binary_cross_entropy
    assert bce(pooled, labels) > bce(plain.pool(probs), labels)
    # Gradient of the background score reaches the two kept patches only.
    p = probs.clone().requires_grad_(True)
    head.pool(p)[0, 0].backward()
    assert torch.allclose(p.grad[0, 0].flatten(),
                          torch.tensor([0.5, 0., 0.5, 0.]))
    with pytest.raises(ValueError, match='bg_index'):
        _head(bg_pooling=dict(type='TopKRatioPool'), bg_index=3)


def test_adaptive_pool_ratio_module_hand_value():
    # Max 0.5: ratio 0.9 keeps 0.5 and 0.46 (>= 0.45), not 0.41.
    scores = torch.tensor([[[0.5], [0.46], [0.41], [0.1]]])
    out = MODELS.build(
        dict(type='AdaptiveKPool', k_max=6, mode='ratio', ratio=0.9))(scores)
    assert torch.allclose(out, torch.tensor([[0.48]]))
