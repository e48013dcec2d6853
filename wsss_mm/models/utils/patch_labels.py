"""Patch-to-pixel pseudo labels (APC's "Patch to Pixel" module)."""
from typing import Optional, Tuple

import torch
from torch import Tensor

__all__ = ['patch_to_pixel_labels']


def _nearest_index(out_len: int, in_len: int, device) -> Tensor:
    """Source index of each output position under nearest resizing.

    Output pixel ``i`` has its centre at ``(i + 0.5) * in_len / out_len`` in
    source units, so it belongs to source cell ``floor`` of that. Integer
    arithmetic keeps it exact; it equals plain repetition when ``out_len``
    is a multiple of ``in_len`` (e.g. 16 pixels per patch).
    """
    i = torch.arange(out_len, device=device)
    return ((2 * i + 1) * in_len) // (2 * out_len)


def patch_to_pixel_labels(patch_scores: Tensor,
                          image_labels: Tensor,
                          out_size: Tuple[int, int],
                          ignore_thr: Optional[float] = None,
                          ignore_index: int = 255) -> Tensor:
    """Paint each patch's most likely present class onto its pixels.

    The class of a patch is the argmax of its scores over the classes in
    the image's label only (a class absent from the image can never win),
    and every pixel covered by the patch gets that class (nearest
    resizing of the patch grid to ``out_size``).

    Args:
        patch_scores (Tensor): Patch probabilities ``[B, C, h, w]``.
        image_labels (Tensor): Multi-hot image labels ``[B, C]`` (0/1 or
            bool); the background column is already 1 where the dataset
            has a background class.
        out_size (tuple[int, int]): Output size ``(H, W)``.
        ignore_thr (float, optional): Patches whose best present-class
            score is below this become ``ignore_index``. None keeps all.
        ignore_index (int): Label of ignored pixels. Defaults to 255.

    Returns:
        Tensor: Pixel labels ``[B, H, W]`` (long). An image without any
        label is entirely ``ignore_index``.
    """
    if patch_scores.dim() != 4:
        raise ValueError('patch_scores must be [B, C, h, w], got shape '
                         f'{tuple(patch_scores.shape)}')
    B, C, h, w = patch_scores.shape
    if tuple(image_labels.shape) != (B, C):
        raise ValueError(f'image_labels must be [B, C] = {(B, C)}, got '
                         f'{tuple(image_labels.shape)}')
    H, W = (int(s) for s in out_size)

    present = (image_labels > 0).to(patch_scores.device)  # [B, C]
    masked = patch_scores.detach().masked_fill(~present[:, :, None, None],
                                               float('-inf'))
    best, labels = masked.max(dim=1)  # [B, h, w]
    ignore = ~present.any(dim=1)[:, None, None].expand(B, h, w)
    if ignore_thr is not None:
        # -inf (no label) is below any threshold as well.
        ignore = ignore | (best < ignore_thr)
    labels = labels.masked_fill(ignore, ignore_index)

    rows = _nearest_index(H, h, labels.device)
    cols = _nearest_index(W, w, labels.device)
    return labels[:, rows][:, :, cols]
