"""2-process CPU training through tools/dist_train.sh, resume, and test.

The real tools, the real mmengine Runner and torchrun with 2 processes
(gloo): a checkpoint is written, ``--resume`` continues at the right
iteration, and ``tools/test.py`` evaluates the checkpoint.
"""
import glob
import json
import os
import os.path as osp
import re
import sys

from mmengine.config import Config
from wsss_test_utils import REPO_ROOT, miou_by_hand, run_tool

CONFIG = 'configs/demo/wsss_demo_cpu.py'


def _cfg_options(data_root: str, max_iters: int) -> list:
    return [
        '--cfg-options',
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.checkpoint.max_keep_ckpts=5',
    ]


def _train_scalars(work_dir):
    records = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            records += [json.loads(line) for line in f]
    return [r for r in records if 'loss' in r]


def test_dist_train_resume_and_test(demo_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    out = run_tool(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir',
                    work_dir] + _cfg_options(demo_root, 4), timeout=900)
    assert 'world_size=2' in out
    assert 'backend=gloo' in out
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    assert osp.isfile(osp.join(work_dir, 'iter_4.pth'))
    # Own checkpoints load weights-only (torch>=2.6 default), no sidecar.
    assert not osp.exists(osp.join(work_dir, 'iter_4.pth.wsss_mm.json'))
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ
    first = _train_scalars(work_dir)
    assert [r['iter'] for r in first] == [1, 2, 3, 4]

    out = run_tool(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir',
                    work_dir, '--resume'] + _cfg_options(demo_root, 6),
                   timeout=900)
    assert 'resumed epoch: 0, iter: 4' in out
    assert 'world_size=2' in out
    assert osp.isfile(osp.join(work_dir, 'iter_6.pth'))
    iters = [r['iter'] for r in _train_scalars(work_dir)]
    assert iters[-2:] == [5, 6] and 1 not in iters[len(first):]

    out = run_tool([
        sys.executable, 'tools/test.py', CONFIG,
        osp.join(work_dir, 'iter_6.pth'), '--work-dir',
        str(tmp_path / 'test')
    ] + _cfg_options(demo_root, 6), timeout=900)
    match = re.search(r'mIoU: ([0-9.]+)', out)
    assert match, out[-3000:]
    expected = miou_by_hand(Config.fromfile(osp.join(REPO_ROOT, CONFIG)),
                            osp.join(work_dir, 'iter_6.pth'), demo_root)
    assert abs(float(match.group(1)) - expected) < 0.011, (match.group(1),
                                                           expected)

    # --tta (2 scales x flip) and --show-dir reports on the same checkpoint.
    show_dir = str(tmp_path / 'show')
    out = run_tool([
        sys.executable, 'tools/test.py', CONFIG,
        osp.join(work_dir, 'iter_6.pth'), '--tta', '--show-dir', show_dir,
        '--work-dir', str(tmp_path / 'test_tta')
    ] + _cfg_options(demo_root, 6), timeout=900)
    assert re.search(r'mIoU: ([0-9.]+)', out), out[-3000:]
    for name in ('iou_per_class.png', 'confusion_matrix.png'):
        assert osp.getsize(osp.join(show_dir, name)) > 1000
    assert glob.glob(osp.join(show_dir, 'panels', '*.png'))


# The GPU config as written, made CPU-sized by --cfg-options only.
TINY_APC_OPTIONS = [
    'model.backbone.arch=deit-tiny', 'model.backbone.init_cfg=None',
    'model.neck.in_channels=192', 'model.neck.hidden_channels=48',
    'model.cls_head.in_channels=192',
    'model.decode_head.in_channels=[192,192,192,192]',
    'model.decode_head.channels=32',
    'train_pipeline.2.scale=(64,64)', 'test_pipeline.1.scale=(64,64)',
    'train_dataloader.dataset.ann_file=ImageSets/Segmentation/train.txt',
    'val_dataloader.dataset.ann_file=ImageSets/Segmentation/val.txt',
    'train_dataloader.dataset.data_prefix.seg_map_path=SegmentationClass',
    'val_dataloader.dataset.data_prefix.seg_map_path=SegmentationClass',
    'default_hooks.checkpoint.save_best=None',
]


def test_apc_voc_config_trains_with_2_processes_tiny(demo_root, tmp_path):
    work_dir = str(tmp_path / 'apc')
    opts = _cfg_options(demo_root, 2)
    out = run_tool(['bash', 'tools/dist_train.sh',
                    'configs/apc/apc_vitb_voc.py', '2', '--work-dir',
                    work_dir] + opts + TINY_APC_OPTIONS, timeout=900)
    assert 'world_size=2' in out
    losses = _train_scalars(work_dir)
    assert [r['iter'] for r in losses] == [1, 2]
    assert all('loss_pcl' in r and 'decode.loss_ce' in r for r in losses)
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
