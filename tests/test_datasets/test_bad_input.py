"""Bad input stops with one clear message naming the file."""
import json
import logging
import os.path as osp
import subprocess
import sys
import warnings

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from wsss_test_utils import write_tiny_voc

from wsss_mm.datasets import CamVidTilesDataset, VOCWSSSDataset
from wsss_mm.datasets.check import check_dataset, format_report
from wsss_mm.datasets.transforms import AnnotationError
from wsss_mm.registry import DATASETS
from wsss_mm.utils.cli import load_config
from wsss_mm.utils.config_check import check_top_level_keys, near_miss
from wsss_mm.utils.errors import WSSSInputError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_DATA_CFG = osp.join(REPO, 'configs', '_base_', 'datasets',
                         'demo_shapes.py')


def _demo_layout(root, masks, labels):
    """A demo-shapes folder (VOC layout) with a given label file."""
    write_tiny_voc(root, masks, list_name='val.txt')
    write_tiny_voc(root, masks, list_name='train.txt')
    with open(osp.join(root, 'image_labels.json'), 'w') as f:
        json.dump(labels, f)
    return str(root)


def test_val_mask_with_id_99_stops_naming_file(tmp_path):
    mask = np.zeros((8, 8), np.uint8)
    mask[2:5, 2:5] = 99  # not a class of the 4-class demo dataset
    root = _demo_layout(tmp_path / 'd', {'a': mask}, {'a': [1]})
    ds_cfg = Config.fromfile(DEMO_DATA_CFG).val_dataloader.dataset
    ds_cfg.data_root = root
    dataset = DATASETS.build(ds_cfg)  # the base config's val pipeline
    with pytest.raises(AnnotationError) as err:
        dataset[0]
    msg = str(err.value)
    assert osp.join(root, 'SegmentationClass', 'a.png') in msg
    assert '[99]' in msg and '\n' not in msg


def test_annotation_loader_passes_raw_images_through():
    """mmseg's inference_model keeps LoadWSSSAnnotations in the pipeline
    (it drops only transforms named LoadAnnotations): an image without a
    mask passes unchanged, a listed mask is still checked."""
    from wsss_mm.datasets.transforms import LoadWSSSAnnotations
    load = LoadWSSSAnnotations(num_classes=4)
    img = np.zeros((4, 4, 3), np.uint8)
    out = load(dict(img=img, img_shape=(4, 4), ori_shape=(4, 4)))
    assert 'gt_seg_map' not in out and out['img'] is img
    with pytest.raises(FileNotFoundError, match='nope.png'):
        load(dict(img=img, seg_map_path='nope.png', seg_fields=[],
                  reduce_zero_label=False))


def _voc(root, **kwargs):
    return VOCWSSSDataset(
        data_root=root,
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        **kwargs)


def _names(ds):
    return [ds.get_data_info(i)['img_name'] for i in range(len(ds))]


def test_empty_labels_policy(tmp_path):
    root = write_tiny_voc(tmp_path / 'voc', {
        'a': np.full((4, 4), 3),
        'bg_only': [[0, 0], [255, 0]],
    })
    # VOC (and COCO): forbidden in training, the error names the image
    with pytest.raises(WSSSInputError, match=r"1 of 2 images.*'bg_only'"):
        _voc(root)
    assert _names(_voc(root, test_mode=True)) == ['a', 'bg_only']
    # explicit drop: a counted, logged drop (the CamVid tiles policy)
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        assert _names(_voc(root, drop_empty=True)) == ['a']
    finally:
        logger.removeHandler(handler)
    assert any('dropped 1 of 2 images' in r.getMessage() for r in records)
    assert CamVidTilesDataset.empty_labels == 'drop'
    assert VOCWSSSDataset.empty_labels == 'error'


def test_all_empty_labels_clear_message(tmp_path):
    root = write_tiny_voc(tmp_path / 'voc', {
        'x': np.zeros((4, 4)),
        'y': np.zeros((4, 4)),
    })
    for kwargs in (dict(), dict(drop_empty=True)):
        with pytest.raises(WSSSInputError,
                           match=r'all 2 images of .*train\.txt have empty'):
            _voc(root, **kwargs)


def test_check_dataset_finds_corrupt_image_and_bad_mask(tmp_path):
    bad = np.zeros((8, 8), np.uint8)
    bad[0, 0] = 99
    root = _demo_layout(tmp_path / 'd', {
        'a': np.ones((8, 8)),
        'b': bad,
        'c': np.full((8, 8), 2)
    }, {'a': [1], 'b': [1], 'c': [2]})
    with open(osp.join(root, 'JPEGImages', 'c.jpg'), 'wb') as f:
        f.write(b'\xff\xd8 not a jpeg')
    cfg = Config.fromfile(DEMO_DATA_CFG)
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = root
    report = check_dataset(cfg, progress=False)
    assert set(report) == {'train', 'val'}  # test is the val dataset
    train = report['train']
    assert (train['samples'], train['images'], train['masks']) == (3, 3, 3)
    problems = sorted(train['problems'])
    assert len(problems) == 2
    assert problems[0].startswith(osp.join(root, 'JPEGImages', 'c.jpg'))
    assert 'cannot decode' in problems[0]
    assert problems[1].startswith(osp.join(root, 'SegmentationClass',
                                           'b.png'))
    assert '[99]' in problems[1]
    text = format_report(report)
    assert 'train: 3 samples, 3 images, 3 masks, 2 problem(s)' in text
    assert text.endswith('4 problem(s) found')


def test_check_dataset_tool_exit_code(tmp_path):
    root = _demo_layout(tmp_path / 'd', {'a': np.ones((8, 8))}, {'a': [1]})
    opts = ['--cfg-options'] + [
        f'{s}_dataloader.dataset.data_root={root}'
        for s in ('train', 'val', 'test')
    ]
    cmd = [sys.executable, 'tools/misc/check_dataset.py',
           'configs/demo/wsss_demo_cpu.py'] + opts
    with open(osp.join(root, 'JPEGImages', 'a.jpg'), 'wb') as f:
        f.write(b'garbage')
    bad = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 1
    assert 'a.jpg: cannot decode image' in bad.stdout
    # a.jpg is in the train and in the val list
    assert bad.stdout.strip().splitlines()[-1] == '2 problem(s) found'


def test_misspelled_config_key_warns_variables_silent(tmp_path):
    assert near_miss('default_hook') == 'default_hooks'
    assert near_miss('optim_wraper') == 'optim_wrapper'
    for var in ('num_classes', 'crop_size', 'img_size', 'norm_cfg',
                'data_root', 'embed_dims', 'max_iters', 'metainfo'):
        assert near_miss(var) is None, var
    path = tmp_path / 'cfg.py'
    path.write_text("_base_ = ['%s']\ndefault_hook = dict()\n"
                    'num_classes = 4\n' % DEMO_DATA_CFG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        load_config(str(path))
    msgs = [str(w.message) for w in caught if 'config key' in str(w.message)]
    assert msgs == ["config key 'default_hook' is not read by the Runner; "
                    "did you mean 'default_hooks'? (misspelled keys are "
                    'ignored)']
    assert check_top_level_keys(Config.fromfile(
        osp.join(REPO, 'configs', 'demo', 'wsss_demo_cpu.py')),
                                warn=False) == []


def test_train_tool_names_corrupt_image_in_one_line(tmp_path):
    from wsss_mm.datasets import generate_demo_dataset
    data = str(tmp_path / 'data')
    generate_demo_dataset(data, num_train=4, num_val=1, size=32, seed=1)
    corrupt = osp.join(data, 'JPEGImages', 'train_0002.jpg')
    with open(corrupt, 'wb') as f:
        f.write(b'\xff\xd8\xff\xe0 truncated')
    opts = [f'{s}_dataloader.dataset.data_root={data}'
            for s in ('train', 'val', 'test')]
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', 'configs/demo/wsss_demo_cpu.py',
         '--work-dir', str(tmp_path / 'w'), '--cfg-options'] + opts + [
             'train_dataloader.batch_size=4', 'train_cfg.max_iters=1',
             'train_dataloader.num_workers=1'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: ') and corrupt in last, proc.stderr[-3000:]
    assert 'cannot read image' in last
    assert 'Traceback' not in proc.stderr
