"""ToCo's registered parts (LargeFOV head, balanced CE, dense-energy and
CTC modules) and the view helpers, against hand-computed values."""
import math

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from wsss_mm.models.utils import (balanced_cross_entropy, random_hflip,
                                  random_resized_views, scaled_dense_energy)
from wsss_mm.models.utils.token_contrast import class_token_contrast_loss
from wsss_mm.registry import MODELS


def test_balanced_cross_entropy_hand_computed():
    logits = torch.tensor([[[[2., 0., 1.]], [[0., 1., 5.]]]])  # [1,2,1,3]
    labels = torch.tensor([[[0, 1, 255]]])
    ce0 = -math.log(math.exp(2) / (math.exp(2) + 1))
    ce1 = -math.log(math.e / (1 + math.e))
    got = balanced_cross_entropy(logits, labels)
    assert math.isclose(float(got), 0.5 * (ce0 + ce1), rel_tol=1e-6)
    # no background pixel: that half is 0, not NaN
    only_fg = torch.tensor([[[1, 1, 255]]])
    got = balanced_cross_entropy(logits, only_fg)
    fg = (-math.log(1 / (math.exp(2) + 1)) -
          math.log(math.e / (1 + math.e))) / 2
    assert math.isclose(float(got), 0.5 * fg, rel_tol=1e-6)
    # without background: plain cross entropy
    plain = balanced_cross_entropy(logits, labels, background_index=None)
    assert math.isclose(float(plain), (ce0 + ce1) / 2, rel_tol=1e-6)


def test_balanced_ce_module_as_decode_loss_of_largefov():
    head = MODELS.build(
        dict(type='LargeFOVHead', in_channels=8, channels=4, dilation=2,
             num_classes=3, loss_decode=dict(
                 type='BalancedCrossEntropyLoss', loss_weight=0.1)))
    assert head.conv6.dilation == (2, 2) and head.conv6.bias is None
    assert head.conv_seg.bias is None and head.dropout is None
    feat = torch.randn(2, 8, 4, 4)
    logits = head((torch.zeros(1), feat))  # reads the last level
    assert logits.shape == (2, 3, 4, 4)
    samples = []
    for i in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 8, 8)))
        samples.append(s)
    losses = head.loss_by_feat(logits, samples)
    up = F.interpolate(logits, size=(8, 8), mode='bilinear',
                       align_corners=False)
    labels = torch.cat([s.gt_sem_seg.data for s in samples])
    expected = 0.1 * balanced_cross_entropy(up, labels)
    assert torch.allclose(losses['loss_bce'], expected)


def test_dense_energy_module_weights():
    torch.manual_seed(0)
    img = torch.rand(1, 3, 8, 8) * 255
    logits = torch.randn(1, 3, 8, 8)
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    mod = MODELS.build(dict(type='DenseEnergyLoss'))
    got = mod(img, logits, labels)
    expected = 0.05 * 1e-7 * scaled_dense_energy(img, logits, labels)
    assert torch.allclose(got, expected)
    assert mod.loss_name == 'loss_reg'


def test_ctc_module_momentum_update_and_loss():
    torch.manual_seed(0)
    ctc = MODELS.build(
        dict(type='ClassTokenContrastLoss', projector=dict(
            type='DINOProjector', in_channels=4, hidden_channels=8,
            bottleneck_channels=4, out_channels=6), loss_weight=0.5))
    before = [p.clone() for p in ctc.momentum_projector.parameters()]
    with torch.no_grad():
        for p in ctc.projector.parameters():
            p.add_(1.)
    ctc.momentum_update()
    for p_t, p_s, p0 in zip(ctc.momentum_projector.parameters(),
                            ctc.projector.parameters(), before):
        assert torch.allclose(p_t, 0.9 * p0 + 0.1 * p_s)
    g = torch.randn(4, 4)  # 2 views x B=2
    local = torch.randn(6, 4)  # 3 crops x B=2
    flags = torch.tensor([[1., 1., 0., 1., 0.], [1., 1., 1., 1., 0.]])
    got = ctc(g, local, flags)
    with torch.no_grad():
        teacher = ctc.momentum_projector(g)
    student = ctc.projector(torch.cat([g, local]))
    expected = 0.5 * class_token_contrast_loss(student, teacher, flags, 0.5)
    assert torch.allclose(got, expected)
    got.backward()
    assert all(p.grad is None for p in ctc.momentum_projector.parameters())


def test_random_views():
    x = torch.arange(2 * 16.).view(2, 1, 4, 4)
    g = torch.Generator().manual_seed(0)
    flipped = random_hflip(x, prob=1.0, generator=g)
    assert torch.equal(flipped, x.flip(-1))
    assert torch.equal(random_hflip(x, prob=0.0, generator=g), x)
    # scale (1, 1) and ratio (1, 1): the whole image, unflipped
    v = random_resized_views(x, scale=(1., 1.), ratio=(1., 1.),
                             flip_prob=0., generator=g)
    assert torch.allclose(v, x)
    v = random_resized_views(x, scale=(0.25, 0.25), ratio=(1., 1.),
                             flip_prob=0., generator=g)
    # a 2x2 crop x[y0:y0 + 2, x0:x0 + 2] resized to 4x4 (bilinear): the
    # corners keep the crop's corner values
    for i in range(2):
        v00 = v[i, 0, 0, 0]
        assert torch.allclose(v[i, 0, 0, 3], v00 + 1)
        assert torch.allclose(v[i, 0, 3, 0], v00 + 4)
        assert torch.allclose(v[i, 0, 3, 3], v00 + 5)
        y0, x0 = divmod(int(v00) - 16 * i, 4)
        assert y0 <= 2 and x0 <= 2
