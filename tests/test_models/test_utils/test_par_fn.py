"""PAR refinement against hand-computed tensors."""
import math

import torch

from wsss_mm.models.utils import pixel_adaptive_refine
from wsss_mm.models.utils.par import dilated_neighbours, neighbour_distances


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
