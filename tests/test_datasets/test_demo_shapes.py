"""Tests of the synthetic shapes dataset and its generator script."""
import filecmp
import json
import os
import os.path as osp

import numpy as np
from PIL import Image

from wsss_mm.datasets import (DEMO_CLASSES, DemoShapesDataset, VOCWSSSDataset,
                              generate_demo_dataset)
from wsss_mm.datasets.converters import demo_shapes


def _files(root):
    out = []
    for d, _, files in os.walk(root):
        out += [osp.relpath(osp.join(d, f), root) for f in files]
    return sorted(out)


def test_deterministic(tmp_path):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    generate_demo_dataset(a, num_train=5, num_val=2, size=48, seed=1)
    generate_demo_dataset(b, num_train=5, num_val=2, size=48, seed=1)
    generate_demo_dataset(c, num_train=5, num_val=2, size=48, seed=2)
    files = _files(a)
    assert files == _files(b) and len(files) == 2 * 7 + 4
    _, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert mismatch == [] and errors == []
    _, mismatch, _ = filecmp.cmpfiles(a, c, files, shallow=False)
    assert 'JPEGImages/train_0000.jpg' in mismatch
    # more val images do not change the train images
    d = str(tmp_path / 'd')
    generate_demo_dataset(d, num_train=5, num_val=4, size=48, seed=1)
    assert filecmp.cmp(
        osp.join(a, 'JPEGImages/train_0004.jpg'),
        osp.join(d, 'JPEGImages/train_0004.jpg'),
        shallow=False)


def test_default_size_labels_and_layout(tmp_path):
    root = str(tmp_path / 'demo')
    generate_demo_dataset(root)  # the defaults: 200 + 40 images of 128 px
    total = sum(osp.getsize(osp.join(root, f)) for f in _files(root))
    assert total < 6 * 2**20  # a few MB
    with open(osp.join(root, 'ImageSets/Segmentation/train.txt')) as f:
        train = f.read().split()
    with open(osp.join(root, 'ImageSets/Segmentation/val.txt')) as f:
        val = f.read().split()
    assert len(train) == 200 and len(val) == 40
    with open(osp.join(root, 'image_labels.json')) as f:
        labels = json.load(f)
    counts = np.zeros(4, int)
    for name in train + val:
        seg = Image.open(osp.join(root, 'SegmentationClass', name + '.png'))
        assert seg.mode == 'P' and seg.size == (128, 128)
        mask = np.array(seg)
        present = sorted(set(np.unique(mask).tolist()) - {0})
        assert present == labels[name] and 1 <= len(present) <= 3
        counts[present] += 1
        img = Image.open(osp.join(root, 'JPEGImages', name + '.jpg'))
        assert img.size == (128, 128) and img.mode == 'RGB'
    assert counts[1:].min() > 60  # every class is frequent
    # shapes are visible: object pixels differ from background in colour
    img = np.array(Image.open(osp.join(root, 'JPEGImages', 'train_0000.jpg')))
    mask = np.array(
        Image.open(osp.join(root, 'SegmentationClass', 'train_0000.png')))
    fg = img[mask > 0].astype(float).mean(0)
    bg = img[mask == 0].astype(float).mean(0)
    assert np.abs(fg - bg).max() > 30


def test_dataset(demo_root):
    ds = DemoShapesDataset(data_root=demo_root)
    assert isinstance(ds, VOCWSSSDataset)
    assert ds.metainfo['classes'] == DEMO_CLASSES == ('background', 'circle',
                                                      'square', 'triangle')
    assert ds.metainfo['with_background'] is True
    assert len(ds.metainfo['palette']) == 4
    assert len(ds) == 16
    with open(osp.join(demo_root, 'image_labels.json')) as f:
        labels = json.load(f)
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert info['img_labels'] == labels[info['img_name']]
        assert info['num_classes'] == 4
    val = DemoShapesDataset(
        data_root=demo_root,
        ann_file='ImageSets/Segmentation/val.txt',
        test_mode=True)
    assert len(val) == 8


def test_make_demo_data_idempotent(tmp_path, capsys):
    tool = demo_shapes
    out = str(tmp_path / 'demo')
    args = ['--out', out, '--num-train', '4', '--num-val', '2', '--size', '32']
    assert tool.main(args) is True
    stamp = os.stat(osp.join(out, 'JPEGImages', 'train_0000.jpg')).st_mtime_ns
    assert tool.main(args) is False  # complete: skipped
    assert 'nothing to do' in capsys.readouterr().out
    assert os.stat(osp.join(out, 'JPEGImages',
                            'train_0000.jpg')).st_mtime_ns == stamp
    os.remove(osp.join(out, 'SegmentationClass', 'val_0001.png'))
    assert tool.main(args) is True  # incomplete: regenerated
    assert osp.isfile(osp.join(out, 'SegmentationClass', 'val_0001.png'))
    assert tool.main(args[:-1] + ['48']) is True  # other settings
    assert tool.main(args + ['--force']) is True
