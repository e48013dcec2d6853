"""Tests of VOCWSSSDataset: labels, cache, label file and bad input."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image
from wsss_test_utils import write_tiny_voc

from wsss_mm.datasets import (VOC_CLASSES, BaseWSSSDataset, VOCWSSSDataset,
                              default_cache_dir)
from wsss_mm.registry import DATASETS

VOC_SAMPLE_LABELS = {
    '2011_000003': [5, 15],  # bottle, person
    '2011_000006': [9, 15, 18],  # chair, person, sofa
    '2011_000025': [6, 7],  # bus, car
}


def _voc_samples(shared_data, **kwargs):
    root = shared_data('voc_samples', 'VOC2012')
    cfg = dict(
        type='VOCWSSSDataset',
        data_root=root,
        ann_file='ImageSets/Segmentation/val.txt',
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'))
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def _labels(ds):
    return {
        ds.get_data_info(i)['img_name']: ds.get_data_info(i)['img_labels']
        for i in range(len(ds))
    }


def test_voc_samples_labels(shared_data):
    ds = _voc_samples(shared_data)
    assert isinstance(ds, BaseWSSSDataset)
    assert len(ds) == 3
    assert _labels(ds) == VOC_SAMPLE_LABELS
    assert ds.metainfo['classes'] == VOC_CLASSES
    assert ds.metainfo['with_background'] is True
    assert VOCWSSSDataset.with_background is True
    assert len(ds.metainfo['palette']) == 21
    info = ds.get_data_info(0)
    assert info['num_classes'] == 21 and info['with_background'] is True
    assert [VOC_CLASSES[i] for i in VOC_SAMPLE_LABELS['2011_000006']
            ] == ['chair', 'person', 'sofa']


def test_label_cache_written_and_reused(shared_data, _label_cache,
                                        monkeypatch):
    _voc_samples(shared_data)
    assert default_cache_dir() == str(_label_cache)
    files = os.listdir(_label_cache)
    assert len(files) == 1 and files[0].startswith('labels-')
    with open(osp.join(_label_cache, files[0])) as f:
        cache = json.load(f)
    assert cache['names'] == sorted(VOC_SAMPLE_LABELS)
    assert cache['mask_dir'].endswith('SegmentationClass')
    assert cache['labels'] == VOC_SAMPLE_LABELS

    def fail(*args, **kwargs):
        raise AssertionError('labels re-derived although cached')

    monkeypatch.setattr(VOCWSSSDataset, 'derive_labels', fail)
    assert _labels(_voc_samples(shared_data)) == VOC_SAMPLE_LABELS


def test_label_cache_not_stale(tmp_path, _label_cache):
    root = write_tiny_voc(tmp_path / 'voc', {
        'a': np.full((8, 8), 3),
        'b': np.full((8, 8), 4),
    })
    kwargs = dict(
        data_root=root,
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'))
    assert _labels(VOCWSSSDataset(**kwargs)) == {'a': [3], 'b': [4]}
    # only a mask changes (same list, same names, same file size): the
    # cache is keyed on the masks' sizes and mtimes, so it is not used
    mask_a = osp.join(root, 'SegmentationClass', 'a.png')
    size, mtime = os.path.getsize(mask_a), os.stat(mask_a).st_mtime_ns
    with Image.open(mask_a) as old:
        palette = old.getpalette()
    new = Image.fromarray(np.full((8, 8), 7, np.uint8))
    new.putpalette(palette)
    new.save(mask_a)
    os.utime(mask_a, ns=(mtime + 10**9, mtime + 10**9))
    assert os.path.getsize(mask_a) == size
    assert _labels(VOCWSSSDataset(**kwargs)) == {'a': [7], 'b': [4]}
    # the list gains an image
    Image.fromarray(np.full(
        (8, 8), 9,
        np.uint8)).save(osp.join(root, 'SegmentationClass', 'c.png'))
    Image.fromarray(np.zeros(
        (8, 8, 3), np.uint8)).save(osp.join(root, 'JPEGImages', 'c.jpg'))
    with open(osp.join(root, 'ImageSets/Segmentation/train.txt'), 'w') as f:
        f.write('a\nb\nc\n')
    assert _labels(VOCWSSSDataset(**kwargs)) == {'a': [7], 'b': [4], 'c': [9]}
    # a cache whose mask dir differs (e.g. copied from elsewhere) is redone
    (cache_file, ) = os.listdir(_label_cache)
    path = osp.join(_label_cache, cache_file)
    with open(path) as f:
        cache = json.load(f)
    cache['mask_dir'] = '/elsewhere'
    cache['labels'] = {'a': [1], 'b': [1], 'c': [1]}
    with open(path, 'w') as f:
        json.dump(cache, f)
    assert _labels(VOCWSSSDataset(**kwargs))['a'] == [7]


def test_label_file_written_then_used(tmp_path):
    root = write_tiny_voc(tmp_path / 'voc', {
        'a': [[0, 2], [15, 255]],
        'b': [[1, 1], [0, 0]]
    })
    kwargs = dict(
        data_root=root,
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        label_file='labels.json')
    ds = VOCWSSSDataset(**kwargs)
    assert _labels(ds) == {'a': [2, 15], 'b': [1]}
    with open(osp.join(root, 'labels.json')) as f:
        assert json.load(f) == {'a': [2, 15], 'b': [1]}
    # labels given by the user take precedence over the masks
    with open(osp.join(root, 'labels.json'), 'w') as f:
        json.dump({'a': [4], 'b': [0, 12]}, f)
    assert _labels(VOCWSSSDataset(**kwargs)) == {'a': [4], 'b': [12]}
    with open(osp.join(root, 'labels.json'), 'w') as f:
        json.dump({'a': [4], 'b': [33]}, f)
    with pytest.raises(ValueError, match=r'labels\.json.*out of range'):
        VOCWSSSDataset(**kwargs)


def test_missing_data_root(tmp_path):
    missing = str(tmp_path / 'no_voc_here')
    with pytest.raises(FileNotFoundError) as e:
        VOCWSSSDataset(data_root=missing)
    assert missing in str(e.value) and 'voc_aug.py' in str(e.value)


def test_missing_list_file(tmp_path):
    root = write_tiny_voc(tmp_path / 'voc', {'a': np.ones((4, 4))})
    with pytest.raises(FileNotFoundError, match='train_aug.txt'):
        VOCWSSSDataset(
            data_root=root,
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClass'))


def test_list_names_missing_image(tmp_path):
    root = write_tiny_voc(
        tmp_path / 'voc', {
            'a': np.ones((4, 4)),
            'ghost': np.ones((4, 4))
        },
        missing_images=('ghost', ))
    with pytest.raises(FileNotFoundError) as e:
        VOCWSSSDataset(
            data_root=root,
            ann_file='ImageSets/Segmentation/train.txt',
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClass'))
    assert 'ghost.jpg' in str(e.value) and 'train.txt' in str(e.value)


def test_mask_id_out_of_range(tmp_path):
    root = write_tiny_voc(tmp_path / 'voc', {
        'a': np.ones((4, 4)),
        'bad': [[0, 30], [1, 255]]
    })
    with pytest.raises(ValueError) as e:
        VOCWSSSDataset(
            data_root=root,
            ann_file='ImageSets/Segmentation/train.txt',
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClass'))
    msg = str(e.value)
    assert 'bad.png' in msg and '[30]' in msg and 'out of range' in msg


def test_colour_mask_refused(tmp_path):
    root = write_tiny_voc(tmp_path / 'voc', {'a': np.ones((4, 4))})
    Image.fromarray(np.zeros(
        (4, 4, 3),
        np.uint8)).save(osp.join(root, 'SegmentationClass', 'a.png'))
    with pytest.raises(ValueError, match=r'a\.png.*mode'):
        VOCWSSSDataset(
            data_root=root,
            ann_file='ImageSets/Segmentation/train.txt',
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClass'))


def test_empty_labels_refused_in_train_kept_in_test(tmp_path):
    root = write_tiny_voc(tmp_path / 'voc', {
        'a': np.full((4, 4), 3),
        'bg_only': [[0, 0], [255, 0]],
    })
    kwargs = dict(
        data_root=root,
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        pipeline=[
            dict(type='LoadWSSSImageFromFile'),
            dict(type='LoadImageLevelLabels'),
            dict(type='PackWSSSInputs')
        ])
    with pytest.raises(RuntimeError, match='bg_only'):
        VOCWSSSDataset(**kwargs)  # policy: see test_bad_input.py
    test = VOCWSSSDataset(test_mode=True, **kwargs)
    assert _labels(test) == {'a': [3], 'bg_only': []}
    with pytest.raises(ValueError, match='bg_only.jpg'):
        test[1]
    assert test[0]['data_samples'].gt_image_labels.tolist(
    ) == [1.0, 0.0, 0.0, 1.0] + [0.0] * 17
