"""Build the base dataset configs on real or generated data.

Every train set must deliver image-level labels and no pixel ground truth
(no label leakage); every val set must deliver ``gt_sem_seg``.
"""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image
from wsss_test_utils import REPO_ROOT

from wsss_mm.registry import DATASETS

CFG_DIR = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets')
VOC_SAMPLE_LABELS = {
    '2011_000003': [5, 15],
    '2011_000006': [9, 15, 18],
    '2011_000025': [6, 7],
}


def _cfg(name):
    return Config.fromfile(osp.join(CFG_DIR, name + '.py'))


def _build(loader_cfg, **overrides):
    ds_cfg = copy.deepcopy(loader_cfg['dataset'])
    ds_cfg.update(overrides)
    return DATASETS.build(ds_cfg)


def _check_loaders(cfg, workers):
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        assert loader['num_workers'] == workers
        assert loader['persistent_workers'] == (loader['num_workers'] > 0)
    assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    assert cfg.val_dataloader.sampler.type == 'DefaultSampler'
    assert cfg.val_evaluator == dict(type='IoUMetric', iou_metrics=['mIoU'])
    assert cfg.test_evaluator == cfg.val_evaluator
    types = [t['type'] for t in cfg.train_pipeline]
    assert types[0] == 'LoadImageFromFile'
    assert 'LoadImageLevelLabels' in types and types[-1] == 'PackWSSSInputs'
    assert not any('Annotations' in t for t in types)
    test_types = [t['type'] for t in cfg.test_pipeline]
    assert test_types[0] == 'LoadImageFromFile'
    # ground truth read through the loader that checks its ids
    assert 'LoadWSSSAnnotations' in test_types
    assert test_types[-1] == 'PackWSSSInputs'
    assert not osp.isabs(cfg.data_root) and 'shared' not in cfg.data_root


def _check_train_samples(ds, n, size=None):
    """No pixel ground truth anywhere; image labels match the data info."""
    for i in range(min(n, len(ds))):
        info = ds.get_data_info(i)
        results = copy.deepcopy(info)
        for t in ds.pipeline.transforms[:-1]:
            results = t(results)
        assert 'gt_seg_map' not in results
        assert results['seg_fields'] == []
        out = ds[i]
        sample = out['data_samples']
        assert 'gt_sem_seg' not in sample and 'gt_seg_map' not in sample
        labels = sample.gt_image_labels
        assert isinstance(labels, torch.Tensor)
        assert labels.dtype == torch.float32
        assert labels.shape == (info['num_classes'], )
        hot = torch.nonzero(labels).flatten().tolist()
        expected = sorted(
            set(info['img_labels'])
            | ({0} if info['with_background'] else set()))
        assert hot == expected
        if size is not None:
            assert tuple(out['inputs'].shape) == (3, ) + size


def _check_val_samples(ds, n):
    for i in range(min(n, len(ds))):
        info = ds.get_data_info(i)
        sample = ds[i]['data_samples']
        assert 'gt_sem_seg' in sample
        seg = sample.gt_sem_seg.data
        assert tuple(seg.shape[1:]) == tuple(sample.ori_shape)
        ids = set(seg.unique().tolist()) - {255}
        if info['with_background']:
            assert ids - {0} == set(info['img_labels'])
        else:  # tiles: classes under 1% of the pixels are not labels
            assert ids >= set(info['img_labels'])


def test_voc12aug_config(shared_data):
    cfg = _cfg('voc12aug')
    _check_loaders(cfg, 4)
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.dataset_type == 'VOCWSSSDataset'
    assert dict(
        type='Resize', scale=(384, 384),
        keep_ratio=False) in cfg.train_pipeline
    assert dict(
        type='Resize', scale=(960, 960), keep_ratio=False) in cfg.test_pipeline
    root = shared_data('voc_samples', 'VOC2012')
    # voc_samples only has val masks in SegmentationClass; label_file=None
    # keeps the read-only shared folder untouched
    common = dict(
        data_root=root,
        ann_file='ImageSets/Segmentation/val.txt',
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        label_file=None)
    train = _build(cfg.train_dataloader, **common)
    assert len(train) == 3
    assert {
        train.get_data_info(i)['img_name']:
        train.get_data_info(i)['img_labels']
        for i in range(3)
    } == VOC_SAMPLE_LABELS
    _check_train_samples(train, 3, size=(384, 384))
    val = _build(cfg.val_dataloader, **common)
    assert len(val) == 3
    _check_val_samples(val, 3)
    sample = val[0]['data_samples']
    assert tuple(sample.gt_sem_seg.data.shape[1:]) == (338, 500)


def test_coco14_config(minicoco_root):
    cfg = _cfg('coco14')
    _check_loaders(cfg, 4)
    assert cfg.dataset_type == 'COCOWSSSDataset'
    assert cfg.data_root == 'data/coco2014'
    train = _build(
        cfg.train_dataloader,
        data_root=minicoco_root,
        ann_file='train.txt',
        data_prefix=dict(
            img_path='images/train', seg_map_path='annotations/train'),
        classes_file='classes.json')
    assert len(train) == 30
    # every minicoco image has all three categories
    assert all(
        train.get_data_info(i)['img_labels'] == [1, 2, 3]
        for i in range(len(train)))
    _check_train_samples(train, 2, size=(384, 384))
    val = _build(
        cfg.val_dataloader,
        data_root=minicoco_root,
        ann_file='val.txt',
        data_prefix=dict(
            img_path='images/val', seg_map_path='annotations/val'),
        classes_file='classes.json')
    assert len(val) == 10
    _check_val_samples(val, 2)


@pytest.mark.parametrize('name, scale', [('voc12aug_448x448', 500),
                                         ('coco14_448x448', 640)])
def test_toco_448_configs(name, scale):
    """ToCo's crops over the plain dataset bases: the test side keeps the
    id-checking loader and the original size."""
    cfg = _cfg(name)
    plain = _cfg(name.split('_')[0])
    _check_loaders(cfg, 4)
    assert cfg.dataset_type == plain.dataset_type
    assert cfg.train_dataloader.dataset.ann_file == \
        plain.train_dataloader.dataset.ann_file
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.train_dataloader.dataset.pipeline == cfg.train_pipeline
    assert [t['type'] for t in cfg.train_pipeline] == [
        'LoadImageFromFile', 'LoadImageLevelLabels', 'RandomResize',
        'RandomCrop', 'RandomFlip', 'PhotoMetricDistortion', 'PackWSSSInputs'
    ]
    assert cfg.train_pipeline[2].scale == (scale, scale)
    assert cfg.train_pipeline[2].ratio_range == (0.5, 2.0)
    assert cfg.train_pipeline[3].crop_size == (448, 448)
    assert [t['type'] for t in cfg.test_pipeline] == [
        'LoadImageFromFile', 'LoadWSSSAnnotations', 'PackWSSSInputs'
    ]
    for key in ('val_dataloader', 'test_dataloader'):
        assert cfg[key].dataset.pipeline == cfg.test_pipeline


def test_camvid_tiles_config(shared_data):
    cfg = _cfg('camvid_tiles')
    _check_loaders(cfg, 4)
    assert cfg.data_root == 'data/camvid'
    assert [t['type'] for t in cfg.train_pipeline
            ][:2] == ['LoadImageFromFile', 'CropTile']
    root = shared_data('camvid')
    train = _build(cfg.train_dataloader, data_root=root)
    assert 11 * 367 < len(train) <= 12 * 367
    info = train.get_data_info(0)
    x0, y0, x1, y1 = info['tile_box']
    name = info['img_name'].rsplit('_r', 1)[0]
    mask = np.array(
        Image.open(osp.join(root, 'labels', 'train', name + '.png')))
    tile = mask[y0:y1, x0:x1]
    tile = tile[tile != 255]
    counts = np.bincount(tile, minlength=11)
    assert info['img_labels'] == np.flatnonzero(counts >= 0.01 *
                                                tile.size).tolist()
    _check_train_samples(train, 3, size=(128, 128))
    val = _build(cfg.val_dataloader, data_root=root)
    assert len(val) == 12 * 101
    _check_val_samples(val, 3)
    assert tuple(val[0]['inputs'].shape) == (3, 120, 120)


def test_demo_shapes_config(demo_root):
    cfg = _cfg('demo_shapes')
    _check_loaders(cfg, 2)
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.data_root == 'data/demo_shapes'
    train = _build(cfg.train_dataloader, data_root=demo_root)
    assert len(train) == 16
    _check_train_samples(train, 4, size=(128, 128))
    val = _build(cfg.val_dataloader, data_root=demo_root)
    assert len(val) == 8
    _check_val_samples(val, 4)


def test_missing_default_data_root_is_clear(tmp_path, monkeypatch):
    """The default relative data_root fails with a hint, not a traceback
    from inside mmengine."""
    monkeypatch.chdir(tmp_path)
    for name, tool in (('voc12aug', 'voc_aug.py'),
                       ('coco14', 'coco14_instances_to_masks.py'),
                       ('demo_shapes', 'make_demo_data.py'), ('camvid_tiles',
                                                              'camvid')):
        cfg = _cfg(name)
        with pytest.raises(FileNotFoundError) as e:
            _build(cfg.train_dataloader)
        assert cfg.data_root in str(e.value) and tool in str(e.value)
