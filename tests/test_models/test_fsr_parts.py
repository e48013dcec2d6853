"""MaskedCrossAttentionAggregator, DINOProjector, FSRLoss and the
multi-view data preprocessor."""
import math

import pytest
import torch
import torch.nn.functional as F

from wsss_mm.models.utils.fsr import (fsr_class_loss, fsr_patch_loss,
                                      teacher_temperature)
from wsss_mm.registry import MODELS


def _manual_aggregate(agg, tokens, keep):
    """The aggregator's formula written out (one head per block)."""
    cls = agg.cls_token.expand(tokens.shape[0], -1, -1)
    for blk in agg.blocks:
        normed = blk.norm1(torch.cat([cls, tokens], 1))
        q = blk.attn.q(normed[:, :1])
        k = blk.attn.k(normed[:, 1:])
        v = blk.attn.v(normed[:, 1:])
        logits = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
        logits = logits.masked_fill(~keep[:, None], float('-inf'))
        cls = cls + blk.attn.proj(logits.softmax(-1) @ v)
        cls = cls + blk.mlp(blk.norm2(cls))
    return agg.norm(cls)[:, 0]


def test_aggregator_attends_only_to_unmasked_tokens():
    torch.manual_seed(0)
    agg = MODELS.build(
        dict(type='MaskedCrossAttentionAggregator', embed_dims=8,
             num_heads=1, num_blocks=2))
    tokens = torch.randn(2, 6, 8)
    mask = torch.tensor([[1, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 1]]).bool()
    out = agg(tokens, mask)
    assert out.shape == (2, 8)
    torch.testing.assert_close(out, _manual_aggregate(agg, tokens, ~mask))
    # masked tokens do not matter, unmasked ones do
    changed = tokens.clone()
    changed[mask] = 100.0
    torch.testing.assert_close(agg(changed, mask), out)
    changed = tokens.clone()
    changed[0, 1] = torch.randn(8)
    assert not torch.allclose(agg(changed, mask)[0], out[0])
    # no mask: every token is a key
    full = agg(tokens)
    torch.testing.assert_close(
        full, _manual_aggregate(agg, tokens, torch.ones(2, 6).bool()))
    # the class token gets gradients
    out.sum().backward()
    assert agg.cls_token.grad.abs().sum() > 0


def test_projector_weight_normalised_output():
    torch.manual_seed(0)
    proj = MODELS.build(
        dict(type='DINOProjector', in_channels=8, hidden_channels=16,
             bottleneck_channels=4, out_channels=10))
    x = torch.randn(3, 5, 8)
    y = proj(x)
    assert y.shape == (3, 5, 10)
    z = F.normalize(proj.mlp(x), dim=-1)
    expected = z @ F.normalize(proj.last_weight, dim=1).t()
    torch.testing.assert_close(y, expected)
    # the gain is fixed: scaling the direction changes nothing
    with torch.no_grad():
        proj.last_weight.mul_(7.0)
    torch.testing.assert_close(proj(x), y)
    assert y.abs().max() <= 1.0 + 1e-6  # cosine of unit vectors
    assert len(proj.mlp) == 5  # Linear GELU Linear GELU Linear


def test_fsr_loss_values_and_centres():
    torch.manual_seed(0)
    loss = MODELS.build(dict(type='FSRLoss', out_channels=6))
    s_cls, t_cls = torch.randn(2, 6), torch.randn(2, 6)
    s_pat, t_pat = torch.randn(2, 4, 6), torch.randn(2, 4, 6)
    mask = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 1]]).bool()
    out = loss(s_cls, t_cls, s_pat, t_pat, mask, cur_iter=0, max_iters=80)
    zero = torch.zeros(6)
    torch.testing.assert_close(
        out['loss_fsr_cls'], 0.1 * fsr_class_loss(s_cls, t_cls, zero, 0.04))
    torch.testing.assert_close(
        out['loss_fsr_patch'],
        0.1 * fsr_patch_loss(s_pat, t_pat, mask, zero, 0.04))
    # centres: 0.9 * 0 + 0.1 * batch mean
    torch.testing.assert_close(loss.class_center, 0.1 * t_cls.mean(0, True))
    torch.testing.assert_close(
        loss.patch_center, 0.1 * t_pat.mean(dim=(0, 1)).view(1, 1, 6))
    # the second call uses the updated centre and the warmed temperature
    c = loss.class_center.clone()
    out = loss(s_cls, t_cls, s_pat, t_pat, mask, cur_iter=5, max_iters=80)
    assert loss.temperature(5, 80) == pytest.approx(
        teacher_temperature(5, 80)) and loss.temperature(9, 80) == 0.07
    torch.testing.assert_close(
        out['loss_fsr_cls'],
        0.1 * fsr_class_loss(s_cls, t_cls, c, teacher_temperature(5, 80)))
    assert set(dict(loss.named_buffers())) == {'class_center', 'patch_center'}


def test_multiview_preprocessor():
    from mmengine.dataset import pseudo_collate
    from mmseg.structures import SegDataSample
    pre = MODELS.build(
        dict(type='MultiViewSegDataPreProcessor', mean=[10., 20., 30.],
             std=[2., 4., 5.], bgr_to_rgb=True, size_divisor=4))
    v1 = [torch.full((3, 4, 4), 50, dtype=torch.uint8) for _ in range(2)]
    v2 = [torch.zeros((3, 4, 4), dtype=torch.uint8) for _ in range(2)]
    v1[0][0] = 80  # B channel of sample 0, view 1 -> channel 2 after BGR
    batch = pseudo_collate([
        dict(inputs=[a, b], data_samples=SegDataSample())
        for a, b in zip(v1, v2)
    ])
    out = pre(batch, training=True)
    assert isinstance(out['inputs'], list) and len(out['inputs']) == 2
    x1, x2 = out['inputs']
    assert x1.shape == x2.shape == (2, 3, 4, 4)
    assert x1[0, 2, 0, 0].item() == pytest.approx((80 - 30) / 5)
    assert x1[1, 0, 0, 0].item() == pytest.approx((50 - 10) / 2)
    assert x2[0, :, 0, 0].tolist() == pytest.approx([-5., -5., -6.])
    # single view: unchanged behaviour
    single = pre(pseudo_collate([dict(inputs=v1[1],
                                      data_samples=SegDataSample())]))
    assert single['inputs'].shape == (1, 3, 4, 4)
