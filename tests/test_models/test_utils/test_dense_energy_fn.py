"""Dense-energy regulariser (pure PyTorch) against hand-computed values."""
import math

import torch
import torch.nn.functional as F

from wsss_mm.models.utils import (bilateral_filter, dense_energy_loss,
                                  scaled_dense_energy)


def test_bilateral_filter_two_pixels():
    k = math.exp(-0.5)
    img = torch.zeros(1, 3, 1, 2)
    vals = torch.tensor([[[[1., 0.]]]])
    out = bilateral_filter(img, vals, sigma_rgb=10., sigma_xy=1.)
    assert torch.allclose(out, torch.tensor([[[[1., k]]]]))
    img[0, 0, 0, 1] = 10.  # one sigma apart in colour as well
    out = bilateral_filter(img, vals, sigma_rgb=10., sigma_xy=1., chunk=1)
    assert torch.allclose(out, torch.tensor([[[[1., k * k]]]]))


def test_dense_energy_value_and_toco_gradient():
    """Pixel 0 certain (gate 0), pixel 1 split 50/50 (gate 0.5)."""
    k = math.exp(-0.5)
    img = torch.zeros(1, 3, 1, 2)
    probs = torch.tensor([[[[1., .5]], [[0., .5]]]], requires_grad=True)
    roi = torch.ones(1, 1, 2)
    unl = torch.zeros(1, 1, 2, dtype=torch.bool)
    loss = dense_energy_loss(img, probs, roi, unl, sigma_rgb=1., sigma_xy=1.)
    # AS at pixel 1: class 0 .5 (k + .5), class 1 .5 * .5
    as0, as1 = .5 * (k + .5), .25
    assert math.isclose(loss.item(), -(.5 * as0 + .5 * as1), rel_tol=1e-6)
    loss.backward()
    grad = torch.tensor([[[[0., -2 * as0]], [[0., -2 * as1]]]])
    assert torch.allclose(probs.grad, grad)
    # an unlabeled pixel gets gate 1
    unl[0, 0, 0] = True
    loss = dense_energy_loss(img, probs.detach(), roi, unl, 1., 1.)
    as0_p0 = 1 * (1 + .5 * k)
    expected = -(1 * as0_p0 + .5 * as0 + .5 * as1)
    assert math.isclose(float(loss), expected, rel_tol=1e-6)


def test_scaled_dense_energy_resizes_and_scales_sigma():
    """Half size: images nearest (pixels 0 and 2 of each row/column),
    probabilities bilinear, sigma_xy halved, ignored labels ungated."""
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 3, 4, 4, generator=g) * 255
    logits = torch.randn(1, 3, 4, 4, generator=g)
    labels = torch.zeros(1, 4, 4, dtype=torch.long)
    labels[0, 2, 2] = 255
    got = scaled_dense_energy(img, logits, labels, sigma_rgb=15.,
                              sigma_xy=100.)
    probs = F.interpolate(logits.softmax(1), size=(2, 2), mode='bilinear',
                          align_corners=False)
    unl = torch.tensor([[[False, False], [False, True]]])
    expected = dense_energy_loss(img[..., ::2, ::2], probs,
                                 torch.ones(1, 2, 2), unl, 15., 50.)
    assert torch.allclose(got, expected)
