"""Confusion-matrix metric for pseudo-labels and segmentation predictions."""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from prettytable import PrettyTable

from wsss_mm.evaluation.functional import (confusion_matrix,
                                           metrics_from_confusion)
from wsss_mm.registry import METRICS


@METRICS.register_module()
class PseudoLabelMetric(BaseMetric):
    """mIoU, precision, recall and ignored share from a confusion matrix.

    Works as ``val_evaluator`` / ``test_evaluator`` on any segmentor output
    (``pred_sem_seg`` against ``gt_sem_seg``). Unlike mmseg's ``IoUMetric``
    it also reports the share of ground-truth pixels the prediction marks
    ``ignore_index`` (uncertain pseudo-label pixels) and per-class
    precision; mIoU is the same as ``IoUMetric``'s.

    After evaluation the summed confusion matrix (``(C, C + 1)``, last
    column = predicted ignored, see
    :func:`wsss_mm.evaluation.functional.confusion_matrix`) is kept in
    :attr:`confusion` on the main process, e.g. for reports.

    Args:
        ignore_index (int): Unlabelled id in ground truth and prediction.
            Defaults to 255.
        pred_key (str): Data-sample field holding the label map to score.
            Defaults to ``'pred_sem_seg'``.
        classwise (bool): Also return ``IoU.<class>``, ``Precision.<class>``
            and ``Recall.<class>`` entries (the per-class table is printed
            either way). Defaults to False.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names.
        iou_metrics (list[str], optional): Accepted so that the metric
            replaces ``IoUMetric`` by changing ``type`` only; mIoU is always
            computed and only ``['mIoU']`` is allowed.
    """
    default_prefix: Optional[str] = None

    def __init__(self,
                 ignore_index: int = 255,
                 pred_key: str = 'pred_sem_seg',
                 classwise: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 iou_metrics: Optional[Sequence[str]] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if iou_metrics is not None and set(iou_metrics) - {'mIoU'}:
            raise ValueError(
                f'PseudoLabelMetric computes mIoU, precision and recall; '
                f'iou_metrics={list(iou_metrics)} is not supported (use '
                "mmseg's IoUMetric for mDice/mFscore)")
        self.ignore_index = ignore_index
        self.pred_key = pred_key
        self.classwise = classwise
        self.confusion: Optional[np.ndarray] = None

    @property
    def num_classes(self) -> int:
        if not self.dataset_meta or 'classes' not in self.dataset_meta:
            raise RuntimeError(
                'PseudoLabelMetric needs dataset_meta with `classes` (set '
                'by the Evaluator from the dataset)')
        return len(self.dataset_meta['classes'])

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Add one confusion matrix per batch to ``self.results``."""
        cm = None
        for sample in data_samples:
            if 'gt_sem_seg' not in sample:
                raise KeyError(
                    'PseudoLabelMetric needs gt_sem_seg: add '
                    "dict(type='LoadAnnotations') to the test pipeline "
                    f"({sample.get('img_path')})")
            pred = sample[self.pred_key]['data'].squeeze()
            gt = sample['gt_sem_seg']['data'].squeeze()
            one = confusion_matrix(pred, gt, self.num_classes,
                                   self.ignore_index)
            cm = one if cm is None else cm + one
        if cm is not None:
            self.results.append(cm)

    def compute_metrics(self, results: List[np.ndarray]) -> Dict[str, float]:
        """Sum the confusion matrices and derive the metrics (percent)."""
        logger = MMLogger.get_current_instance()
        num_classes = self.num_classes
        cm = np.zeros((num_classes, num_classes + 1), dtype=np.int64)
        for one in results:
            cm += one
        self.confusion = cm
        m = metrics_from_confusion(cm)
        class_names = list(self.dataset_meta['classes'])

        def pct(x: float) -> float:
            return round(float(x) * 100, 2)

        gt_area = cm.sum(axis=1)
        with np.errstate(divide='ignore', invalid='ignore'):
            ignored_cls = cm[:, num_classes] / gt_area
        table = PrettyTable()
        table.add_column('Class', class_names)
        for key, values in (('IoU', m['IoU']), ('Precision', m['Precision']),
                            ('Recall', m['Recall']), ('Ignored',
                                                      ignored_cls)):
            table.add_column(key, [pct(v) for v in values])
        print_log('per class results:', logger)
        print_log('\n' + table.get_string(), logger=logger)

        out = OrderedDict()
        for key in ('mIoU', 'mPrecision', 'mRecall', 'aAcc', 'ignored_ratio'):
            out[key] = pct(m[key])
        if self.classwise:
            for key in ('IoU', 'Precision', 'Recall'):
                for name, value in zip(class_names, m[key]):
                    out[f'{key}.{name}'] = pct(value)
        return out
