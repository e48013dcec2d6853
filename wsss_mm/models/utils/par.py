"""Pixel-adaptive refinement (PAR) of class maps, pure PyTorch.

AFA and ToCo (rulixiang/ToCo ``model/PAR.py``) refine CAMs with affinities
between each pixel and its 8 neighbours at several dilations, computed from
RGB differences (normalised by their spread over the neighbourhood) and a
small positional term, and propagated for a fixed number of iterations.
"""
import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'neighbour_kernel', 'dilated_neighbours', 'neighbour_distances',
    'pixel_adaptive_refine'
]


def neighbour_kernel(device=None, dtype=None) -> Tensor:
    """``[8, 1, 3, 3]`` one-hot kernels picking the 8 neighbours, in
    row-major order (top-left, top, top-right, left, right, bottom-left,
    bottom, bottom-right)."""
    weight = torch.zeros(8, 1, 3, 3, device=device, dtype=dtype)
    cells = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (2, 2)]
    for k, (i, j) in enumerate(cells):
        weight[k, 0, i, j] = 1
    return weight


def dilated_neighbours(x: Tensor, dilations: Sequence[int]) -> Tensor:
    """The 8 neighbours of every pixel at each dilation.

    Args:
        x (Tensor): ``[B, C, H, W]``.
        dilations (Sequence[int]): Neighbour distances (replicate padding
            at the borders).

    Returns:
        Tensor: ``[B, C, 8 * len(dilations), H, W]``.
    """
    b, c, h, w = x.shape
    kernel = neighbour_kernel(x.device, x.dtype)
    out = []
    for d in dilations:
        pad = F.pad(x, [d] * 4, mode='replicate')
        pad = pad.reshape(b * c, 1, pad.shape[-2], pad.shape[-1])
        out.append(F.conv2d(pad, kernel, dilation=d).view(b, c, -1, h, w))
    return torch.cat(out, dim=2)


def neighbour_distances(dilations: Sequence[int], device=None,
                        dtype=None) -> Tensor:
    """``[1, 1, 8 * len(dilations), 1, 1]`` Euclidean distance of each
    neighbour (``d`` for edge neighbours, ``sqrt(2) d`` for diagonals)."""
    base = torch.ones(8, device=device, dtype=dtype)
    base[[0, 2, 5, 7]] = math.sqrt(2)
    pos = torch.cat([base * d for d in dilations])
    return pos.view(1, 1, -1, 1, 1)


def pixel_adaptive_refine(images: Tensor,
                          masks: Tensor,
                          dilations: Sequence[int] = (1, 2, 4, 8, 12, 24),
                          num_iter: int = 10,
                          w1: float = 0.3,
                          w2: float = 0.01) -> Tensor:
    """Refine class maps with image affinities (PAR).

    ``masks`` are resized (bilinear, ``align_corners=True``) to the image.
    For neighbour ``k`` of pixel ``i`` (all dilations together)::

        a_ik = softmax_k(-mean_rgb((|I_k - I_i| / (std_k(I_k) + 1e-8)
                                   / w1) ** 2))
               + w2 * softmax_k(-(p_k / (std_k(p_k) + 1e-8) / w1) ** 2)

    with ``std`` the unbiased standard deviation over the neighbours and
    ``p_k`` the neighbour's distance; then ``num_iter`` times
    ``m_i <- sum_k a_ik m_k``.

    Args:
        images (Tensor): ``[B, 3, H, W]`` images (ToCo: RGB in ``[0, 1]``).
        masks (Tensor): ``[B, K, h, w]`` class maps (probabilities).
        dilations (Sequence[int]): Neighbour distances.
        num_iter (int): Propagation steps.
        w1 (float): Temperature of both affinity terms.
        w2 (float): Weight of the positional term.

    Returns:
        Tensor: ``[B, K, H, W]`` refined maps.
    """
    masks = F.interpolate(
        masks, size=images.shape[-2:], mode='bilinear', align_corners=True)
    b, _, h, w = images.shape
    neigh = dilated_neighbours(images, dilations)
    pos = neighbour_distances(dilations, images.device,
                              images.dtype).expand(b, 1, -1, h, w)
    diff = (neigh - images.unsqueeze(2)).abs()
    std = neigh.std(dim=2, keepdim=True)
    aff = -(diff / (std + 1e-8) / w1)**2
    aff = aff.mean(dim=1, keepdim=True)
    pos_std = pos.std(dim=2, keepdim=True)
    pos_aff = -(pos / (pos_std + 1e-8) / w1)**2
    aff = F.softmax(aff, dim=2) + w2 * F.softmax(pos_aff, dim=2)
    for _ in range(num_iter):
        masks = (dilated_neighbours(masks, dilations) * aff).sum(dim=2)
    return masks
