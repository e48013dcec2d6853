"""Attention probabilities to per-class maps (pure functions).

Shapes follow diffusers' attention layers: probabilities come as
``(batch * heads, queries, keys)`` with the heads of one sample adjacent
(``Attention.head_to_batch_dim``); with classifier-free guidance the batch
is ``[unconditional, conditional]``.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

Resolution = Tuple[int, int]


def conditional_head_mean(probs: torch.Tensor, heads: int,
                          conditional_half: bool) -> torch.Tensor:
    """Average attention probabilities over heads, keeping the conditional
    samples.

    Args:
        probs (Tensor): ``(batch * heads, Q, K)`` probabilities.
        heads (int): Number of heads.
        conditional_half (bool): The batch is ``[uncond, cond]`` (CFG):
            keep the second half.

    Returns:
        Tensor: ``(batch', Q, K)`` float32, ``batch'`` the conditional
        samples.
    """
    bh, q, k = probs.shape
    if bh % heads:
        raise ValueError(f'batch*heads={bh} is not a multiple of heads='
                         f'{heads}')
    p = probs.reshape(bh // heads, heads, q, k)
    if conditional_half:
        b = p.shape[0]
        if b % 2:
            raise ValueError(f'classifier-free guidance batch of odd size {b}')
        p = p[b // 2:]
    return p.float().mean(1)


def query_resolution(num_queries: int,
                     latent_hw: Optional[Resolution] = None) -> Resolution:
    """The ``(h, w)`` grid of an attention layer's queries.

    Args:
        num_queries (int): Query count (``h * w``).
        latent_hw (tuple, optional): Latent size of the sample; the grid
            keeps its aspect ratio. None: a square grid.

    Raises:
        ValueError: The count does not fit the latent (or a square).
    """
    if latent_hw is None:
        r = math.isqrt(num_queries)
        if r * r != num_queries:
            raise ValueError(
                f'{num_queries} queries do not form a square grid; give the '
                f'latent size for non-square images')
        return r, r
    lh, lw = latent_hw
    f = math.sqrt(lh * lw / num_queries)
    h, w = round(lh / f), round(lw / f)
    if h * w != num_queries:
        raise ValueError(f'{num_queries} queries do not match a latent of '
                         f'{lh}x{lw} downsampled by a power of two')
    return h, w


def normalize_maps(maps: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Min-max normalise each map over its last two axes to [0, 1]."""
    lo = maps.amin(dim=(-2, -1), keepdim=True)
    hi = maps.amax(dim=(-2, -1), keepdim=True)
    return (maps - lo) / (hi - lo).clamp_min(eps)


def class_cross_maps(
        cross: Dict[Resolution, torch.Tensor],
        token_indices: Union[Dict[int, List[int]],
                             Sequence[Dict[int, List[int]]]],
        out_size: Resolution,
        resolutions: Optional[Sequence[Resolution]] = None,
        normalize: bool = True) -> Tuple[List[int], torch.Tensor]:
    """Per-class cross-attention maps at image resolution.

    For each resolution the class's token maps are averaged, upsampled
    (bilinear) to ``out_size``; resolutions are averaged with equal weight
    and each class map is min-max normalised (DiffuMask's recipe).

    Args:
        cross (dict): ``{(h, w): (B, h, w, T)}`` averaged cross-attention.
        token_indices (dict | list[dict]): ``{class_id: [token, ...]}`` for
            all samples, or one dict per sample.
        out_size (tuple): ``(H, W)`` output size.
        resolutions (list, optional): Resolutions to use (default all).
        normalize (bool): Min-max normalise each class map.

    Returns:
        tuple: ``(class_ids, maps)`` with ``maps`` ``(B, C, H, W)``, classes
        in the sorted order of ``class_ids`` (union over samples; a class
        absent from a sample's prompt gives a zero map).
    """
    if not cross:
        raise ValueError('no cross-attention was captured')
    res = list(resolutions) if resolutions is not None else sorted(cross)
    missing = [r for r in res if r not in cross]
    if missing:
        raise ValueError(f'resolutions {missing} were not captured; have '
                         f'{sorted(cross)}')
    batch = cross[res[0]].shape[0]
    per_sample = (
        list(token_indices) if not isinstance(token_indices, dict) else
        [token_indices] * batch)
    if len(per_sample) != batch:
        raise ValueError(f'{len(per_sample)} token maps for {batch} samples')
    class_ids = sorted({c for d in per_sample for c in d})
    out = torch.zeros(batch, len(class_ids), *out_size)
    for r in res:
        a = cross[r].float()  # (B, h, w, T)
        m = torch.zeros(batch, len(class_ids), a.shape[1], a.shape[2])
        for b, d in enumerate(per_sample):
            for j, c in enumerate(class_ids):
                idx = d.get(c, [])
                if idx:
                    m[b, j] = a[b, :, :, idx].mean(-1).cpu()
        out += F.interpolate(
            m, size=tuple(out_size), mode='bilinear', align_corners=False)
    out /= len(res)
    if normalize:
        out = normalize_maps(out)
    return class_ids, out


def self_attention_refine(cross: torch.Tensor, self_attn: torch.Tensor,
                          power: int = 4) -> torch.Tensor:
    """Dataset Diffusion's refinement: ``(S ** power) @ cross``.

    Each query's attention row spreads a class score to the pixels the
    query attends to; the matrix power propagates it further.

    Args:
        cross (Tensor): ``(C, h, w)`` class cross-attention at the
            self-attention's resolution.
        self_attn (Tensor): ``(h*w, h*w)`` row-stochastic self-attention.
        power (int): Matrix power (4 in Dataset Diffusion).

    Returns:
        Tensor: ``(C, h, w)`` refined maps (not normalised).
    """
    c, h, w = cross.shape
    if self_attn.shape != (h * w, h * w):
        raise ValueError(f'self-attention {tuple(self_attn.shape)} does not '
                         f'match cross-attention maps of {h}x{w}')
    s = torch.linalg.matrix_power(self_attn.double(), power)
    flat = cross.reshape(c, h * w).double()
    return (s @ flat.T).T.reshape(c, h, w).to(cross.dtype)
