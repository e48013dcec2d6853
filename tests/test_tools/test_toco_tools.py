"""ToCo through the real tools: tools/train.py (mmengine Runner, with
--resume) from image labels only, tools/test.py (--tta --show-dir) and
tools/make_pseudo_labels.py from the CAMs; tools/dist_train.sh with 2
processes (torchrun, gloo) ending with identical weights on both ranks."""
import argparse
import glob
import json
import os
import os.path as osp
import re
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config, DictAction
from PIL import Image
from wsss_test_utils import (HERE, REPO_ROOT, dump_state_config,
                             load_identical_rank_states, miou_by_hand,
                             run_tool)

CONFIG = 'configs/toco/toco_vit-tiny-p8_1xb8-cpu_demo-shapes-128x128.py'


def _opts(data_root, iters=3, ckpt_interval=3):
    opts = [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        f'train_cfg.max_iters={iters}', 'train_cfg.val_interval=3',
        'train_dataloader.batch_size=2', 'default_hooks.logger.interval=1',
        f'default_hooks.checkpoint.interval={ckpt_interval}',
        # a smaller model than the demo's: the test checks the plumbing
        'model.backbone.arch.embed_dims=32',
        'model.backbone.arch.num_heads=2',
        'model.backbone.arch.feedforward_channels=64',
        'model.backbone.arch.num_layers=3', 'model.decode_head.channels=16',
        'model.seg_start_iter=1',
        'train_pipeline.2.scale=(64,64)', 'test_pipeline.1.scale=(64,64)',
    ]
    for key in ('train', 'val', 'test'):
        opts += [f'{key}_dataloader.num_workers=0',
                 f'{key}_dataloader.persistent_workers=False']
    return ['--cfg-options'] + opts


def test_toco_train_test_and_pseudo_labels(demo_root, tmp_path):
    """2 iterations, then --resume to 3: the decoder loss counts from the
    iteration whose index exceeds seg_start_iter (1), so it is off in the
    first run and on after the resume only if the message hub's iteration
    was restored."""
    work_dir = str(tmp_path / 'work')
    run_tool([sys.executable, 'tools/train.py', CONFIG, '--work-dir',
              work_dir] + _opts(demo_root, 2))
    run_tool([sys.executable, 'tools/train.py', CONFIG, '--work-dir',
              work_dir, '--resume'] + _opts(demo_root, 3))
    records = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            records += [json.loads(line) for line in f]
    train = [r for r in records if 'loss_cls' in r]
    assert [r['iter'] for r in train] == [1, 2, 3]
    for r in train:
        assert {'loss_cls_aux', 'loss_ptc', 'loss_ctc', 'decode.loss_bce',
                'loss_reg'} <= set(r)
    assert train[0]['decode.loss_bce'] == 0 == train[1]['decode.loss_bce']
    assert train[2]['decode.loss_bce'] > 0 and train[2]['loss_reg'] != 0
    ckpt = osp.join(work_dir, 'iter_3.pth')
    assert osp.isfile(ckpt)

    show_dir = str(tmp_path / 'show')
    out = run_tool([sys.executable, 'tools/test.py', CONFIG, ckpt, '--tta',
                    '--show-dir', show_dir, '--work-dir',
                    str(tmp_path / 'test_tta')] + _opts(demo_root))
    assert re.search(r'mIoU: ([0-9.]+)', out), out[-3000:]
    assert osp.getsize(osp.join(show_dir, 'iou_per_class.png')) > 1000

    out_dir = str(tmp_path / 'pseudo')
    log = run_tool([sys.executable, 'tools/make_pseudo_labels.py', CONFIG,
                    ckpt, '--out', out_dir, '--infer-from', 'classifier',
                    '--log-interval', '0', '--workers', '0'] +
                   _opts(demo_root))
    assert '16/16 (100.0%)' in log
    names = sorted(os.listdir(osp.join(out_dir, 'pseudo')))
    assert len(names) == 16
    for name in names:
        pseudo = np.array(Image.open(osp.join(out_dir, 'pseudo', name)))
        gt = np.array(Image.open(osp.join(demo_root, 'SegmentationClass',
                                          name)))
        assert pseudo.shape == gt.shape
        # CAM masks only use the image's own classes (and background)
        assert set(np.unique(pseudo).tolist()) <= set(
            np.unique(gt).tolist()) | {0}
    with open(osp.join(out_dir, 'result_train.json')) as f:
        result = json.load(f)
    assert result['protocol']['prediction_source'] == 'cam'
    assert result['protocol']['image_labels'] == 'gt'
    assert len(result['metrics']['per_class']) == 4


def _tiny_cfg(data_root, iters):
    """The demo config with :func:`_opts` merged as ``--cfg-options``."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIG))
    cfg.merge_from_dict(parser.parse_args(_opts(data_root,
                                                iters)).cfg_options)
    return cfg


def test_two_processes_identical_ranks_then_test(demo_root, tmp_path):
    """tools/dist_train.sh with 2 processes (tools/train.py under torchrun,
    gloo), 2 iterations: both ranks end with identical weights, CTC's
    momentum projector included, and that projector is the EMA of the
    student's; then tools/test.py's mIoU on the checkpoint equals one
    counted here."""
    dump = str(tmp_path / 'dump')
    os.makedirs(dump)
    cfg = dump_state_config(str(tmp_path / 'toco_ddp.py'),
                            osp.join(REPO_ROOT, CONFIG), dump)
    work = str(tmp_path / 'work')
    out = run_tool(['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir',
                    work] + _opts(demo_root, 2, ckpt_interval=1),
                   pythonpath=[HERE])
    assert 'world_size=2' in out
    r0 = load_identical_rank_states(dump)
    momentum = [k for k in r0 if k.startswith('ctc.momentum_projector.')]
    assert len(momentum) == 7
    # ToCo updates the momentum projector at the start of each forward
    # pass: m <- 0.9 m + 0.1 p. The second pass saw what the first step
    # left (iter_1.pth), so the final m is computed from that checkpoint.
    first = torch.load(osp.join(work, 'iter_1.pth'), map_location='cpu',
                       weights_only=False)['state_dict']
    last = torch.load(osp.join(work, 'iter_2.pth'), map_location='cpu',
                      weights_only=False)['state_dict']
    for key in momentum:
        student = key.replace('momentum_projector', 'projector')
        torch.testing.assert_close(
            r0[key], 0.9 * first[key] + 0.1 * first[student])
        assert torch.equal(last[key], r0[key]), key
    assert not torch.equal(r0['ctc.momentum_projector.mlp.0.weight'],
                           first['ctc.momentum_projector.mlp.0.weight'])
    assert not torch.equal(r0['ctc.momentum_projector.mlp.0.weight'],
                           r0['ctc.projector.mlp.0.weight'])
    for key in r0:  # rank 0's checkpoint is what both ranks hold
        assert torch.equal(last[key], r0[key]), key

    ckpt = osp.join(work, 'iter_2.pth')
    out = run_tool([sys.executable, 'tools/test.py', CONFIG, ckpt,
                    '--work-dir', str(tmp_path / 'test')] +
                   _opts(demo_root, 2))
    miou = float(re.search(r'mIoU: ([0-9.]+)', out).group(1))
    expected = miou_by_hand(_tiny_cfg(demo_root, 2), ckpt, demo_root)
    assert miou == pytest.approx(expected, abs=0.011)
