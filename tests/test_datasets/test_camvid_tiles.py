"""Tests of CamVidTilesDataset on the real CamVid copy and tiny fakes."""
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from wsss_mm.datasets import CAMVID_CLASSES, CamVidTilesDataset, tile_boxes


def _mask(root, split, name):
    return np.array(Image.open(osp.join(root, 'labels', split, name + '.png')))


def _names(root, split):
    with open(osp.join(root, split + '.txt')) as f:
        return f.read().split()


def test_tile_boxes():
    boxes = tile_boxes(480, 360, (4, 3))
    assert len(boxes) == 12
    assert boxes[0] == (0, 0, 120, 120) and boxes[-1] == (360, 240, 480, 360)
    assert all(x1 - x0 == 120 and y1 - y0 == 120 for x0, y0, x1, y1 in boxes)
    # sizes that do not divide: the tiles still cover the image exactly
    boxes = tile_boxes(10, 7, (3, 2))
    cover = np.zeros((7, 10), int)
    for x0, y0, x1, y1 in boxes:
        cover[y0:y1, x0:x1] += 1
    assert (cover == 1).all()


def test_camvid_train_tiles(shared_data):
    root = shared_data('camvid')
    ds = CamVidTilesDataset(data_root=root, split='train')
    names = _names(root, 'train')
    assert len(names) == 367
    assert 0 < len(ds) <= 12 * 367
    assert len(ds) > 11 * 367  # nearly every tile has labelled pixels
    assert ds.metainfo['classes'] == CAMVID_CLASSES
    assert ds.metainfo['with_background'] is False
    assert CamVidTilesDataset.with_background is False
    # one tile by hand: second image, row 1, column 2
    info = [
        ds.get_data_info(i) for i in range(40)
        if ds.get_data_info(i)['img_name'] == names[1] + '_r1c2'
    ][0]
    assert info['tile_box'] == (240, 120, 360, 240)
    assert info['num_classes'] == 11 and info['with_background'] is False
    tile = _mask(root, 'train', names[1])[120:240, 240:360]
    labelled = tile[tile != 255]
    ids, counts = np.unique(labelled, return_counts=True)
    expected = sorted(
        int(i) for i, c in zip(ids, counts) if c >= 0.01 * labelled.size)
    assert info['img_labels'] == expected and expected
    # every kept tile has labels, all in range, no background id forced
    for i in range(len(ds)):
        labels = ds.get_data_info(i)['img_labels']
        assert labels and all(0 <= c < 11 for c in labels)


def test_class_pixel_counts(shared_data):
    root = shared_data('camvid')
    ds = CamVidTilesDataset(data_root=root, split='val')
    expected = np.zeros(11, np.int64)
    for name in _names(root, 'val'):
        mask = _mask(root, 'val', name)
        expected += np.bincount(mask[mask != 255], minlength=11)[:11]
    counts = ds.class_pixel_counts()
    assert counts.dtype == np.int64 and counts.shape == (11, )
    assert np.array_equal(counts, expected)
    lazy = CamVidTilesDataset(data_root=root, split='val', lazy_init=True)
    assert np.array_equal(lazy.class_pixel_counts(), expected)


def test_val_tile_pipeline(shared_data):
    root = shared_data('camvid')
    ds = CamVidTilesDataset(
        data_root=root,
        split='val',
        test_mode=True,
        indices=[5],
        pipeline=[
            dict(type='LoadWSSSImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='CropTile'),
            dict(type='PackWSSSInputs')
        ])
    info = ds.get_data_info(0)
    x0, y0, x1, y1 = info['tile_box']
    out = ds[0]
    assert out['inputs'].shape == (3, 120, 120)
    sample = out['data_samples']
    assert sample.ori_shape == (120, 120) and sample.img_shape == (120, 120)
    assert sample.metainfo['tile_box'] == (x0, y0, x1, y1)
    name = info['img_name'].rsplit('_r', 1)[0]
    expected = _mask(root, 'val', name)[y0:y1, x0:x1]
    assert np.array_equal(sample.gt_sem_seg.data[0].numpy(), expected)


def _fake_camvid(root, masks):
    for sub in ('images/train', 'labels/train'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    for name, mask in masks.items():
        Image.fromarray(np.zeros(mask.shape + (3, ), np.uint8)).save(
            osp.join(root, 'images/train', name + '.jpg'))
        Image.fromarray(mask.astype(np.uint8)).save(
            osp.join(root, 'labels/train', name + '.png'))
    with open(osp.join(root, 'train.txt'), 'w') as f:
        f.write(''.join(n + '\n' for n in masks))
    return str(root)


def test_void_tiles_dropped_and_fraction(tmp_path):
    mask = np.full((6, 8), 3, np.uint8)  # 4x3 grid of 2x2 tiles
    mask[0:2, 0:2] = 255  # tile r0c0: void only -> dropped
    mask[2:4, 2:4] = [[5, 3], [3, 3]]  # r1c1: 25% Pavement
    root = _fake_camvid(tmp_path / 'cv', {'img': mask})
    ds = CamVidTilesDataset(data_root=root, grid=(4, 3))
    assert len(ds) == 11
    labels = {
        ds.get_data_info(i)['img_name']: ds.get_data_info(i)['img_labels']
        for i in range(len(ds))
    }
    assert 'img_r0c0' not in labels
    assert labels['img_r1c1'] == [3, 5] and labels['img_r2c3'] == [3]
    # a class under min_label_fraction of the labelled pixels is dropped
    strict = CamVidTilesDataset(
        data_root=root, grid=(4, 3), min_label_fraction=0.3)
    assert [
        strict.get_data_info(i)['img_labels'] for i in range(len(strict))
        if strict.get_data_info(i)['img_name'] == 'img_r1c1'
    ] == [[3]]
    assert ds.class_pixel_counts()[[3, 5]].tolist() == [43, 1]


def test_bad_camvid_input(tmp_path):
    mask = np.zeros((6, 8), np.uint8)
    mask[0, 0] = 11  # one past the last class, not void
    root = _fake_camvid(tmp_path / 'cv', {'bad': mask})
    with pytest.raises(ValueError, match=r'bad\.png.*\[11\]'):
        CamVidTilesDataset(data_root=root)
    with pytest.raises(FileNotFoundError, match='no_camvid'):
        CamVidTilesDataset(data_root=str(tmp_path / 'no_camvid'))
