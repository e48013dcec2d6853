"""Local self-attention masks for ViTs trained from scratch."""
import torch
from torch import Tensor

__all__ = ['local_attention_mask']


def local_attention_mask(grid_hw, radius: int, num_extra_tokens: int = 1,
                         device=None) -> Tensor:
    """Which token may attend which, for windowed (local) attention.

    Patch ``i`` attends patch ``j`` when their Chebyshev distance on the
    patch grid is at most ``radius`` (a ``(2r+1) x (2r+1)`` window), and
    never attends the extra tokens (the CLS token carries the whole image
    and would hand every patch the image's classes). Extra tokens attend
    every token, so they still summarise the image.

    Args:
        grid_hw (tuple[int, int]): Patch grid ``(h, w)``.
        radius (int): Window radius in patches, ``>= 0``.
        num_extra_tokens (int): Tokens before the patches (CLS). Defaults
            to 1.
        device: Device of the mask.

    Returns:
        Tensor: Boolean ``[L, L]`` with ``L = num_extra_tokens + h * w``;
        True where attention is allowed (the convention of
        :func:`torch.nn.functional.scaled_dot_product_attention`).
    """
    if radius < 0:
        raise ValueError(f'radius must be >= 0, got {radius}')
    h, w = (int(s) for s in grid_hw)
    rows = torch.arange(h, device=device).repeat_interleave(w)
    cols = torch.arange(w, device=device).repeat(h)
    near = ((rows[:, None] - rows[None]).abs() <= radius) & (
        (cols[:, None] - cols[None]).abs() <= radius)
    e = int(num_extra_tokens)
    mask = torch.ones(e + h * w, e + h * w, dtype=torch.bool, device=device)
    mask[e:, :e] = False
    mask[e:, e:] = near
    return mask
