import os.path as osp

import numpy as np
import pytest
from PIL import Image

from wsss_mm.datasets import COCO_CLASSES, VOC_CLASSES, VOC_PALETTE
from wsss_mm.visualization import (colorize, save_confusion_matrix,
                                   save_iou_bar_chart, save_overlay_panel)


def _load(path):
    assert osp.isfile(path)
    return np.asarray(Image.open(path).convert('RGB'))


def _not_blank(img):
    # many distinct colours and real contrast, not one flat fill
    assert img.std() > 20
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 50


def test_colorize():
    out = colorize(np.array([[0, 1], [255, 2]]), VOC_PALETTE)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    assert out[0, 1].tolist() == VOC_PALETTE[1]
    assert out[1, 0].tolist() == [255, 255, 255]


def test_overlay_panel(tmp_path):
    rng = np.random.default_rng(0)
    h, w = 60, 80
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    gt = np.zeros((h, w), np.int64)
    gt[10:40, 20:60] = 15
    gt[0:5] = 255
    pred = np.roll(gt, 5, axis=1)
    pred[gt == 255] = 0
    path = str(tmp_path / 'sub' / 'panel.png')
    save_overlay_panel(path, img, {'pseudo': pred, 'ground truth': gt},
                       VOC_PALETTE, VOC_CLASSES, title='x')
    out = _load(path)
    # three panels side by side: much wider than high
    assert out.shape[1] > 2.5 * out.shape[0] > 300
    _not_blank(out)
    with pytest.raises(ValueError, match='does not match'):
        save_overlay_panel(path, img, {'bad': gt[:10]}, VOC_PALETTE,
                           VOC_CLASSES)


def test_iou_bar_chart(tmp_path):
    rng = np.random.default_rng(0)
    iou = rng.random(21)
    iou[3] = np.nan
    p1 = save_iou_bar_chart(str(tmp_path / 'iou.png'), iou, VOC_CLASSES)
    p2 = save_iou_bar_chart(
        str(tmp_path / 'iou2.png'), {
            'pseudo': iou,
            'pseudo + CRF': iou * 0.9
        }, VOC_CLASSES)
    p3 = save_iou_bar_chart(str(tmp_path / 'iou81.png'), rng.random(81),
                            COCO_CLASSES)
    a, b, c = _load(p1), _load(p2), _load(p3)
    for img in (a, b, c):
        _not_blank(img)
        assert img.shape[1] >= 600
    assert c.shape[0] > 2 * a.shape[0]  # height grows with classes


@pytest.mark.parametrize('classes', [VOC_CLASSES, COCO_CLASSES])
def test_confusion_matrix(tmp_path, classes):
    n = len(classes)
    rng = np.random.default_rng(0)
    cm = rng.integers(0, 30, (n, n + 1))
    cm[np.arange(n), np.arange(n)] += rng.integers(100, 1000, n)
    cm[2] = 0  # a class absent from the ground truth: zero row
    path = save_confusion_matrix(str(tmp_path / 'cm.png'), cm, classes)
    img = _load(path)
    _not_blank(img)
    # room for the labels: at least ~20 px per class and row
    assert min(img.shape[:2]) >= 20 * n
