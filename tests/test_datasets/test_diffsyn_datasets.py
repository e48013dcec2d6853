"""ImageNet-S, Cityscapes (mmseg's, from our configs) and DiffSynDataset on
tiny fixtures."""
import os.path as osp

import numpy as np
import pytest
from diffsyn_test_utils import (write_tiny_cityscapes, write_tiny_imagenets,
                                write_tiny_store)

from wsss_mm.datasets import (DiffSynDataset, ImageNetSDataset,
                              decode_imagenets_mask, encode_imagenets_mask)
from wsss_mm.registry import DATASETS

PIPE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadImageNetSAnnotations'),
    dict(type='PackSegInputs')
]


def test_imagenets_mask_codec():
    ids = np.array([[0, 3, 255], [256, 919, 1000]])
    rgb = encode_imagenets_mask(ids)
    assert rgb[1, 2].tolist() == [232, 3, 0]  # 1000 = 232 + 3 * 256
    np.testing.assert_array_equal(decode_imagenets_mask(rgb), ids)


def test_imagenets_dataset(tmp_path):
    root = write_tiny_imagenets(str(tmp_path / 'ImageNetS50'))
    ds = DATASETS.build(
        dict(type='ImageNetSDataset', subset=50, data_root=root,
             pipeline=PIPE))
    assert len(ds) == 2 and len(ds.metainfo['classes']) == 51
    gt = {s['data_samples'].img_path.split('/')[-1]:
          s['data_samples'].gt_sem_seg.data[0].numpy()
          for s in (ds[0], ds[1])}
    a = gt['a.JPEG']
    assert a[0, 0] == 1000 and (a[2:4, 2:4] == 3).all()
    assert set(np.unique(a)) == {0, 3, 1000}
    assert set(np.unique(gt['b.JPEG'])) == {0, 50}
    same = ImageNetSDataset(subset=50, data_root=root, pipeline=[],
                            categories_file='categories.txt')
    assert same.metainfo['classes'] == ds.metainfo['classes']
    ds = ImageNetSDataset(
        subset=50, data_root=root,
        pipeline=[dict(type='LoadImageNetSAnnotations', ignore_index=255)])
    ids = {osp.basename(ds[i]['img_path']): ds[i]['gt_seg_map']
           for i in range(2)}
    assert set(np.unique(ids['a.JPEG'])) == {0, 3, 255}
    with pytest.raises(ValueError, match='300 categories'):
        ImageNetSDataset(subset=300, data_root=root, pipeline=[])
    with pytest.raises(ValueError, match='one of'):
        ImageNetSDataset(subset=10, data_root=root, pipeline=[])
    with pytest.raises(FileNotFoundError, match='LUSSeg'):
        ImageNetSDataset(subset=50, data_root=str(tmp_path / 'x'))


def test_cityscapes_from_our_config(tmp_path, repo_root):
    from mmengine.config import Config
    cfg = Config.fromfile(
        f'{repo_root}/configs/diffsyn/'
        'deeplabv3plus_r50-d8_synthetic-lora_cityscapes-512x1024.py')
    root = write_tiny_cityscapes(str(tmp_path / 'cityscapes'))
    ds_cfg = dict(cfg.val_dataloader.dataset, data_root=root)
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == 2
    gt = ds[0]['data_samples'].gt_sem_seg.data[0].numpy()
    assert set(np.unique(gt)) == {0, 10, 13, 255}


def test_diffsyn_dataset_id_map(tmp_path):
    root = write_tiny_store(str(tmp_path / 'store'), n=2)
    pipe = [dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs')]
    ds = DiffSynDataset(data_root=root, pipeline=pipe)
    gt = ds[1]['data_samples'].gt_sem_seg.data[0].numpy()
    assert set(np.unique(gt)) == {0, 2, 255}
    # a label set without background: 0 -> ignore, ids shift by one
    ds = DiffSynDataset(data_root=root, pipeline=pipe,
                        id_map={0: 255, 1: 0, 2: 1, 3: 2},
                        metainfo=dict(classes=('circle', 'square',
                                               'triangle')))
    gt = ds[1]['data_samples'].gt_sem_seg.data[0].numpy()
    assert set(np.unique(gt)) == {1, 255}
