"""Class score maps to class-id masks (pure functions).

Scores are ``(C, H, W)`` arrays in [0, 1], one map per class present in the
prompt (normalised attention). Masks are ``(H, W)`` uint8: 0 background,
a class id where the class wins, :data:`IGNORE_INDEX` (255) where the
evidence is uncertain (a band just under the foreground threshold).
"""
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .attention_maps import normalize_maps, self_attention_refine

IGNORE_INDEX = 255

#: DiffuMask's adaptive threshold searches this score range.
DIFFUMASK_RANGE = (0.45, 0.53)
#: Dataset Diffusion's thresholds: foreground, and the start of the ignore
#: band under it.
DATASET_DIFFUSION_THRS = (0.6, 0.5)


def _class_ids(num: int, class_ids: Optional[Sequence[int]]) -> np.ndarray:
    if class_ids is None:
        return np.arange(1, num + 1)
    ids = np.asarray(class_ids, dtype=np.int64)
    if len(ids) != num:
        raise ValueError(f'{len(ids)} class ids for {num} score maps')
    if (ids <= 0).any() or (ids >= IGNORE_INDEX).any():
        raise ValueError(f'class ids must be in 1..254, got {ids.tolist()}')
    return ids


def labels_from_scores(scores: np.ndarray,
                       fg_thr: float,
                       ignore_thr: Optional[float] = None,
                       class_ids: Optional[Sequence[int]] = None
                       ) -> np.ndarray:
    """Argmax labelling with a foreground threshold and an ignore band.

    ``label = class_ids[argmax]`` where ``max >= fg_thr``, 255 where
    ``ignore_thr <= max < fg_thr``, 0 (background) below.

    Args:
        scores (np.ndarray): ``(C, H, W)`` class scores.
        fg_thr (float): Foreground threshold.
        ignore_thr (float, optional): Lower end of the ignore band (no band
            if None or >= ``fg_thr``).
        class_ids (list[int], optional): Id of each score map (default
            ``1..C``).

    Returns:
        np.ndarray: ``(H, W)`` uint8 mask.
    """
    scores = np.asarray(scores, dtype=np.float32)
    if scores.ndim != 3:
        raise ValueError(f'scores must be (C, H, W), got {scores.shape}')
    ids = _class_ids(scores.shape[0], class_ids)
    best = scores.max(0)
    mask = np.zeros(best.shape, np.uint8)
    fg = best >= fg_thr
    mask[fg] = ids[scores.argmax(0)[fg]]
    if ignore_thr is not None and ignore_thr < fg_thr:
        mask[(best >= ignore_thr) & ~fg] = IGNORE_INDEX
    return mask


def adaptive_threshold(score_map: np.ndarray,
                       low: float = DIFFUMASK_RANGE[0],
                       high: float = DIFFUMASK_RANGE[1],
                       num_bins: int = 8) -> float:
    """DiffuMask's adaptive threshold of one class map.

    The histogram of the scores inside ``[low, high)`` is taken with
    ``num_bins`` equal bins; the threshold is the centre of the densest bin
    (the first one on ties). With no score in the range, the middle of the
    range.
    """
    v = np.asarray(score_map, dtype=np.float64).ravel()
    v = v[(v >= low) & (v < high)]
    if v.size == 0:
        return float((low + high) / 2)
    hist, edges = np.histogram(v, bins=num_bins, range=(low, high))
    i = int(hist.argmax())
    return float((edges[i] + edges[i + 1]) / 2)


def adaptive_labels(scores: np.ndarray,
                    class_ids: Optional[Sequence[int]] = None,
                    low: float = DIFFUMASK_RANGE[0],
                    high: float = DIFFUMASK_RANGE[1],
                    num_bins: int = 8,
                    ignore_margin: float = 0.0
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """Label with a per-class adaptive threshold (DiffuMask).

    A pixel is foreground for each class whose score reaches that class's
    threshold; the class with the highest score among those wins. A pixel
    no class claims but whose best class is within ``ignore_margin`` under
    its threshold is ignored (255).

    Returns:
        tuple: ``(mask, thresholds)``, thresholds ``(C,)``.
    """
    scores = np.asarray(scores, dtype=np.float32)
    ids = _class_ids(scores.shape[0], class_ids)
    thrs = np.array(
        [adaptive_threshold(s, low, high, num_bins) for s in scores],
        dtype=np.float32)
    margin = scores - thrs[:, None, None]  # >= 0: above the threshold
    passed = margin >= 0
    masked = np.where(passed, scores, -np.inf)
    mask = np.zeros(scores.shape[1:], np.uint8)
    fg = passed.any(0)
    mask[fg] = ids[masked.argmax(0)[fg]]
    if ignore_margin > 0:
        near = (margin.max(0) >= -ignore_margin) & ~fg
        mask[near] = IGNORE_INDEX
    return mask, thrs


def upsample_maps(maps: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Bilinear resize of ``(C, h, w)`` maps to ``(C, H, W)``."""
    t = torch.as_tensor(np.asarray(maps, dtype=np.float32))[None]
    return F.interpolate(
        t, size=tuple(size), mode='bilinear',
        align_corners=False)[0].numpy()


def refined_scores(cross: np.ndarray,
                   self_attn: np.ndarray,
                   out_size: Tuple[int, int],
                   power: int = 4) -> np.ndarray:
    """Dataset Diffusion's scores: ``S ** power @ cross``, normalised per
    class to [0, 1] and upsampled to ``out_size``.

    Args:
        cross (np.ndarray): ``(C, h, w)`` class cross-attention at the
            self-attention's grid (normalised or not).
        self_attn (np.ndarray): ``(h*w, h*w)`` self-attention.
        out_size (tuple): ``(H, W)``.
        power (int): Matrix power.
    """
    r = self_attention_refine(
        torch.as_tensor(np.asarray(cross, np.float32)),
        torch.as_tensor(np.asarray(self_attn, np.float32)), power)
    return upsample_maps(normalize_maps(r).numpy(), out_size)


def confidence(scores: np.ndarray) -> np.ndarray:
    """Per-pixel confidence of a labelling: the best score, or its
    complement where the pixel is background.

    With the foreground threshold ``t``, a pixel whose best score is ``s``
    is foreground with confidence ``s`` if ``s >= t``; as background its
    confidence is ``1 - s``. This returns ``max(s, 1 - s)`` in [0.5, 1]:
    low right at the decision boundary, high far from it.
    """
    s = np.asarray(scores, np.float32).max(0)
    return np.maximum(s, 1 - s)


def crf_refine_labels(image: np.ndarray,
                      scores: np.ndarray,
                      mask: np.ndarray,
                      class_ids: Optional[Sequence[int]] = None,
                      bg_power: float = 1.0,
                      **crf_cfg) -> np.ndarray:
    """Refine a thresholded mask with a dense CRF, keeping its ignore band.

    The CRF's probabilities are background ``(1 - max score) ** bg_power``
    and the class scores, normalised per pixel; its argmax replaces the
    labels, and pixels ignored in ``mask`` stay ignored.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 RGB image.
        scores (np.ndarray): ``(C, H, W)`` class scores in [0, 1].
        mask (np.ndarray): The thresholded mask (for its 255 pixels).
        class_ids (list[int], optional): Id per score map.
        bg_power (float): Exponent of the background probability.
        **crf_cfg: Arguments of :func:`wsss_mm.models.utils.crf.dense_crf`.
    """
    from wsss_mm.models.utils.crf import dense_crf
    scores = np.asarray(scores, np.float32)
    ids = np.concatenate([[0], _class_ids(scores.shape[0], class_ids)])
    bg = (1 - scores.max(0))**bg_power
    probs = np.concatenate([bg[None], scores], 0)
    probs = probs / np.maximum(probs.sum(0, keepdims=True), 1e-12)
    q = dense_crf(image, probs, **crf_cfg)
    out = ids[q.argmax(0)].astype(np.uint8)
    out[mask == IGNORE_INDEX] = IGNORE_INDEX
    return out
