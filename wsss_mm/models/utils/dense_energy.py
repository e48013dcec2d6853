"""Dense-energy (dense CRF) regulariser in pure PyTorch.

ToCo regularises the decoder with the dense CRF loss of Tang et al. (2018)
through a compiled permutohedral-lattice bilateral filter
(rulixiang/ToCo ``model/losses.py``, ``DenseEnergyLoss``). The filter is
computed here exactly, as a full Gaussian over all pixel pairs in chunks of
rows (no extension to build); the loss is meant for the half-size crop
ToCo uses (``scale_factor`` 0.5), where this is cheap enough.
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'bilateral_filter', 'dense_energy_loss', 'scaled_dense_energy',
    'default_chunk'
]

# Kernel block side by device type: 512 keeps a block in cache on CPU; on
# a GPU a step at 512 is launch-bound (ToCo at 448 px: about 4,900 blocks,
# 14,500 products, 0.63 s of a 0.86 s ViT-B step on an H100).
DEFAULT_CHUNKS = dict(cpu=512, cuda=4096)


def default_chunk(device: torch.device) -> int:
    """Kernel block side :func:`bilateral_filter` uses on ``device``
    when none is given (512 where the device type is not listed)."""
    return DEFAULT_CHUNKS.get(device.type, DEFAULT_CHUNKS['cpu'])


def bilateral_filter(images: Tensor,
                     values: Tensor,
                     sigma_rgb: float,
                     sigma_xy: float,
                     chunk: Optional[int] = None) -> Tensor:
    """Exact bilateral (Gaussian in position and colour) filtering.

    ``out_i = sum_j exp(-|p_i - p_j|^2 / (2 sigma_xy^2)
    - |I_i - I_j|^2 / (2 sigma_rgb^2)) v_j`` over all pixels ``j`` of the
    same image (``i = j`` included).

    All images at once, in ``chunk x chunk`` blocks of each image's
    kernel, the blocks above the diagonal only (the kernel is symmetric:
    each serves its mirror block too). With ``f = (p / sigma_xy, I /
    sigma_rgb)`` centred per image (distances do not change), the exponent
    ``-|f_i - f_j|^2 / 2 = f_i . f_j - |f_i|^2 / 2 - |f_j|^2 / 2`` is one
    batched product of ``[f, -|f|^2 / 2, 1]`` and ``[f, 1, -|f|^2 / 2]``
    (as ``torch.cdist`` computes distances of large inputs), clamped at 0
    and exponentiated in place, in float32 or wider. Weights below ``e *
    torch.finfo(dtype).tiny`` (``e^-86.3``, about ``3e-38``, in float32)
    are raised to that value rather than computed as subnormal numbers, an
    order of magnitude slower on CPU: the sums are unchanged within float
    precision.

    Args:
        images (Tensor): ``[B, 3, H, W]`` colours (ToCo: 0-255 RGB).
        values (Tensor): ``[B, K, H, W]`` maps to filter.
        sigma_rgb, sigma_xy (float): Kernel widths (colour, pixels).
        chunk (int, optional): Side of the blocks of each image's ``N x
            N`` kernel computed at once (memory: ``B x chunk x chunk``
            values). None: :func:`default_chunk` of the device (512 on
            CPU, 4096 on CUDA). The result does not depend on it beyond
            float rounding.

    Returns:
        Tensor: ``[B, K, H, W]`` filtered maps.
    """
    b, k, h, w = values.shape
    n = h * w
    if chunk is None:
        chunk = default_chunk(values.device)
    # float32 at least, autocast off: the exponent is a difference of
    # squared norms, which half precision would not resolve
    dtype = torch.promote_types(values.dtype, torch.float32)
    with torch.autocast(values.device.type, enabled=False):
        ys, xs = torch.meshgrid(
            torch.arange(h, device=values.device, dtype=dtype),
            torch.arange(w, device=values.device, dtype=dtype),
            indexing='ij')
        pos = torch.stack([ys, xs], dim=-1).reshape(1, n, 2) / sigma_xy
        rgb = images.reshape(b, 3, n).transpose(1, 2).to(dtype)
        feat = torch.cat([pos.expand(b, n, 2), rgb / sigma_rgb], dim=2)
        feat = feat - feat.mean(dim=1, keepdim=True)  # [B, N, 5]
        half_sq = -0.5 * feat.pow(2).sum(dim=2, keepdim=True)
        ones = torch.ones_like(half_sq)
        rows = torch.cat([feat, half_sq, ones], dim=2)  # [B, N, 7]
        cols = torch.cat([feat, ones, half_sq], dim=2).transpose(1, 2)
        v_t = values.reshape(b, k, n).to(dtype)  # [B, K, N]
        out = torch.zeros_like(v_t)
        # weights below e * tiny are raised to it (exp and bmm are an
        # order of magnitude slower on subnormal numbers)
        min_exp = math.log(torch.finfo(dtype).tiny) + 1
        starts = range(0, n, chunk)
        for i0 in starts:
            rows_i = slice(i0, min(i0 + chunk, n))
            for j0 in starts[i0 // chunk:]:
                cols_j = slice(j0, min(j0 + chunk, n))
                block = torch.bmm(rows[:, rows_i], cols[:, :, cols_j])
                block.clamp_(min=min_exp, max=0).exp_()
                # [K, cols] x [cols, rows]: faster than [rows, cols] x
                # [cols, K] for small K
                out[:, :, rows_i] += torch.bmm(v_t[:, :, cols_j],
                                               block.transpose(1, 2))
                if j0 != i0:  # the kernel is symmetric: block (j, i)
                    out[:, :, cols_j] += torch.bmm(v_t[:, :, rows_i], block)
    return out.reshape(b, k, h, w).to(values.dtype)


def dense_energy_loss(images: Tensor,
                      probs: Tensor,
                      roi: Tensor,
                      unlabeled: Tensor,
                      sigma_rgb: float = 15.,
                      sigma_xy: float = 100.,
                      chunk: Optional[int] = None) -> Tensor:
    """Dense CRF energy of soft segmentations (ToCo's
    ``DenseEnergyLossFunction``), value and gradient as ToCo's.

    ``S = probs * roi``; ``gate = roi - max_k probs``, set to 1 on
    ``unlabeled`` pixels and clipped at 0; ``AS = gate * W S`` with ``W``
    the bilateral kernel (:func:`bilateral_filter`); the loss is
    ``-sum(S * AS) / B`` and its gradient w.r.t. ``probs`` is
    ``-2 AS * roi / B`` (the gate and ``W S`` treated as constants, as in
    ToCo's backward).

    Args:
        images (Tensor): ``[B, 3, H, W]`` colours (0-255 RGB).
        probs (Tensor): ``[B, K, H, W]`` softmax probabilities.
        roi (Tensor): ``[B, H, W]`` 1 inside the valid region, else 0.
        unlabeled (Tensor): ``[B, H, W]`` bool, ignored pseudo-label pixels.
        sigma_rgb, sigma_xy (float): Kernel widths.
        chunk (int, optional): See :func:`bilateral_filter`.

    Returns:
        Tensor: Scalar loss.
    """
    b = probs.shape[0]
    roi = roi.to(probs.dtype)
    with torch.no_grad():
        gate = roi - probs.max(dim=1)[0]
        gate = torch.where(unlabeled, torch.ones_like(gate), gate)
        gate = gate.clamp(min=0)[:, None]
        seg = probs * roi[:, None]
        filtered = gate * bilateral_filter(images, seg, sigma_rgb, sigma_xy,
                                           chunk)
        value = -(seg * filtered).sum() / b
    surrogate = -2 * (probs * roi[:, None] * filtered).sum() / b
    return surrogate - surrogate.detach() + value


def scaled_dense_energy(images: Tensor,
                        logits: Tensor,
                        labels: Tensor,
                        roi: Optional[Tensor] = None,
                        scale_factor: float = 0.5,
                        sigma_rgb: float = 15.,
                        sigma_xy: float = 100.,
                        ignore_index: int = 255,
                        chunk: Optional[int] = None) -> Tensor:
    """ToCo's ``get_energy_loss`` + ``DenseEnergyLoss.forward`` (without
    its weight): softmax of ``logits``, everything resized by
    ``scale_factor`` (images and ``roi`` nearest, probabilities bilinear,
    labels nearest), ``sigma_xy`` scaled with it.

    Args:
        images (Tensor): ``[B, 3, H, W]`` 0-255 RGB.
        logits (Tensor): ``[B, K, H, W]`` decoder logits at image size.
        labels (Tensor): ``[B, H, W]`` pseudo-labels (``ignore_index``
            marks the unlabeled pixels).
        roi (Tensor, optional): ``[B, H, W]`` valid region; None: all.
        scale_factor (float): Resize factor.
        sigma_rgb, sigma_xy (float): Kernel widths at full size.
        ignore_index (int): Ignored label.
        chunk (int, optional): See :func:`bilateral_filter`.
    """
    probs = F.softmax(logits, dim=1)
    if roi is None:
        roi = torch.ones_like(probs[:, 0])
    kw = dict(scale_factor=scale_factor, recompute_scale_factor=True)
    s_images = F.interpolate(images, **kw)
    s_probs = F.interpolate(
        probs, mode='bilinear', align_corners=False, **kw)
    s_roi = F.interpolate(roi[:, None].to(probs.dtype), **kw)[:, 0]
    s_labels = F.interpolate(
        labels[:, None].to(probs.dtype), mode='nearest', **kw)[:, 0]
    unlabeled = s_labels.long() == ignore_index
    return dense_energy_loss(s_images, s_probs, s_roi, unlabeled, sigma_rgb,
                             sigma_xy * scale_factor, chunk)
