"""PAR refinement against hand-computed tensors."""
import math

import torch
import torch.nn.functional as F

from wsss_mm.models.utils import pixel_adaptive_refine
from wsss_mm.models.utils.par import (dilated_neighbours, neighbour_distances,
                                      neighbour_kernel)


def test_dilated_neighbours_replicate_border():
    x = torch.arange(9.).view(1, 1, 3, 3)
    n = dilated_neighbours(x, [1])
    assert n.shape == (1, 1, 8, 3, 3)
    # centre pixel: its 8 neighbours in row-major order
    assert n[0, 0, :, 1, 1].tolist() == [0., 1., 2., 3., 5., 6., 7., 8.]
    # corner (0, 0): replicated border
    assert n[0, 0, :, 0, 0].tolist() == [0., 0., 1., 0., 1., 3., 3., 4.]
    n2 = dilated_neighbours(x, [1, 2])
    assert n2.shape == (1, 1, 16, 3, 3)
    # dilation 2 from the centre reaches the (replicated) border cells
    assert n2[0, 0, 8:, 1, 1].tolist() == [0., 1., 2., 3., 5., 6., 7., 8.]


def _conv_neighbours(x, dilations):
    """The former dilated_neighbours: ToCo's dilated convolution with the
    one-hot kernels on the input replicate-padded by each dilation."""
    b, c, h, w = x.shape
    out = []
    for d in dilations:
        pad = F.pad(x, [d] * 4, mode='replicate')
        pad = pad.reshape(b * c, 1, h + 2 * d, w + 2 * d)
        out.append(F.conv2d(pad, neighbour_kernel(), dilation=d).view(
            b, c, 8, h, w))
    return torch.cat(out, dim=2)


def test_dilated_neighbours_equal_one_hot_dilated_convolution():
    """The gather gives the former convolution's values exactly,
    dilations beyond the image size included."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, 7, generator=g)
    dilations = [1, 2, 4, 8]
    assert torch.equal(dilated_neighbours(x, dilations),
                       _conv_neighbours(x, dilations))


def _conv_refine(images, masks, dilations, num_iter, w1=0.3, w2=0.01):
    """The former pixel_adaptive_refine (convolution neighbours, dense
    sum over them at every step)."""
    masks = F.interpolate(masks, size=images.shape[-2:], mode='bilinear',
                          align_corners=True)
    b, _, h, w = images.shape
    neigh = _conv_neighbours(images, dilations)
    pos = neighbour_distances(dilations).expand(b, 1, -1, h, w)
    diff = (neigh - images.unsqueeze(2)).abs()
    std = neigh.std(dim=2, keepdim=True)
    aff = (-(diff / (std + 1e-8) / w1)**2).mean(dim=1, keepdim=True)
    pos_aff = -(pos / (pos.std(dim=2, keepdim=True) + 1e-8) / w1)**2
    aff = F.softmax(aff, dim=2) + w2 * F.softmax(pos_aff, dim=2)
    for _ in range(num_iter):
        masks = (_conv_neighbours(masks, dilations) * aff).sum(dim=2)
    return masks


def test_refine_equals_convolution_version():
    """PAR as a sparse matrix product (no gradient) and as a sum over
    gathered neighbours (with gradient) = the former convolution version,
    within float32 rounding (the sums run in another order)."""
    g = torch.Generator().manual_seed(0)
    img = torch.rand(3, 3, 20, 18, generator=g)
    mask = torch.rand(3, 4, 10, 9, generator=g).softmax(1)
    dilations = (1, 2, 4, 8, 12, 24)  # beyond the image: clamped repeats
    expected = _conv_refine(img, mask, dilations, num_iter=10)
    sparse = pixel_adaptive_refine(img, mask, dilations, num_iter=10)
    assert torch.allclose(sparse, expected, rtol=1e-5, atol=0)
    mask.requires_grad_()
    dense = pixel_adaptive_refine(img, mask, dilations, num_iter=10)
    assert torch.allclose(dense, expected, rtol=1e-5, atol=0)
    dense.sum().backward()
    assert mask.grad is not None


def test_neighbour_distances():
    d = neighbour_distances([1, 4]).flatten()
    s = math.sqrt(2)
    assert torch.allclose(
        d, torch.tensor([s, 1, s, 1, 1, s, 1, s] +
                        [4 * s, 4, 4 * s, 4, 4, 4 * s, 4, 4 * s]))


def test_constant_image_scales_mask_by_one_plus_w2():
    """Uniform image: the colour affinities are a uniform softmax (sum 1)
    and the positional ones another softmax times w2, so a constant mask
    grows by (1 + w2) per iteration."""
    img = torch.full((1, 3, 6, 6), .4)
    mask = torch.full((1, 2, 3, 3), .5)
    out = pixel_adaptive_refine(img, mask, dilations=[1, 2], num_iter=2,
                                w2=0.01)
    assert out.shape == (1, 2, 6, 6)
    assert torch.allclose(out, torch.full_like(out, .5 * 1.01**2))


def test_refinement_follows_image_edges():
    """Black left half, white right half, a mask blurred across the edge:
    after PAR each half is nearly uniform and the halves separate."""
    img = torch.zeros(1, 3, 8, 8)
    img[..., 4:] = 1
    ramp = torch.linspace(0, 1, 8).expand(8, 8)
    mask = torch.stack([1 - ramp, ramp])[None]
    out = pixel_adaptive_refine(img, mask, dilations=[1, 2, 4], num_iter=10)
    fg = out[0, 1] / out[0].sum(0)
    left, right = fg[:, :4], fg[:, 4:]
    assert left.max() < right.min()
    assert left.std() < 0.2 * ramp[:, :4].std()
    assert right.std() < 0.2 * ramp[:, 4:].std()
