"""FSR with the real Runner and the real tools: bit-exact resume of the
teacher, the centres and the schedules; tools/train.py, tools/test.py
(--tta, --show-dir) and tools/make_pseudo_labels.py; 2 processes (torchrun,
gloo) ending with identical teachers on both ranks."""
import glob
import json
import os
import os.path as osp
import re
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from PIL import Image
from wsss_test_utils import (HERE, REPO_ROOT, dump_state_config,
                             load_identical_rank_states, run_tool)

from wsss_mm.registry import HOOKS, RUNNERS

CONFIG = 'configs/fsr/fsr_vit-tiny-p8_1xb8-cpu_demo-shapes-128x128.py'


def _small_cfg(work_dir, demo_root, max_iters):
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIG))
    cfg.work_dir = work_dir
    m = cfg.model
    m.backbone.arch = dict(embed_dims=32, num_layers=3, num_heads=2,
                           feedforward_channels=64)
    m.decode_head.channels = 16
    m.projector.update(hidden_channels=32, bottleneck_channels=16,
                       out_channels=24)
    m.par_cfg = dict(dilations=(1, 2), num_iter=2)
    m.seg_start_iter = 0
    m.mask_cfg.random_ratio = 0.5  # iterations 0, 1 random; 2, 3 CAM
    m.fsr_iters = 3  # FSR losses at 0, 1, 2; off and teacher frozen at 3
    m.loss_fsr.warmup_ratio = 1.0  # the temperature warms up throughout
    cfg.custom_hooks = [dict(type='TeacherEMAHook', base_momentum=0.5)]
    cfg.train_pipeline[2].crop_size = 64
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dl = cfg[key]
        dl.num_workers = 0
        dl.persistent_workers = False
        dl.dataset.data_root = demo_root
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.dataset.pipeline = cfg.train_pipeline
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                         val_interval=1000)
    cfg.val_cfg = None
    cfg.val_dataloader = None
    cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=2,
        max_keep_ckpts=5)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.default_hooks.pop('visualization')
    return cfg


@HOOKS.register_module(name='FSRTestStopAt', force=True)
class _StopAt(Hook):
    """Ends training after ``n`` iterations (the interruption)."""

    def __init__(self, n):
        self.n = n

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 >= self.n:
            runner.train_loop.stop_training = True


def _momenta(runner):
    """The teacher momenta the message hub logged (restored on resume)."""
    values = runner.message_hub.get_scalar('train/teacher_momentum').data[0]
    return [float(v) for v in values]


def _fsr_cls_losses(runner):
    """The weighted certain FSR losses the message hub logged."""
    values = runner.message_hub.get_scalar('train/loss_fsr_cls').data[0]
    return [float(v) for v in values]


def test_resume_restores_teacher_centres_and_schedules(demo_root, tmp_path):
    full_dir = str(tmp_path / 'full')
    runner = RUNNERS.build(_small_cfg(full_dir, demo_root, 4))
    runner.train()
    full = {k: v.clone() for k, v in runner.model.state_dict().items()}
    full_momenta = _momenta(runner)
    full_losses = _fsr_cls_losses(runner)

    part_dir = str(tmp_path / 'part')
    cfg = _small_cfg(part_dir, demo_root, 4)
    cfg.custom_hooks = cfg.custom_hooks + [dict(type='FSRTestStopAt', n=2)]
    runner = RUNNERS.build(cfg)
    runner.train()
    assert runner.iter == 2
    ckpt = osp.join(part_dir, 'iter_2.pth')
    assert osp.isfile(ckpt)
    half = {k: v.clone() for k, v in runner.model.state_dict().items()}

    cfg = _small_cfg(part_dir, demo_root, 4)
    cfg.resume = True
    cfg.load_from = ckpt
    runner = RUNNERS.build(cfg)
    runner.train()
    assert runner.iter == 4
    resumed = runner.model.state_dict()

    assert full.keys() == resumed.keys()
    for key in full:
        assert torch.equal(full[key], resumed[key]), key
    # the compared tensors did change over the last two iterations
    for key in ('teacher.module.projector.last_weight',
                'teacher.module.backbone.mask_token',
                'loss_fsr.class_center', 'loss_fsr.patch_center'):
        assert not torch.equal(half[key], full[key]), key
    assert int(full['teacher.steps']) == 5  # 1 + 4 updates
    # the momentum schedule continued from iteration 2: cosine over
    # fsr_iters (3), then 1.0; the FSR losses stop at iteration 3
    assert _momenta(runner) == full_momenta
    assert full_momenta == pytest.approx([0.5, 0.625, 0.875, 1.0])
    assert _fsr_cls_losses(runner) == full_losses
    assert min(full_losses[:3]) > 0 == full_losses[3]


def _write_cfg(path, demo_root):
    """The demo FSR config, tiny, 2 iterations, on ``demo_root``."""
    with open(path, 'w') as f:
        f.write(f"""
_base_ = [{osp.join(REPO_ROOT, CONFIG)!r}]
model = dict(
    backbone=dict(arch=dict(embed_dims=32, num_layers=3, num_heads=2,
                            feedforward_channels=64)),
    decode_head=dict(channels=16),
    projector=dict(hidden_channels=32, bottleneck_channels=16,
                   out_channels=24),
    par_cfg=dict(dilations=(1, 2), num_iter=2),
    seg_start_iter=0)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    dict(type='FSRTwoViews', crop_size=64),
    dict(type='PackMultiViewWSSSInputs'),
]
_dl = dict(num_workers=0, persistent_workers=False,
           dataset=dict(data_root={demo_root!r}))
train_dataloader = dict(_dl, batch_size=2,
                        dataset=dict(data_root={demo_root!r},
                                     pipeline=train_pipeline))
val_dataloader = _dl
test_dataloader = _dl
train_cfg = dict(max_iters=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2))
""")
    return path


def test_two_processes_train_then_test_and_pseudo_labels(demo_root,
                                                         tmp_path):
    """tools/dist_train.sh with 2 processes (tools/train.py under torchrun,
    gloo): both ranks end with identical teachers and centres; then
    tools/test.py (--tta, --show-dir) and tools/make_pseudo_labels.py on
    the checkpoint."""
    tiny = _write_cfg(str(tmp_path / 'fsr_tiny.py'), demo_root)
    dump = str(tmp_path / 'dump')
    os.makedirs(dump)
    cfg = dump_state_config(
        str(tmp_path / 'fsr_ddp.py'), tiny, dump,
        hooks=[dict(type='TeacherEMAHook', base_momentum=0.5)])
    work = str(tmp_path / 'work')
    out = run_tool(
        ['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', work],
        pythonpath=[HERE])
    assert 'world_size=2' in out
    # every weight, the teacher's and the centres included, on both ranks
    r0 = load_identical_rank_states(dump)
    assert any(k.startswith('teacher.module.backbone.') for k in r0)
    # the teacher moved: it is neither its start (steps 1) nor the student
    assert int(r0['teacher.steps']) == 3
    assert not torch.equal(r0['teacher.module.projector.last_weight'],
                           r0['projector.last_weight'])
    assert r0['loss_fsr.class_center'].abs().sum() > 0

    ckpt = osp.join(work, 'iter_2.pth')
    scalars = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    with open(scalars[0]) as f:
        rows = [json.loads(line) for line in f]
    train = [r for r in rows if 'loss' in r]
    assert [r['iter'] for r in train] == [1, 2]
    for r in train:
        assert r['loss_fsr_cls'] > 0 and r['loss_fsr_patch'] > 0
        assert np.isfinite(r['loss'])
    # seg_start_iter=0: the decoder learns from the second iteration on
    assert train[0]['decode.loss_bce'] == 0 < train[1]['decode.loss_bce']
    assert any('mIoU' in r for r in rows)  # validation at iteration 2
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    torch.testing.assert_close(
        state['state_dict']['teacher.module.projector.last_weight'],
        r0['teacher.module.projector.last_weight'])

    show = str(tmp_path / 'show')
    out = run_tool([sys.executable, 'tools/test.py', tiny, ckpt, '--tta',
                    '--show-dir', show, '--work-dir',
                    str(tmp_path / 'test')])
    miou = float(re.search(r'mIoU: ([0-9.]+)', out).group(1))
    # the printed figure is the one the result file records, under the TTA
    # protocol (its value against an independent count: test_test_tool.py)
    result, = glob.glob(osp.join(str(tmp_path / 'test'), '*',
                                 'result_test.json'))
    with open(result) as f:
        result = json.load(f)
    assert result['metrics']['mIoU'] == pytest.approx(miou, abs=0.006)
    assert result['protocol']['tta'] is not None
    assert result['protocol']['prediction_source'] == 'decoder'
    assert osp.getsize(osp.join(show, 'iou_per_class.png')) > 1000

    pseudo = str(tmp_path / 'pseudo')
    run_tool([sys.executable, 'tools/make_pseudo_labels.py', tiny, ckpt,
              '--out', pseudo, '--infer-from', 'classifier', '--workers',
              '0', '--log-interval', '0'])
    with open(osp.join(demo_root, 'image_labels.json')) as f:
        labels = json.load(f)
    names = sorted(os.listdir(osp.join(pseudo, 'pseudo')))
    assert len(names) == 16
    for name in names:
        mask = np.array(Image.open(osp.join(pseudo, 'pseudo', name)))
        allowed = set(labels[name[:-4]]) | {0}
        assert set(np.unique(mask).tolist()) <= allowed, name
    with open(osp.join(pseudo, 'result_train.json')) as f:
        result = json.load(f)
    # mIoU of the written masks against the demo's ground truth, by hand
    inter, union = np.zeros(4), np.zeros(4)
    for name in names:
        pred = np.array(Image.open(osp.join(pseudo, 'pseudo', name)))
        gt = np.array(
            Image.open(osp.join(demo_root, 'SegmentationClass', name)))
        valid = gt != 255
        for c in range(4):
            inter[c] += ((pred == c) & (gt == c) & valid).sum()
            union[c] += (((pred == c) | (gt == c)) & valid).sum()
    expected = float(np.mean(inter[union > 0] / union[union > 0]) * 100)
    assert result['metrics']['mIoU'] == pytest.approx(expected, abs=0.006)
