"""tools/make_pseudo_labels.py on the 3 real VOC images (subprocess)."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import torch
from mmengine.config import Config
from PIL import Image

from wsss_mm.datasets import VOC_PALETTE
from wsss_mm.registry import MODELS

TOOL = 'tools/make_pseudo_labels.py'
# image-level labels of ../shared/data/voc_samples (see its README)
LABELS = {
    '2011_000003': {5, 15},
    '2011_000006': {9, 15, 18},
    '2011_000025': {6, 7},
}


def _tool_module(repo_root):
    spec = importlib.util.spec_from_file_location(
        'make_pseudo_labels', osp.join(repo_root, TOOL))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_split_pipeline(repo_root):
    tool = _tool_module(repo_root)
    tta = Config.fromfile(
        osp.join(repo_root, 'configs/_base_/tta/toco_ms_flip.py'))
    load, rest = tool.split_pipeline(list(tta.tta_pipeline), with_gt=True)
    assert [t['type'] for t in load] == [
        'LoadWSSSImageFromFile', 'LoadWSSSAnnotations', 'LoadImageLevelLabels'
    ]
    assert load[1]['imdecode_backend'] == 'pillow'
    assert [t['type'] for t in rest] == ['TestTimeAug']
    groups = [[s['type'] for s in g] for g in rest[0]['transforms']]
    assert groups == [['Resize'] * 3, ['RandomFlip'] * 2, ['PackWSSSInputs']]
    tiles = [dict(type='LoadWSSSImageFromFile'), dict(type='CropTile'),
             dict(type='Resize', scale=(8, 8)),
             dict(type='LoadAnnotations'), dict(type='PackWSSSInputs')]
    load, rest = tool.split_pipeline(tiles, with_gt=False)
    assert [t['type'] for t in load] == [
        'LoadWSSSImageFromFile', 'CropTile', 'LoadImageLevelLabels']
    assert [t['type'] for t in rest] == ['Resize', 'PackWSSSInputs']


CONFIG = """
_base_ = [{demo!r}]
num_classes = 21
model = dict(cls_head=dict(num_classes=num_classes),
             decode_head=dict(num_classes=num_classes))
voc = dict(
    type='VOCWSSSDataset', data_root={root!r},
    ann_file='ImageSets/Segmentation/val.txt',
    data_prefix=dict(img_path='JPEGImages',
                     seg_map_path='SegmentationClass'),
    label_file=None)
train_dataloader = dict(dataset=dict(voc, _delete_=True, pipeline=[]))
test_dataloader = dict(dataset=dict(voc, _delete_=True, test_mode=True,
                                    pipeline={{{{_base_.test_pipeline}}}}))
val_dataloader = test_dataloader
"""


def _run(args, repo_root, cache):
    env = dict(os.environ, WSSS_MM_CACHE=cache)
    proc = subprocess.run([sys.executable, TOOL] + args, cwd=repo_root,
                          env=env, capture_output=True, text=True,
                          timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    return out


def test_make_pseudo_labels_voc_samples(shared_data, repo_root, tmp_path):
    voc_root = shared_data('voc_samples', 'VOC2012')
    cfg_path = str(tmp_path / 'apc_tiny_voc.py')
    with open(cfg_path, 'w') as f:
        f.write(CONFIG.format(
            demo=osp.join(repo_root, 'configs/demo/wsss_demo_cpu.py'),
            root=voc_root))
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(cfg_path).model)
    ckpt = str(tmp_path / 'tiny.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)

    out_dir = str(tmp_path / 'out')
    show_dir = str(tmp_path / 'show')
    args = [cfg_path, ckpt, '--out', out_dir, '--crf', '--workers', '2',
            '--infer-from', 'classifier', '--log-interval', '0']
    log = _run(args + ['--show-dir', show_dir], repo_root,
               str(tmp_path / 'cache'))
    assert '3/3 (100.0%), skipped 0' in log

    for sub in ('pseudo', 'pseudo_crf'):
        names = sorted(os.listdir(osp.join(out_dir, sub)))
        assert names == [n + '.png' for n in sorted(LABELS)]
        for name, labels in LABELS.items():
            img = Image.open(osp.join(out_dir, sub, name + '.png'))
            assert img.mode == 'P'
            pal = np.array(img.getpalette()[:63]).reshape(21, 3)
            assert pal.tolist() == VOC_PALETTE
            values = set(np.unique(np.array(img)).tolist())
            assert values <= labels | {0}, (sub, name, values)
            assert img.size == Image.open(
                osp.join(voc_root, 'JPEGImages', name + '.jpg')).size
    with open(osp.join(out_dir, 'metrics_train.json')) as f:
        metrics = json.load(f)
    assert metrics['num_images'] == 3 and metrics['crf']['bi_xy_std'] == 67
    for key in ('pseudo', 'pseudo_crf'):
        assert 0 <= metrics[key]['mIoU'] <= 100
        assert len(metrics[key]['per_class']) == 21
        # classes absent from the 3 images and never predicted
        assert metrics[key]['per_class']['aeroplane']['IoU'] is None
    for name in ('iou_per_class.png', 'confusion_pseudo.png',
                 'confusion_pseudo_crf.png', 'panels/2011_000003.png'):
        assert osp.getsize(osp.join(show_dir, name)) > 10_000

    # resume: the done images are skipped, a missing CRF mask is redone
    kept = osp.join(out_dir, 'pseudo', '2011_000003.png')
    mtime = os.stat(kept).st_mtime_ns
    os.remove(osp.join(out_dir, 'pseudo_crf', '2011_000025.png'))
    log = _run(args, repo_root, str(tmp_path / 'cache'))
    assert '3/3 (100.0%), skipped 2' in log
    assert os.stat(kept).st_mtime_ns == mtime
    assert osp.isfile(osp.join(out_dir, 'pseudo_crf', '2011_000025.png'))
    with open(osp.join(out_dir, 'metrics_train.json')) as f:
        again = json.load(f)
    assert again['pseudo'] == metrics['pseudo']
    assert again['pseudo_crf'] == metrics['pseudo_crf']


def test_sharded_over_two_ranks_matches_one_process(shared_data, repo_root,
                                                     tmp_path):
    """torchrun with 2 ranks (gloo on CPU): each rank writes its share and
    the all-reduced metrics equal the single-process run."""
    from wsss_test_utils import free_port
    voc_root = shared_data('voc_samples', 'VOC2012')
    cfg_path = str(tmp_path / 'apc_tiny_voc.py')
    with open(cfg_path, 'w') as f:
        f.write(CONFIG.format(
            demo=osp.join(repo_root, 'configs/demo/wsss_demo_cpu.py'),
            root=voc_root))
    torch.manual_seed(1)
    model = MODELS.build(Config.fromfile(cfg_path).model)
    ckpt = str(tmp_path / 'tiny.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    cache = str(tmp_path / 'cache')
    args = [cfg_path, ckpt, '--infer-from', 'classifier',
            '--log-interval', '0', '--workers', '0']

    single = str(tmp_path / 'single')
    _run(args + ['--out', single], repo_root, cache)
    sharded = str(tmp_path / 'sharded')
    env = dict(os.environ, WSSS_MM_CACHE=cache)
    proc = subprocess.run([
        sys.executable, '-m', 'torch.distributed.run',
        '--nproc_per_node=2', f'--master_port={free_port()}', TOOL
    ] + args + ['--out', sharded, '--launcher', 'pytorch'],
                          cwd=repo_root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert sorted(os.listdir(osp.join(sharded, 'pseudo'))) == \
        [n + '.png' for n in sorted(LABELS)]
    for name in LABELS:
        a = np.array(Image.open(osp.join(single, 'pseudo', name + '.png')))
        b = np.array(Image.open(osp.join(sharded, 'pseudo', name + '.png')))
        assert np.array_equal(a, b)
    with open(osp.join(single, 'metrics_train.json')) as f:
        one = json.load(f)
    with open(osp.join(sharded, 'metrics_train.json')) as f:
        two = json.load(f)
    assert one['pseudo'] == two['pseudo']
