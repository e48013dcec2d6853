"""Tests of the COCO converter (polygons, RLE) and COCOWSSSDataset."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from wsss_test_utils import TOOLS, shared_or_skip

from wsss_mm.datasets import (COCO_CLASSES, COCOWSSSDataset,
                              image_labels_from_instances)
from wsss_mm.datasets.converters import coco14


def _json(split):
    return osp.join(shared_or_skip('minicoco'), 'labels', split + '.json')


def _instance_categories(split):
    """{stem: set of contiguous ids of non-crowd instances} by hand."""
    with open(_json(split)) as f:
        coco = json.load(f)
    order = {
        c['id']: i + 1
        for i, c in enumerate(
            sorted(coco['categories'], key=lambda c: c['id']))
    }
    stems = {
        im['id']: osp.splitext(im['file_name'])[0]
        for im in coco['images']
    }
    out = {s: set() for s in stems.values()}
    for a in coco['annotations']:
        if not a['iscrowd']:
            out[stems[a['image_id']]].add(order[a['category_id']])
    return out, coco


def test_coco_classes():
    assert len(COCO_CLASSES) == 81
    assert COCO_CLASSES[0] == 'background'
    assert COCO_CLASSES[1] == 'person' and COCO_CLASSES[3] == 'car'
    assert COCO_CLASSES[5] == 'airplane'
    assert COCO_CLASSES[80] == 'toothbrush'
    assert len(set(COCO_CLASSES)) == 81


def test_rle_decoding_uncompressed():
    conv = coco14
    # 3x2 image, column-major: col0 = [0, 1, 1], col1 = [1, 0, 0]
    mask = conv.decode_rle({'size': [3, 2], 'counts': [1, 3, 2]})
    assert mask.tolist() == [[0, 1], [1, 0], [1, 0]]
    with pytest.raises(ValueError, match='sum'):
        conv.decode_rle({'size': [3, 2], 'counts': [1, 2]})


def test_rle_string_roundtrip():
    conv = coco14
    rng = np.random.default_rng(0)
    mask = (rng.random((37, 23)) > 0.6).astype(np.uint8)
    mask[:5] = 1  # long runs too
    flat = mask.T.ravel()  # column-major
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0] + counts
    s = conv.rle_counts_to_string(counts)
    assert conv.rle_string_to_counts(s) == counts
    decoded = conv.decode_rle({'size': [37, 23], 'counts': s})
    assert np.array_equal(decoded, mask)
    # worked by hand from pycocotools' rleToString: runs after the second
    # are stored as differences, 5 bits a character, offset 48 ('0')
    assert conv.rle_counts_to_string([5, 2, 2, 2, 5]) == '52203'
    assert conv.rle_string_to_counts('52203') == [5, 2, 2, 2, 5]
    # a negative difference (2 - 10 = -8) is one character: 24 + 48 = 'H'
    assert conv.rle_counts_to_string([1, 10, 3, 2]) == '1:3H'
    assert conv.rle_string_to_counts('1:3H') == [1, 10, 3, 2]


def test_polygon_rasterisation():
    conv = coco14
    mask = conv.polygons_to_mask([[2, 2, 7, 2, 7, 5, 2, 5], [0, 0]], 10, 10)
    assert mask[2:6, 2:8].all() and mask.sum() == 24


def test_converter_on_minicoco(minicoco_root):
    with open(osp.join(minicoco_root, 'classes.json')) as f:
        assert json.load(f) == ['background', 'person', 'car', 'airplane']
    with open(osp.join(minicoco_root, 'image_labels.json')) as f:
        labels = json.load(f)
    for split, n in (('train', 30), ('val', 10)):
        expected, coco = _instance_categories(split)
        with open(osp.join(minicoco_root, split + '.txt')) as f:
            names = f.read().split()
        assert sorted(names) == sorted(expected) and len(names) == n
        for im in coco['images']:
            stem = osp.splitext(im['file_name'])[0]
            mask = np.array(
                Image.open(
                    osp.join(minicoco_root, 'annotations', split,
                             stem + '.png')))
            assert mask.shape == (im['height'], im['width'])
            ids = set(np.unique(mask).tolist())
            assert ids <= {0, 1, 2, 3, 255}, (stem, ids)
            assert ids - {0, 255} == expected[stem], stem
            assert set(labels[stem]) == expected[stem]
        assert osp.islink(osp.join(minicoco_root, 'images', split))
    # crowd regions are ignore (255) in the masks
    _, coco = _instance_categories('train')
    crowd = [a for a in coco['annotations'] if a['iscrowd']][0]
    stem = [
        osp.splitext(im['file_name'])[0] for im in coco['images']
        if im['id'] == crowd['image_id']
    ][0]
    mask = np.array(
        Image.open(
            osp.join(minicoco_root, 'annotations', 'train', stem + '.png')))
    assert (mask == 255).sum() > 1000


def test_converter_script_and_class_mismatch(tmp_path):
    src = shared_or_skip('minicoco')
    out = str(tmp_path / 'out')
    cmd = [
        sys.executable,
        osp.join(TOOLS, 'coco14_instances_to_masks.py'), '--ann',
        _json('val'), '--img-dir',
        osp.join(src, 'images'), '--out', out, '--split', 'v'
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert '10/10' in proc.stdout  # progress line
    assert len(os.listdir(osp.join(out, 'annotations', 'v'))) == 10
    # another dataset's categories into the same folder is refused
    other = tmp_path / 'other.json'
    with open(_json('val')) as f:
        coco = json.load(f)
    coco['categories'][0]['name'] = 'human'
    other.write_text(json.dumps(coco))
    conv = coco14
    with pytest.raises(ValueError, match='classes.json'):
        conv.convert(str(other), osp.join(src, 'images'), out)


def test_converter_missing_image(tmp_path):
    src = shared_or_skip('minicoco')
    with open(_json('val')) as f:
        coco = json.load(f)
    coco['images'][0]['file_name'] = 'missing_image.jpg'
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(coco))
    conv = coco14
    with pytest.raises(FileNotFoundError, match='missing_image.jpg'):
        conv.convert(str(bad), osp.join(src, 'images'), str(tmp_path / 'o'))


def _coco_ds(root, split='train', **kwargs):
    return COCOWSSSDataset(
        data_root=root,
        ann_file=f'{split}.txt',
        data_prefix=dict(
            img_path=f'images/{split}', seg_map_path=f'annotations/{split}'),
        classes_file='classes.json',
        **kwargs)


def test_dataset_from_converted_minicoco(minicoco_root):
    ds = _coco_ds(minicoco_root)
    assert len(ds) == 30
    assert ds.metainfo['classes'] == ('background', 'person', 'car',
                                      'airplane')
    assert len(ds.metainfo['palette']) == 4
    assert ds.label_map is None
    expected, _ = _instance_categories('train')
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert info['img_labels'] == sorted(expected[info['img_name']])
        assert info['num_classes'] == 4 and info['with_background'] is True
    val = _coco_ds(
        minicoco_root,
        'val',
        test_mode=True,
        pipeline=[
            dict(type='LoadWSSSImageFromFile'),
            dict(type='LoadAnnotations', imdecode_backend='pillow'),
            dict(type='PackWSSSInputs')
        ])
    assert len(val) == 10
    seg = val[0]['data_samples'].gt_sem_seg.data
    assert set(seg.unique().tolist()) <= {0, 1, 2, 3, 255}


def test_dataset_labels_from_instances_json(minicoco_root):
    expected, _ = _instance_categories('val')
    assert {
        k: set(v)
        for k, v in image_labels_from_instances(_json('val')).items()
    } == expected
    ds = _coco_ds(minicoco_root, 'val', ann_json=_json('val'))
    assert {
        ds.get_data_info(i)['img_name']:
        set(ds.get_data_info(i)['img_labels'])
        for i in range(len(ds))
    } == expected


def test_dataset_warns_on_class_subset_without_classes_file(minicoco_root):
    with pytest.warns(UserWarning, match='classes_file'):
        ds = COCOWSSSDataset(
            data_root=minicoco_root,
            ann_file='val.txt',
            data_prefix=dict(
                img_path='images/val', seg_map_path='annotations/val'))
    assert len(ds.metainfo['classes']) == 81


def test_missing_coco_root(tmp_path):
    with pytest.raises(
            FileNotFoundError, match='coco14_instances_to_masks.py'):
        COCOWSSSDataset(data_root=str(tmp_path / 'coco2014'))
