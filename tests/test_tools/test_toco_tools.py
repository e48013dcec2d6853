"""ToCo through the real tools: tools/train.py (mmengine Runner, with
--resume) from image labels only, tools/test.py (--tta --show-dir) and
tools/make_pseudo_labels.py from the CAMs."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
from PIL import Image

CONFIG = 'configs/toco/toco_vit-tiny-p8_1xb8-cpu_demo-shapes-128x128.py'


def _opts(data_root, iters=3):
    opts = [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        f'train_cfg.max_iters={iters}', 'train_cfg.val_interval=3',
        'train_dataloader.batch_size=2', 'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=3',
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


def _run(cmd, repo_root, tmp_path):
    env = dict(os.environ, WSSS_MM_CACHE=str(tmp_path / 'cache'))
    proc = subprocess.run(cmd, cwd=repo_root, env=env, capture_output=True,
                          text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    return out


def test_toco_train_test_and_pseudo_labels(demo_root, repo_root, tmp_path):
    """2 iterations, then --resume to 3: the decoder loss counts from the
    iteration whose index exceeds seg_start_iter (1), so it is off in the
    first run and on after the resume only if the message hub's iteration
    was restored."""
    work_dir = str(tmp_path / 'work')
    _run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', work_dir]
         + _opts(demo_root, 2), repo_root, tmp_path)
    _run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', work_dir,
          '--resume'] + _opts(demo_root, 3), repo_root, tmp_path)
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
    out = _run([sys.executable, 'tools/test.py', CONFIG, ckpt, '--tta',
                '--show-dir', show_dir, '--work-dir',
                str(tmp_path / 'test_tta')] + _opts(demo_root), repo_root,
               tmp_path)
    assert re.search(r'mIoU: ([0-9.]+)', out), out[-3000:]
    assert osp.getsize(osp.join(show_dir, 'iou_per_class.png')) > 1000

    out_dir = str(tmp_path / 'pseudo')
    log = _run([sys.executable, 'tools/make_pseudo_labels.py', CONFIG, ckpt,
                '--out', out_dir, '--infer-from', 'classifier',
                '--log-interval', '0', '--workers', '0'] + _opts(demo_root),
               repo_root, tmp_path)
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
    with open(osp.join(out_dir, 'metrics_train.json')) as f:
        metrics = json.load(f)
    assert metrics['infer_from'] == 'classifier'
    assert len(metrics['pseudo']['per_class']) == 4
