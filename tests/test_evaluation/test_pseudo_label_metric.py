import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.evaluation import IoUMetric
from mmseg.structures import SegDataSample

from wsss_mm.evaluation import (PseudoLabelMetric, confusion_matrix,
                                metrics_from_confusion)
from wsss_mm.registry import METRICS

# 3 classes, 12 pixels: two ignored in GT, one predicted ignored.
GT = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 255, 255])
PRED = np.array([0, 0, 1, 255, 1, 1, 1, 0, 2, 1, 0, 2])
CM = np.array([[2, 1, 0, 1], [1, 3, 0, 0], [0, 1, 1, 0]])


def _sample(pred, gt):
    s = SegDataSample()
    s.pred_sem_seg = PixelData(data=torch.as_tensor(pred).reshape(1, 1, -1))
    s.gt_sem_seg = PixelData(data=torch.as_tensor(gt).reshape(1, 1, -1))
    s.set_metainfo(dict(img_path='x.jpg'))
    return s.to_dict()


def test_confusion_matrix_hand_computed():
    cm = confusion_matrix(PRED.reshape(3, 4), GT.reshape(3, 4), 3)
    np.testing.assert_array_equal(cm, CM)
    cm_t = confusion_matrix(torch.from_numpy(PRED), torch.from_numpy(GT), 3)
    np.testing.assert_array_equal(cm_t, CM)


def test_metrics_hand_computed():
    m = metrics_from_confusion(CM)
    np.testing.assert_allclose(m['IoU'], [2 / 5, 3 / 6, 1 / 2])
    np.testing.assert_allclose(m['Precision'], [2 / 3, 3 / 5, 1 / 1])
    np.testing.assert_allclose(m['Recall'], [2 / 4, 3 / 4, 1 / 2])
    assert m['mIoU'] == pytest.approx(1.4 / 3)
    assert m['aAcc'] == pytest.approx(0.6)
    assert m['ignored_ratio'] == pytest.approx(0.1)
    assert m['num_pixels'] == 10
    # A square matrix has no ignored column.
    sq = metrics_from_confusion(CM[:, :3])
    assert sq['ignored_ratio'] == 0
    assert sq['IoU'][1] == pytest.approx(3 / 6)


def test_absent_class_is_nan_and_skipped():
    cm = confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 1]), 3)
    m = metrics_from_confusion(cm)
    assert np.isnan(m['IoU'][2])
    assert m['mIoU'] == pytest.approx(1.0)


def test_confusion_matrix_rejects_bad_ids():
    with pytest.raises(ValueError, match='prediction holds'):
        confusion_matrix(np.array([0, 7]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match='ground truth holds'):
        confusion_matrix(np.array([0, 1]), np.array([0, 5]), 3)
    with pytest.raises(ValueError, match='pixels'):
        confusion_matrix(np.array([0, 1]), np.array([0, 1, 1]), 3)


def test_metric_hand_computed_and_built_from_registry():
    metric = METRICS.build(dict(type='PseudoLabelMetric', classwise=True))
    assert isinstance(metric, PseudoLabelMetric)
    metric.dataset_meta = dict(classes=('bg', 'a', 'b'))
    # Two batches: the halves of the 12 pixels.
    metric.process({}, [_sample(PRED[:6], GT[:6])])
    metric.process({}, [_sample(PRED[6:], GT[6:])])
    res = metric.evaluate(2)
    assert res['mIoU'] == pytest.approx(46.67)
    assert res['ignored_ratio'] == pytest.approx(10.0)
    assert res['aAcc'] == pytest.approx(60.0)
    assert res['mPrecision'] == pytest.approx(
        round(100 * (2 / 3 + 3 / 5 + 1) / 3, 2))
    assert res['IoU.a'] == pytest.approx(50.0)
    assert res['Recall.bg'] == pytest.approx(50.0)
    np.testing.assert_array_equal(metric.confusion, CM)


def test_metric_agrees_with_mmseg_iou_metric():
    rng = np.random.default_rng(0)
    classes = tuple(f'c{i}' for i in range(5))
    ours = PseudoLabelMetric()
    ref = IoUMetric()
    for m in (ours, ref):
        m.dataset_meta = dict(classes=classes)
    for _ in range(3):
        gt = rng.integers(0, 5, size=(16, 20))
        gt[rng.random(gt.shape) < 0.1] = 255
        pred = np.where(rng.random(gt.shape) < 0.6, gt,
                        rng.integers(0, 4, size=gt.shape))  # c4 underused
        pred[rng.random(gt.shape) < 0.15] = 255
        pred[gt == 255] = rng.integers(0, 5)
        batch = [_sample(pred, gt)]
        ours.process({}, batch)
        ref.process({}, batch)
    r_ours = ours.evaluate(3)
    r_ref = ref.evaluate(3)
    assert r_ours['mIoU'] == pytest.approx(r_ref['mIoU'], abs=0.011)
    assert r_ours['aAcc'] == pytest.approx(r_ref['aAcc'], abs=0.011)
    assert r_ours['ignored_ratio'] > 5
