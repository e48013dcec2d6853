"""Dense CRF refinement (Kraehenbuehl & Koltun) through ``pydensecrf``.

Import this module by its full path (``wsss_mm.models.utils.crf``): it is
not exported from ``wsss_mm.models.utils`` so that the optional dependency
is imported only where a CRF is used.
"""
from typing import Optional

import numpy as np

# Published post-processing parameters (the methods' reference code); the
# method configs carry them as `crf_cfg` (docs/evaluation.md).
VITPCM_CRF = dict(
    n_iters=10, pos_xy_std=1, pos_w=3, bi_xy_std=67, bi_rgb_std=3, bi_w=4)
# ToCo, also used by FSR.
TOCO_CRF = dict(
    n_iters=10, pos_xy_std=1, pos_w=1, bi_xy_std=121, bi_rgb_std=5, bi_w=4)
# APC follows ViT-PCM's inference.
APC_CRF = VITPCM_CRF
CRF_PRESETS = dict(vitpcm=VITPCM_CRF, apc=APC_CRF, toco=TOCO_CRF,
                   fsr=TOCO_CRF)

_PROB_CLIP = 1e-5  # pydensecrf.utils.unary_from_softmax's default


def _import_densecrf():
    try:
        import pydensecrf.densecrf as dcrf
    except ImportError as e:
        raise ImportError(
            'dense CRF refinement needs pydensecrf: `pip install '
            'pydensecrf2` (or `pip install wsss_mm[crf]`); it builds from '
            'source in under a minute and needs a C++ compiler.') from e
    return dcrf


def dense_crf(image: np.ndarray,
              probs: np.ndarray,
              n_iters: int = 10,
              pos_xy_std: float = 1,
              pos_w: float = 3,
              bi_xy_std: float = 67,
              bi_rgb_std: float = 3,
              bi_w: float = 4,
              clip: Optional[float] = _PROB_CLIP,
              prune_below: Optional[float] = None) -> np.ndarray:
    """Refine class probabilities with a fully connected CRF.

    The unary is ``-log(prob)`` (probabilities clipped at ``clip``); the
    pairwise terms are a Gaussian smoothness kernel and a bilateral
    appearance kernel on the RGB image. Defaults are ViT-PCM's parameters
    (:data:`VITPCM_CRF`); ``dense_crf(img, p, **TOCO_CRF)`` gives ToCo's.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 RGB image.
        probs (np.ndarray): ``(C, H, W)`` class probabilities (each pixel
            summing to 1; absent classes 0).
        n_iters (int): Mean-field iterations.
        pos_xy_std (float): Spatial std of the Gaussian kernel (pixels).
        pos_w (float): Weight (compatibility) of the Gaussian kernel.
        bi_xy_std (float): Spatial std of the bilateral kernel (pixels).
        bi_rgb_std (float): Colour std of the bilateral kernel.
        bi_w (float): Weight of the bilateral kernel.
        clip (float, optional): Lower bound of the probabilities before the
            log.
        prune_below (float, optional): Drop the classes whose probability
            stays below this everywhere before inference (their output is
            0). The cost is linear in the number of classes, so e.g. 1e-3
            makes a 21- or 81-class CRF on a typical prediction several
            times faster; None (default) runs exactly on all classes.

    Returns:
        np.ndarray: ``(C, H, W)`` float32 refined marginals.

    Raises:
        ImportError: pydensecrf is not installed.
        ValueError: Shapes or dtypes do not match.
    """
    dcrf = _import_densecrf()
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'image must be (H, W, 3) RGB, got {image.shape}')
    if image.dtype != np.uint8:
        raise ValueError(f'image must be uint8, got {image.dtype}')
    if probs.ndim != 3 or probs.shape[1:] != image.shape[:2]:
        raise ValueError(f'probs must be (C, H, W) with (H, W) = '
                         f'{image.shape[:2]}, got {probs.shape}')
    num_classes, h, w = probs.shape
    if prune_below is not None:
        keep = np.flatnonzero(probs.reshape(num_classes, -1).max(1)
                              >= prune_below)
        if len(keep) < num_classes:
            out = np.zeros(probs.shape, np.float32)
            if len(keep) == 1:
                out[keep[0]] = 1
            elif len(keep) > 1:
                sub = probs[keep]
                sub = sub / np.maximum(sub.sum(0, keepdims=True), 1e-12)
                out[keep] = dense_crf(
                    image, sub, n_iters, pos_xy_std, pos_w, bi_xy_std,
                    bi_rgb_std, bi_w, clip=clip)
            else:  # nothing above the threshold: keep everything
                out = dense_crf(image, probs, n_iters, pos_xy_std, pos_w,
                                bi_xy_std, bi_rgb_std, bi_w, clip=clip)
            return out
    p = probs.astype(np.float32, copy=False)
    if clip is not None:
        p = np.clip(p, clip, 1.0)
    unary = np.ascontiguousarray(-np.log(p).reshape(num_classes, -1))
    crf = dcrf.DenseCRF2D(w, h, num_classes)
    crf.setUnaryEnergy(unary)
    crf.addPairwiseGaussian(sxy=pos_xy_std, compat=pos_w)
    crf.addPairwiseBilateral(
        sxy=bi_xy_std,
        srgb=bi_rgb_std,
        rgbim=np.ascontiguousarray(image),
        compat=bi_w)
    q = crf.inference(n_iters)
    return np.asarray(q, dtype=np.float32).reshape(num_classes, h, w)


def crf_labels(image: np.ndarray,
               probs: np.ndarray,
               labels: Optional[np.ndarray] = None,
               **crf_cfg) -> np.ndarray:
    """Dense CRF followed by argmax, optionally limited to some classes.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 RGB image.
        probs (np.ndarray): ``(C, H, W)`` class probabilities.
        labels (np.ndarray, optional): Class ids the result may take; the
            CRF then runs on those channels only (faster, and the papers
            restrict pseudo-labels to the image's classes).
        **crf_cfg: Keyword arguments of :func:`dense_crf`.

    Returns:
        np.ndarray: ``(H, W)`` uint8 class ids.
    """
    if labels is None:
        labels = np.arange(probs.shape[0])
    labels = np.asarray(labels, dtype=np.int64)
    sub = probs[labels]
    sub = sub / np.maximum(sub.sum(axis=0, keepdims=True), 1e-12)
    if len(labels) == 1:
        return np.full(probs.shape[1:], labels[0], dtype=np.uint8)
    q = dense_crf(image, sub, **crf_cfg)
    return labels[q.argmax(axis=0)].astype(np.uint8)
