"""Pixel-adaptive refinement (PAR) of class maps, pure PyTorch.

AFA and ToCo (rulixiang/ToCo ``model/PAR.py``) refine CAMs with affinities
between each pixel and its 8 neighbours at several dilations, computed from
RGB differences (normalised by their spread over the neighbourhood) and a
small positional term, and propagated for a fixed number of iterations.
"""
import math
import warnings
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'neighbour_kernel', 'neighbour_index', 'dilated_neighbours',
    'neighbour_distances', 'pixel_adaptive_refine'
]

# (row, column) of the 8 neighbours in a 3x3 window, row-major
_NEIGHBOUR_CELLS = ((0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1),
                    (2, 2))


def neighbour_kernel(device=None, dtype=None) -> Tensor:
    """``[8, 1, 3, 3]`` one-hot kernels picking the 8 neighbours, in
    row-major order (top-left, top, top-right, left, right, bottom-left,
    bottom, bottom-right)."""
    weight = torch.zeros(8, 1, 3, 3, device=device, dtype=dtype)
    for k, (i, j) in enumerate(_NEIGHBOUR_CELLS):
        weight[k, 0, i, j] = 1
    return weight


def neighbour_index(size: Tuple[int, int], dilations: Sequence[int],
                    device=None) -> Tensor:
    """Flat pixel indices of the 8 neighbours of every pixel at each
    dilation, the border replicated (indices clamped into the image).

    Args:
        size (tuple[int, int]): ``(H, W)``.
        dilations (Sequence[int]): Neighbour distances.

    Returns:
        Tensor: ``[8 * len(dilations) * H * W]`` long, neighbour-major:
        neighbour ``k`` of pixel ``(y, x)`` at ``(k * H + y) * W + x``.
    """
    h, w = size
    offsets = torch.tensor([((i - 1) * d, (j - 1) * d) for d in dilations
                            for i, j in _NEIGHBOUR_CELLS],
                           device=device)
    ys = torch.arange(h, device=device)[None, :, None]
    xs = torch.arange(w, device=device)[None, None, :]
    rows = (ys + offsets[:, 0, None, None]).clamp(0, h - 1)
    cols = (xs + offsets[:, 1, None, None]).clamp(0, w - 1)
    return (rows * w + cols).reshape(-1)


def _gather_neighbours(x: Tensor, index: Tensor) -> Tensor:
    """``[B, C, K, H, W]`` values of ``x`` at :func:`neighbour_index`."""
    b, c, h, w = x.shape
    out = x.reshape(b * c, h * w).index_select(1, index)
    return out.view(b, c, -1, h, w)


def dilated_neighbours(x: Tensor, dilations: Sequence[int]) -> Tensor:
    """The 8 neighbours of every pixel at each dilation.

    Equal to a dilated convolution with :func:`neighbour_kernel` on the
    input replicate-padded by the dilation (ToCo's ``get_kernel`` +
    ``F.conv2d``), taken as one gather (:func:`neighbour_index`) instead:
    copies, no multiply-adds, one operation for all dilations.

    Args:
        x (Tensor): ``[B, C, H, W]``.
        dilations (Sequence[int]): Neighbour distances (replicate padding
            at the borders).

    Returns:
        Tensor: ``[B, C, 8 * len(dilations), H, W]``.
    """
    return _gather_neighbours(
        x, neighbour_index(tuple(x.shape[-2:]), dilations, x.device))


def neighbour_distances(dilations: Sequence[int], device=None,
                        dtype=None) -> Tensor:
    """``[1, 1, 8 * len(dilations), 1, 1]`` Euclidean distance of each
    neighbour (``d`` for edge neighbours, ``sqrt(2) d`` for diagonals)."""
    base = torch.ones(8, device=device, dtype=dtype)
    base[[0, 2, 5, 7]] = math.sqrt(2)
    pos = torch.cat([base * d for d in dilations])
    return pos.view(1, 1, -1, 1, 1)


def _propagation_matrix(aff: Tensor, index: Tensor) -> Tensor:
    """PAR's propagation ``m_i <- sum_k a_ik m_k`` of all images as one
    block-diagonal sparse CSR matrix ``[B * H * W, B * H * W]``.

    Row ``(b, i)`` holds ``aff[b, 0, k, i]`` at column ``(b, j_k(i))`` for
    the neighbours ``j_k(i)`` of :func:`neighbour_index`; neighbours that
    the border clamps onto the same pixel are summed into one entry, so
    every row has distinct, ascending columns.

    Args:
        aff (Tensor): ``[B, 1, K, H, W]`` affinities.
        index (Tensor): ``[K * H * W]`` from :func:`neighbour_index`.
    """
    b, _, num, h, w = aff.shape
    n = h * w
    device = aff.device
    # the pattern of one image: distinct columns of each row, ascending,
    # and the entry each (pixel, neighbour) pair adds to
    cols, order = index.view(num, n).t().contiguous().sort(dim=1)
    first = torch.ones_like(cols, dtype=torch.bool)
    first[:, 1:] = cols[:, 1:] != cols[:, :-1]
    row_start = first.sum(dim=1).cumsum(dim=0) - first.sum(dim=1)
    entry = torch.empty_like(cols).scatter_(
        1, order, row_start[:, None] + first.cumsum(dim=1) - 1)
    cols = cols[first]
    nnz = cols.numel()
    offsets = torch.arange(b, device=device)
    crow = torch.cat([(row_start[None] + offsets[:, None] * nnz).flatten(),
                      offsets.new_full((1, ), b * nnz)])
    col = (cols[None] + offsets[:, None] * n).flatten()
    values = aff.new_zeros(b, nnz).scatter_add_(
        1, entry.view(1, -1).expand(b, -1),
        aff.view(b, num, n).transpose(1, 2).reshape(b, -1))
    with warnings.catch_warnings():  # 'CSR support is in beta state'
        warnings.filterwarnings('ignore', message='Sparse CSR tensor')
        return torch.sparse_csr_tensor(crow, col, values.flatten(),
                                       size=(b * n, b * n),
                                       check_invariants=False)


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

    Without gradients the propagation is a sparse matrix product
    (:func:`_propagation_matrix`: one operation per step for the whole
    batch); with them, a sum over the gathered neighbours.

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
    b, k, h, w = masks.shape
    index = neighbour_index((h, w), dilations, images.device)
    neigh = _gather_neighbours(images, index)
    pos = neighbour_distances(dilations, images.device,
                              images.dtype).expand(b, 1, -1, h, w)
    diff = (neigh - images.unsqueeze(2)).abs()
    std = neigh.std(dim=2, keepdim=True)
    aff = -(diff / (std + 1e-8) / w1)**2
    aff = aff.mean(dim=1, keepdim=True)
    pos_std = pos.std(dim=2, keepdim=True)
    pos_aff = -(pos / (pos_std + 1e-8) / w1)**2
    aff = F.softmax(aff, dim=2) + w2 * F.softmax(pos_aff, dim=2)
    if torch.is_grad_enabled() and (aff.requires_grad
                                    or masks.requires_grad):
        for _ in range(num_iter):
            masks = (_gather_neighbours(masks, index) * aff).sum(dim=2)
        return masks
    matrix = _propagation_matrix(aff, index)
    flat = masks.permute(0, 2, 3, 1).reshape(b * h * w, k)
    for _ in range(num_iter):
        flat = matrix @ flat
    return flat.view(b, h, w, k).permute(0, 3, 1, 2).contiguous()
