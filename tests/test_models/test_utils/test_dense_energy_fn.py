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


def _cdist_bilateral_filter(images, values, sigma_rgb, sigma_xy, chunk):
    """The former implementation: per image, kernel rows from
    ``torch.cdist`` in chunks."""
    b, k, h, w = values.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=values.dtype),
                            torch.arange(w, dtype=values.dtype),
                            indexing='ij')
    pos = torch.stack([ys, xs], dim=-1).reshape(-1, 2) / sigma_xy
    out = values.new_empty(b, k, h * w)
    for i in range(b):
        feat = torch.cat([pos, images[i].reshape(3, -1).t() / sigma_rgb],
                         dim=1)
        v = values[i].reshape(k, -1).t()
        for start in range(0, h * w, chunk):
            d2 = torch.cdist(feat[start:start + chunk], feat).pow(2)
            out[i, :, start:start + chunk] = (torch.exp(-0.5 * d2) @ v).t()
    return out.reshape(b, k, h, w)


def test_bilateral_filter_equals_cdist_version_and_float64():
    """Batched product-form kernel = the former per-image cdist kernel and
    the float64 sum within float32 precision, on 0-255 colours with far
    pairs (weights below float32's normal range) and a last partial
    chunk."""
    g = torch.Generator().manual_seed(0)
    img = torch.rand(3, 3, 12, 10, generator=g) * 255
    vals = torch.rand(3, 4, 12, 10, generator=g).softmax(1)
    new = bilateral_filter(img, vals, 15., 50., chunk=32)
    old = _cdist_bilateral_filter(img, vals, 15., 50., chunk=32)
    exact = _cdist_bilateral_filter(img.double(), vals.double(), 15., 50.,
                                    chunk=120)
    assert torch.allclose(new, old, rtol=1e-4, atol=0)
    # closer to the float64 sum than the former version (6e-5 here)
    assert torch.allclose(new.double(), exact, rtol=3e-5, atol=0)
    # half-precision values are filtered in float32
    half = bilateral_filter(img, vals.half(), 15., 50.)
    assert half.dtype == torch.half
    assert torch.allclose(half.float(), new, rtol=1e-2)


def test_bilateral_filter_default_block_side_by_device(monkeypatch):
    """Without ``chunk`` the block side is the device's (512 on CPU, 4096
    on CUDA: 512 is launch-bound there); the blocks are counted through
    ``torch.bmm`` (one product per block plus one per mirrored block)."""
    from wsss_mm.models.utils import dense_energy
    assert dense_energy.default_chunk(torch.device('cpu')) == 512
    assert dense_energy.default_chunk(torch.device('cuda', 0)) == 4096
    assert dense_energy.default_chunk(torch.device('meta')) == 512
    calls = []
    bmm = torch.bmm

    def counting_bmm(*args):
        calls.append(1)
        return bmm(*args)

    monkeypatch.setattr(torch, 'bmm', counting_bmm)
    monkeypatch.setitem(dense_energy.DEFAULT_CHUNKS, 'cpu', 8)
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 3, 6, 6, generator=g) * 255
    vals = torch.rand(1, 2, 6, 6, generator=g)
    out = bilateral_filter(img, vals, 15., 5.)
    # 36 pixels in blocks of 8: 5 x 5 blocks, 15 computed (upper
    # triangle), each 2 products, 10 mirrored with one more
    assert len(calls) == 15 * 2 + 10
    calls.clear()
    ref = bilateral_filter(img, vals, 15., 5., chunk=36)
    assert len(calls) == 2
    assert torch.allclose(out, ref, rtol=1e-5, atol=0)
