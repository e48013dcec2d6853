"""Tests of tools/dataset_converters/voc_aug.py on voc_samples + fake SBD."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat
from wsss_test_utils import TOOLS

from wsss_mm.datasets.converters import voc_aug

VOC_VAL = ['2011_000003', '2011_000006', '2011_000025']


def _write_sbd(root, masks, train=(), val=()):
    cls_dir = osp.join(root, 'dataset', 'cls')
    os.makedirs(cls_dir, exist_ok=True)
    for name, seg in masks.items():
        seg = np.asarray(seg, np.uint8)
        gt = {
            'Segmentation': seg,
            'Boundaries': np.empty((1, 0), dtype=object),
            'CategoriesPresent': np.unique(seg[seg > 0]).astype(np.uint8)
        }
        savemat(osp.join(cls_dir, name + '.mat'), {'GTcls': gt})
    for fname, names in (('train.txt', train), ('val.txt', val)):
        with open(osp.join(root, 'dataset', fname), 'w') as f:
            f.write(''.join(n + '\n' for n in names))
    return str(root)


def test_load_sbd_mask(tmp_path):
    conv = voc_aug
    seg = np.array([[0, 3], [3, 12]], np.uint8)
    root = _write_sbd(tmp_path / 'sbd', {'x': seg})
    loaded = conv.load_sbd_mask(osp.join(root, 'dataset', 'cls', 'x.mat'))
    assert loaded.dtype == np.uint8 and np.array_equal(loaded, seg)
    savemat(str(tmp_path / 'other.mat'), {'foo': np.zeros(3)})
    with pytest.raises(ValueError, match='other.mat.*GTcls'):
        conv.load_sbd_mask(str(tmp_path / 'other.mat'))


def test_convert_voc_samples_with_sbd(shared_data, tmp_path):
    voc = shared_data('voc_samples', 'VOC2012')
    sbd_a = np.zeros((20, 30), np.uint8)
    sbd_a[5:10, 5:20] = 12  # dog
    sbd_a[12:18, 2:6] = 1  # aeroplane
    sbd_b = np.full((10, 10), 19, np.uint8)  # train
    # SBD also annotates a VOC val image: it must stay out of train_aug and
    # VOC's own mask must win
    sbd_val = np.full((338, 500), 3, np.uint8)
    sbd = _write_sbd(
        tmp_path / 'sbd', {
            '2008_000001': sbd_a,
            '2008_000002': sbd_b,
            '2011_000003': sbd_val
        },
        train=['2008_000001', '2011_000003'],
        val=['2008_000002'])
    out = str(tmp_path / 'out')
    proc = subprocess.run([
        sys.executable,
        osp.join(TOOLS, 'voc_aug.py'), voc, '--sbd', sbd, '--out', out,
        '--nproc', '1'
    ],
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert '5/5' in proc.stdout  # progress line
    seg_dir = osp.join(out, 'SegmentationClassAug')
    assert sorted(os.listdir(seg_dir)) == sorted(
        n + '.png' for n in ['2008_000001', '2008_000002'] + VOC_VAL)
    for name, expected in (('2008_000001', sbd_a), ('2008_000002', sbd_b)):
        png = Image.open(osp.join(seg_dir, name + '.png'))
        assert png.mode == 'L'
        assert np.array_equal(np.array(png), expected)
    for name in VOC_VAL:
        png = Image.open(osp.join(seg_dir, name + '.png'))
        assert png.mode == 'L'
        original = np.array(
            Image.open(osp.join(voc, 'SegmentationClass', name + '.png')))
        assert np.array_equal(np.array(png), original)
    sets = osp.join(out, 'ImageSets', 'Segmentation')
    with open(osp.join(sets, 'train_aug.txt')) as f:
        assert f.read().split() == ['2008_000001', '2008_000002']
    with open(osp.join(sets, 'val.txt')) as f:
        assert f.read().split() == VOC_VAL
    with open(osp.join(out, 'image_labels.json')) as f:
        labels = json.load(f)
    assert labels == {
        '2008_000001': [1, 12],
        '2008_000002': [19],
        '2011_000003': [5, 15],
        '2011_000006': [9, 15, 18],
        '2011_000025': [6, 7],
    }
    assert osp.islink(osp.join(out, 'JPEGImages'))
    # the converted folder loads as a dataset (val: images exist)
    from wsss_mm.datasets import VOCWSSSDataset
    ds = VOCWSSSDataset(
        data_root=out,
        ann_file='ImageSets/Segmentation/val.txt',
        label_file='image_labels.json',
        test_mode=True)
    assert [ds.get_data_info(i)['img_labels']
            for i in range(3)] == [[5, 15], [9, 15, 18], [6, 7]]


def test_convert_refuses_out_of_range(shared_data, tmp_path):
    voc = shared_data('voc_samples', 'VOC2012')
    sbd = _write_sbd(
        tmp_path / 'sbd', {'2008_000009': [[0, 40]]}, train=['2008_000009'])
    conv = voc_aug
    with pytest.raises(ValueError, match=r'2008_000009\.mat.*\[40\]'):
        conv.convert(voc, sbd, str(tmp_path / 'out'))
    with pytest.raises(FileNotFoundError, match='nowhere'):
        conv.convert(str(tmp_path / 'nowhere'), None, str(tmp_path / 'o'))
