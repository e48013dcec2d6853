"""Masks from captured attention: one configurable extractor.

:class:`AttentionMaskExtractor` turns what an
:class:`~wsss_mm.generation.diffusion.attention.AttentionStore` recorded for
one sample into a class-id mask (0 background, class ids of the config's
class list, 255 ignore) and a per-pixel confidence map, with one of three
rules:

* ``'fixed'``: one foreground threshold ``fg_thr`` and an ignore band
  ``[ignore_thr, fg_thr)``;
* ``'adaptive'``: DiffuMask's per-class threshold, the densest histogram
  bin of the class map in ``adaptive_range`` (about [0.45, 0.53)), with an
  ignore band of ``ignore_margin`` under it;
* ``'self_refined'``: Dataset Diffusion's, class cross-attention refined by
  the self-attention (at ``self_resolution``) to the power ``power``,
  foreground at ``fg_thr`` (0.6) and ignored in ``[ignore_thr, fg_thr)``
  (0.5).

An optional dense CRF (``crf=dict(...)``, parameters of
:func:`wsss_mm.models.utils.crf.dense_crf`) refines the labels and keeps the
ignore band.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from wsss_mm.generation.utils.attention_maps import class_cross_maps
from wsss_mm.generation.utils.masks import (DATASET_DIFFUSION_THRS,
                                            DIFFUMASK_RANGE, IGNORE_INDEX,
                                            adaptive_labels, confidence,
                                            crf_refine_labels,
                                            labels_from_scores, refined_scores)
from wsss_mm.utils.fileio import save_image_atomic

RULES = ('fixed', 'adaptive', 'self_refined')


class AttentionMaskExtractor:
    """Class-id masks from captured attention.

    Args:
        rule (str): ``'fixed'``, ``'adaptive'`` or ``'self_refined'``.
        fg_thr (float): Foreground threshold (fixed, self_refined).
        ignore_thr (float, optional): Lower end of the ignore band (fixed,
            self_refined); None: no band.
        adaptive_range (tuple): Search range of the adaptive threshold.
        adaptive_bins (int): Histogram bins of the adaptive threshold.
        ignore_margin (float): Ignore band under the adaptive threshold.
        resolutions (list, optional): Cross-attention grids to average
            (default all captured).
        self_resolution (tuple, optional): Self-attention grid of the
            self_refined rule (SD 1.x at 512 px: ``(32, 32)``).
        power (int): Self-attention power of the self_refined rule.
        crf (dict, optional): Dense CRF parameters; None: no CRF.
    """

    def __init__(self,
                 rule: str = 'self_refined',
                 fg_thr: float = DATASET_DIFFUSION_THRS[0],
                 ignore_thr: Optional[float] = DATASET_DIFFUSION_THRS[1],
                 adaptive_range: Tuple[float, float] = DIFFUMASK_RANGE,
                 adaptive_bins: int = 8,
                 ignore_margin: float = 0.05,
                 resolutions: Optional[Sequence[Tuple[int, int]]] = None,
                 self_resolution: Optional[Tuple[int, int]] = None,
                 power: int = 4,
                 crf: Optional[dict] = None) -> None:
        if rule not in RULES:
            raise ValueError(f'rule must be one of {RULES}, got {rule!r}')
        if rule == 'self_refined' and self_resolution is None:
            raise ValueError('the self_refined rule needs self_resolution '
                             '(the self-attention grid to capture)')
        self.rule = rule
        self.fg_thr = fg_thr
        self.ignore_thr = ignore_thr
        self.adaptive_range = tuple(adaptive_range)
        self.adaptive_bins = adaptive_bins
        self.ignore_margin = ignore_margin
        self.resolutions = (None if resolutions is None else
                            [tuple(r) for r in resolutions])
        self.self_resolution = (None if self_resolution is None else
                                tuple(self_resolution))
        self.power = power
        self.crf = crf

    @property
    def self_resolutions(self) -> List[Tuple[int, int]]:
        """Self-attention grids the store must capture for this rule."""
        return [self.self_resolution] if self.rule == 'self_refined' else []

    def scores(self, store, token_indices: Dict[int, List[int]],
               out_size: Tuple[int, int], index: int = 0
               ) -> Tuple[List[int], np.ndarray]:
        """Class score maps of sample ``index`` of the store.

        Returns:
            tuple: ``(class_ids, scores)``, scores ``(C, H, W)`` in [0, 1].
        """
        cross = {r: m[index:index + 1] for r, m in store.maps('cross').items()}
        if self.rule != 'self_refined':
            ids, maps = class_cross_maps(cross, token_indices, out_size,
                                         self.resolutions)
            return ids, maps[0].numpy()
        self_maps = store.maps('self')
        if self.self_resolution not in self_maps:
            raise ValueError(
                f'self-attention at {self.self_resolution} was not captured '
                f'(have {sorted(self_maps)}); capture it with '
                f'AttentionStore(self_resolutions=[{self.self_resolution}])')
        ids, maps = class_cross_maps(cross, token_indices,
                                     self.self_resolution, self.resolutions)
        s = self_maps[self.self_resolution][index].numpy()
        return ids, refined_scores(maps[0].numpy(), s, out_size, self.power)

    def labels(self,
               scores: np.ndarray,
               class_ids: Sequence[int],
               image: Optional[np.ndarray] = None) -> np.ndarray:
        """Threshold scores into a uint8 mask (0, class ids, 255)."""
        if self.rule == 'adaptive':
            mask, _ = adaptive_labels(scores, class_ids, *self.adaptive_range,
                                      self.adaptive_bins, self.ignore_margin)
        else:
            mask = labels_from_scores(scores, self.fg_thr, self.ignore_thr,
                                      class_ids)
        if self.crf is not None:
            if image is None:
                raise ValueError('the CRF needs the generated image')
            mask = crf_refine_labels(image, scores, mask, class_ids,
                                     **self.crf)
        return mask

    def __call__(self,
                 store,
                 token_indices: Dict[int, List[int]],
                 out_size: Tuple[int, int],
                 image: Optional[np.ndarray] = None,
                 index: int = 0) -> Tuple[np.ndarray, np.ndarray]:
        """Mask and confidence of one sample.

        Args:
            store (AttentionStore): The captured attention.
            token_indices (dict): ``{class_id: [token positions]}``.
            out_size (tuple): ``(H, W)`` of the image.
            image (np.ndarray, optional): ``(H, W, 3)`` uint8, for the CRF.
            index (int): Sample index in the store's batch.

        Returns:
            tuple: ``(mask, confidence)``: uint8 ``(H, W)`` class ids (255
            ignore) and float32 ``(H, W)`` in [0.5, 1].
        """
        ids, scores = self.scores(store, token_indices, out_size, index)
        return self.labels(scores, ids, image), confidence(scores)


def save_mask_png(path: str, mask: np.ndarray) -> None:
    """Write a class-id mask as an 8-bit grey PNG (atomic)."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError(f'a mask must be (H, W) uint8, got {mask.shape} '
                         f'{mask.dtype}')
    save_image_atomic(path, Image.fromarray(mask, mode='L'))


def save_confidence_png(path: str, conf: np.ndarray) -> None:
    """Write a [0, 1] confidence map as an 8-bit PNG (value * 255)."""
    q = np.clip(np.rint(np.asarray(conf) * 255), 0, 255).astype(np.uint8)
    save_image_atomic(path, Image.fromarray(q, mode='L'))


__all__ = [
    'AttentionMaskExtractor', 'save_mask_png', 'save_confidence_png',
    'IGNORE_INDEX', 'RULES'
]
