"""Pure segmentation metrics on a confusion matrix (numpy, no state).

The confusion matrix has one row per ground-truth class and one column per
predicted class, plus a last column counting the pixels the prediction
leaves unlabelled (``ignore_index``, e.g. uncertain pseudo-labels). Pixels
whose ground truth is ``ignore_index`` are not counted at all.

A predicted-ignored pixel is a miss of its ground-truth class: it lowers
recall and IoU but not precision. This is what mmseg's ``IoUMetric`` does
(its histograms drop out-of-range predictions), so mIoU agrees with it.
"""
from collections import OrderedDict
from typing import Dict, Union

import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor]


def _to_numpy(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def confusion_matrix(pred: ArrayLike,
                     gt: ArrayLike,
                     num_classes: int,
                     ignore_index: int = 255) -> np.ndarray:
    """Confusion matrix of a label map against ground truth.

    Args:
        pred (np.ndarray | Tensor): Predicted class ids, any shape; values
            in ``[0, num_classes)`` or ``ignore_index``.
        gt (np.ndarray | Tensor): Ground-truth class ids, same shape;
            ``ignore_index`` pixels are skipped.
        num_classes (int): Number of classes C.
        ignore_index (int): Unlabelled id in both maps. Defaults to 255.

    Returns:
        np.ndarray: ``(C, C + 1)`` int64 counts; ``cm[g, p]`` pixels of
        class ``g`` predicted as ``p``, ``cm[g, C]`` pixels of class ``g``
        the prediction marks ``ignore_index``.

    Raises:
        ValueError: Shapes differ, or a map holds an id that is neither a
            class nor ``ignore_index``.
    """
    pred = _to_numpy(pred).astype(np.int64, copy=False).ravel()
    gt = _to_numpy(gt).astype(np.int64, copy=False).ravel()
    if pred.shape != gt.shape:
        raise ValueError(f'prediction has {pred.size} pixels but ground '
                         f'truth has {gt.size}')
    valid = gt != ignore_index
    pred, gt = pred[valid], gt[valid]
    for name, arr, allowed in (('ground truth', gt, ()),
                               ('prediction', pred, (ignore_index, ))):
        bad = (arr < 0) | (arr >= num_classes)
        for a in allowed:
            bad &= arr != a
        if bad.any():
            raise ValueError(
                f'{name} holds id(s) {np.unique(arr[bad])[:5].tolist()} '
                f'outside 0..{num_classes - 1} and not {ignore_index}')
    pred = np.where(pred == ignore_index, num_classes, pred)
    counts = np.bincount(
        gt * (num_classes + 1) + pred,
        minlength=num_classes * (num_classes + 1))
    return counts.reshape(num_classes, num_classes + 1)


def metrics_from_confusion(cm: ArrayLike) -> Dict[str, object]:
    """IoU, precision, recall and ignored share from a confusion matrix.

    Args:
        cm (np.ndarray | Tensor): ``(C, C + 1)`` from
            :func:`confusion_matrix`, or a square ``(C, C)`` matrix (no
            predicted-ignored pixels).

    Returns:
        dict: Fractions in [0, 1]:

        - ``IoU``, ``Precision``, ``Recall``: ``(C,)`` arrays, NaN where
          undefined (class absent from both maps, never predicted, absent
          from the ground truth respectively);
        - ``mIoU``, ``mPrecision``, ``mRecall``: NaN-ignoring means;
        - ``aAcc``: correctly labelled share of the ground-truth pixels;
        - ``ignored_ratio``: share of ground-truth pixels the prediction
          marks ignored;
        - ``num_pixels``: ground-truth pixels counted.
    """
    cm = _to_numpy(cm).astype(np.float64)
    num_classes = cm.shape[0]
    if cm.ndim != 2 or cm.shape[1] not in (num_classes, num_classes + 1):
        raise ValueError(f'expected a (C, C) or (C, C + 1) matrix, got '
                         f'shape {cm.shape}')
    square = cm[:, :num_classes]
    tp = np.diag(square)
    gt_area = cm.sum(axis=1)  # includes predicted-ignored pixels
    pred_area = square.sum(axis=0)
    total = gt_area.sum()
    ignored = cm[:, num_classes].sum() if cm.shape[1] > num_classes else 0.

    with np.errstate(divide='ignore', invalid='ignore'):
        iou = tp / (gt_area + pred_area - tp)
        precision = tp / pred_area
        recall = tp / gt_area

    def nanmean(x: np.ndarray) -> float:
        return float(np.nanmean(x)) if np.isfinite(x).any() else float('nan')

    return OrderedDict(
        mIoU=nanmean(iou),
        mPrecision=nanmean(precision),
        mRecall=nanmean(recall),
        aAcc=float(tp.sum() / total) if total else float('nan'),
        ignored_ratio=float(ignored / total) if total else float('nan'),
        num_pixels=int(total),
        IoU=iou,
        Precision=precision,
        Recall=recall)
