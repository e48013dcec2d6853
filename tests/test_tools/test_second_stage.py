"""Second-stage DeepLabV3+ configs: build, and train on pseudo masks."""
import glob
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from wsss_mm.datasets import generate_demo_dataset, read_index_mask
from wsss_mm.registry import MODELS, RUNNERS

CFG_DIR = osp.join(osp.dirname(__file__), '..', '..', 'configs',
                   'second_stage')


def test_voc_config_builds_without_downloads():
    cfg = Config.fromfile(
        osp.join(CFG_DIR, 'deeplabv3plus_r50-d8_voc_pseudo.py'))
    init = cfg.model.backbone.init_cfg
    assert init.type == 'Pretrained'
    assert '://' not in init.checkpoint  # a local path, never a URL
    assert cfg.model.get('pretrained') is None
    ds = cfg.train_dataloader.dataset
    assert ds.data_prefix.seg_map_path.startswith('PseudoLabels/')
    assert ds.pipeline[1]['type'] == 'LoadWSSSAnnotations'
    assert cfg.val_dataloader.dataset.data_prefix.seg_map_path == \
        'SegmentationClass'
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'EncoderDecoder'
    assert model.decode_head.num_classes == 21
    assert type(model.decode_head).__name__ == 'DepthwiseSeparableASPPHead'


def _write_pseudo_masks(root, out_dir):
    """Pseudo masks = ground truth shifted by 3 px, every 8th row ignored
    (so that any random crop holds ignored pixels)."""
    os.makedirs(out_dir)
    names = open(osp.join(root, 'ImageSets/Segmentation/train.txt')).read()
    for name in names.split():
        gt = read_index_mask(osp.join(root, 'SegmentationClass',
                                      name + '.png'))
        pseudo = np.roll(gt, 3, axis=1)
        pseudo[::8] = 255
        img = Image.fromarray(pseudo.astype(np.uint8))
        img.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0] +
                       [0] * (768 - 12))
        img.save(osp.join(out_dir, name + '.png'))


def test_tiny_second_stage_trains_on_pseudo_masks(tmp_path):
    root = str(tmp_path / 'demo')
    generate_demo_dataset(root, num_train=4, num_val=2, size=64, seed=1)
    pseudo_dir = str(tmp_path / 'pseudo_crf')  # absolute path works too
    _write_pseudo_masks(root, pseudo_dir)

    cfg = Config.fromfile(
        osp.join(CFG_DIR, 'deeplabv3plus_r18-d8_tiny_demo.py'))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.dataset.data_root = root
    cfg.train_dataloader.dataset.data_prefix.seg_map_path = pseudo_dir
    cfg.val_dataloader.dataset.data_root = root
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg.max_iters = 2
    cfg.train_cfg.val_interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 2
    cfg.param_scheduler[0].end = 2
    runner = RUNNERS.build(cfg)
    info = runner.train_dataloader.dataset.get_data_info(0)
    assert info['seg_map_path'].startswith(pseudo_dir)
    # training samples carry the pseudo masks as gt_sem_seg (the dataset,
    # not the loader: peeking would close the infinite sampler)
    gt = runner.train_dataloader.dataset[0]['data_samples'].gt_sem_seg.data
    # RandomResize (0.75-1.5 of 64 px) then RandomCrop to 64 px.
    h, w = gt.shape[-2:]
    assert 48 <= h <= 64 and 48 <= w <= 64 and (gt == 255).any()

    before = [p.detach().clone() for p in runner.model.parameters()]
    runner.train()
    after = list(runner.model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
    assert runner.iter == 2
    assert glob.glob(osp.join(cfg.work_dir, 'iter_2.pth'))
    hub = runner.message_hub
    assert np.isfinite(hub.get_scalar('train/loss').current())
    # val mIoU recomputed by hand from the model's predictions
    from mmengine.dataset import pseudo_collate
    val = runner.val_dataloader.dataset
    inter, union = np.zeros(4), np.zeros(4)
    runner.model.eval()
    with torch.no_grad():
        for i in range(len(val)):
            pred = runner.model.test_step(pseudo_collate(
                [val[i]]))[0].pred_sem_seg.data[0].numpy()
            gt = read_index_mask(val.get_data_info(i)['seg_map_path'])
            valid = gt != 255
            for c in range(4):
                inter[c] += ((pred == c) & (gt == c) & valid).sum()
                union[c] += (((pred == c) | (gt == c)) & valid).sum()
    expected = round(float(np.mean(inter[union > 0] / union[union > 0])) *
                     100, 2)
    assert hub.get_scalar('val/mIoU').current() == pytest.approx(
        expected, abs=0.011)


def test_second_stage_configs_inherit_mmseg_bases():
    import wsss_mm.utils.compat  # noqa: F401  (mmseg:: without pkg_resources)
    for name in ('deeplabv3plus_r50-d8_voc_pseudo.py',
                 'deeplabv3plus_r18-d8_tiny_demo.py'):
        text = open(osp.join(CFG_DIR, name)).read()
        assert "'mmseg::_base_/models/deeplabv3plus_r50-d8.py'" in text
        assert 'DepthwiseSeparableASPPHead' not in text  # not copied
    voc = Config.fromfile(
        osp.join(CFG_DIR, 'deeplabv3plus_r50-d8_voc_pseudo.py'))
    # from mmseg's bases
    assert voc.model.decode_head.dilations == (1, 12, 24, 36)
    assert voc.model.backbone.norm_cfg.type == 'SyncBN'
    assert voc.train_cfg.max_iters == 40000
    assert voc.train_dataloader.dataset.pipeline[-2].type == \
        'PhotoMetricDistortion'
    # ours
    assert voc.model.decode_head.num_classes == 21
    assert voc.model.auxiliary_head.num_classes == 21
    assert voc.test_evaluator == dict(_scope_='wsss_mm',
                                      type='PseudoLabelMetric')
    tiny = Config.fromfile(
        osp.join(CFG_DIR, 'deeplabv3plus_r18-d8_tiny_demo.py'))
    assert tiny.model.backbone.depth == 18
    assert tiny.model.backbone.norm_cfg.type == 'BN'
    assert tiny.model.auxiliary_head is None
    # built in our scope (mmseg's parts stay reachable), not mmseg's
    assert voc.model._scope_ == tiny.model._scope_ == 'wsss_mm'
    model = MODELS.build(tiny.model)
    assert model.decode_head.num_classes == 4
    assert model.backbone.stem[0].out_channels == 8  # stem_channels // 2
