"""SyntheticWSSSDataset: manifest reading, verification, mixing."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from generation_test_utils import FakeProducer, fake_items

from wsss_mm.datasets import SyntheticWSSSDataset
from wsss_mm.generation import GenerationStore, run_generation
from wsss_mm.registry import DATASETS

TRAIN_PIPELINE = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    dict(type='PackWSSSInputs'),
]


@pytest.fixture
def store_root(tmp_path):
    root = str(tmp_path / 'gen')
    # labels [1 + i % 3] for sources 0..3: 1, 2, 3, 1
    run_generation(fake_items(4, 2), FakeProducer(),
                   GenerationStore(root), log_interval=60.)
    return root


def _build(root, **kw):
    cfg = dict(type='SyntheticWSSSDataset', data_root=root,
               metainfo_from='DemoShapesDataset', pipeline=TRAIN_PIPELINE)
    cfg.update(kw)
    return DATASETS.build(cfg)


def _names(ds):
    return [ds.get_data_info(i)['img_name'] for i in range(len(ds))]


def test_reads_entries_with_labels_and_masks(store_root):
    ds = _build(store_root)
    assert len(ds) == 8 and ds.skipped == {}
    info = ds.get_data_info(2)
    assert info['img_name'] == 'src001-0' and info['img_labels'] == [2]
    assert info['num_classes'] == 4 and info['with_background'] is True
    assert info['source_id'] == 'src001'
    assert info['img_path'] == osp.join(store_root, 'images', 'src001-0.png')
    assert info['seg_map_path'] == osp.join(store_root, 'masks',
                                            'src001-0.png')
    sample = ds[2]
    assert sample['inputs'].shape == (3, 8, 8)
    labels = sample['data_samples'].gt_image_labels
    assert labels.tolist() == [1., 0., 1., 0.]  # background always on
    assert 'seg_map_path' not in _build(store_root, with_masks=False
                                        ).get_data_info(0)


def test_corrupt_missing_and_bad_entries_are_skipped_and_counted(
        store_root):
    os.remove(osp.join(store_root, 'images', 'src000-0.png'))
    with open(osp.join(store_root, 'images', 'src000-1.png'), 'wb') as f:
        f.write(b'garbage')
    with open(osp.join(store_root, 'manifest.jsonl')) as f:
        lines = f.readlines()
    bad = json.loads(lines[2])
    bad['img_labels'] = [7]  # out of range for 4 classes
    lines[2] = json.dumps(bad) + '\n'
    with open(osp.join(store_root, 'manifest.jsonl'), 'w') as f:
        f.writelines(lines)
    os.remove(osp.join(store_root, 'manifest.rank0.jsonl'))
    ds = _build(store_root)
    assert ds.skipped == dict(missing_file=1, corrupt_file=1, bad_labels=1)
    assert len(ds) == 5
    assert _names(ds) == [it.id for it in fake_items(4, 2)][3:]
    # presence-only verification accepts the corrupt file
    assert len(_build(store_root, verify='exists')) == 6


def test_shards_without_merged_manifest_and_mask_requirements(
        store_root, tmp_path):
    os.remove(osp.join(store_root, 'manifest.jsonl'))
    ds = _build(store_root)
    assert _names(ds) == [it.id for it in fake_items(4, 2)]
    no_masks = str(tmp_path / 'nomask')
    run_generation(fake_items(1, 2), FakeProducer(with_mask=False),
                   GenerationStore(no_masks), log_interval=60.)
    assert len(_build(no_masks)) == 2  # 'auto': images only
    with pytest.raises(ValueError, match="no usable entry.*'no_mask': 2"):
        _build(no_masks, with_masks=True)
    with pytest.raises(FileNotFoundError, match='generate_iaa'):
        _build(str(tmp_path))  # a folder without any manifest
    with pytest.raises(ValueError, match='class list'):
        SyntheticWSSSDataset(data_root=store_root)


def test_concat_with_the_real_set(store_root, demo_root):
    real = dict(type='DemoShapesDataset', data_root=demo_root,
                pipeline=TRAIN_PIPELINE)
    mixed = DATASETS.build(
        dict(type='ConcatDataset',
             datasets=[real, dict(type='SyntheticWSSSDataset',
                                  data_root=store_root,
                                  metainfo_from='DemoShapesDataset',
                                  pipeline=TRAIN_PIPELINE)]))
    n_real = len(mixed.datasets[0])
    assert len(mixed) == n_real + 8
    synth = mixed[n_real + 7]
    assert synth['data_samples'].img_path.endswith('src003-1.png')
    assert synth['data_samples'].gt_image_labels.tolist() == [1, 1, 0, 0]
    first = mixed[0]['data_samples']
    assert 'demo_shapes' in first.img_path
    assert np.isclose(first.gt_image_labels.sum().item(),
                      1 + len(first.img_labels))  # + background
