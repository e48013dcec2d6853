"""Pseudo masks: wsss_mm.apis.generate_pseudo_labels and its command line
tools/make_pseudo_labels.py (on the 3 real VOC images, as a subprocess)."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from wsss_mm.apis import generate_pseudo_labels, inference_model, init_model
from wsss_mm.apis.pseudo_labels import split_pipeline
from wsss_mm.datasets import VOC_PALETTE, read_index_mask
from wsss_mm.datasets.transforms import LoadWSSSImageFromFile
from wsss_mm.registry import MODELS, TRANSFORMS

TOOL = 'tools/make_pseudo_labels.py'
# image-level labels of ../shared/data/voc_samples (see its README)
LABELS = {
    '2011_000003': {5, 15},
    '2011_000006': {9, 15, 18},
    '2011_000025': {6, 7},
}


@TRANSFORMS.register_module()
class _PluginImageLoader(LoadWSSSImageFromFile):
    """A plugin's own loader: must be kept as the image loader."""


def test_split_pipeline(repo_root):
    tta = Config.fromfile(
        osp.join(repo_root, 'configs/_base_/tta/toco_ms_flip.py'))
    load, rest = split_pipeline(list(tta.tta_pipeline), with_gt=True)
    assert [t['type'] for t in load] == [
        'LoadImageFromFile', 'LoadWSSSAnnotations', 'LoadImageLevelLabels'
    ]
    assert load[1]['imdecode_backend'] == 'pillow'
    assert [t['type'] for t in rest] == ['TestTimeAug']
    groups = [[s['type'] for s in g] for g in rest[0]['transforms']]
    assert groups == [['Resize'] * 3, ['RandomFlip'] * 2, ['PackWSSSInputs']]
    tiles = [dict(type='LoadWSSSImageFromFile'), dict(type='CropTile'),
             dict(type='Resize', scale=(8, 8)),
             dict(type='LoadAnnotations'), dict(type='PackWSSSInputs')]
    load, rest = split_pipeline(tiles, with_gt=False)
    assert [t['type'] for t in load] == [
        'LoadWSSSImageFromFile', 'CropTile', 'LoadImageLevelLabels']
    assert [t['type'] for t in rest] == ['Resize', 'PackWSSSInputs']
    plugin = [dict(type='_PluginImageLoader'), dict(type='Resize',
                                                    scale=(8, 8)),
              dict(type='PackWSSSInputs')]
    load, rest = split_pipeline(plugin, with_gt=False)
    assert load[0]['type'] == '_PluginImageLoader'
    assert [t['type'] for t in rest] == ['Resize', 'PackWSSSInputs']
    with pytest.raises(ValueError, match='no image loader'):
        split_pipeline(plugin[1:], with_gt=False)


def _independent_ious(mask_dir, gt_dir, names, num_classes):
    """Per-class IoU (percent, None when absent) counted with numpy."""
    inter = np.zeros(num_classes)
    union = np.zeros(num_classes)
    for name in names:
        pred = np.array(Image.open(osp.join(mask_dir, name + '.png')))
        gt = read_index_mask(osp.join(gt_dir, name + '.png'))
        valid = gt != 255
        for c in range(num_classes):
            p, g = (pred == c) & valid, (gt == c) & valid
            inter[c] += (p & g).sum()
            union[c] += (p | g).sum()
    ious = [None if u == 0 else 100 * i / u for i, u in zip(inter, union)]
    present = [x for x in ious if x is not None]
    return ious, sum(present) / len(present)


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
    metrics = {}
    for key, stem in (('pseudo', 'result_train'),
                      ('pseudo_crf', 'result_train_crf')):
        with open(osp.join(out_dir, stem + '.json')) as f:
            metrics[key] = json.load(f)
    crf = metrics['pseudo_crf']['protocol']['crf']
    assert crf['bi_xy_std'] == 67 and metrics['pseudo']['protocol'][
        'crf'] is None
    classes = list(metrics['pseudo']['metrics']['per_class'])
    for key in ('pseudo', 'pseudo_crf'):
        protocol = metrics[key]['protocol']
        assert protocol['num_images'] == 3 and protocol['split'] == 'train'
        assert protocol['image_labels'] == 'gt' and not protocol['oracle']
        assert protocol['prediction_source'] == 'patch_classifier'
        ious, miou = _independent_ious(
            osp.join(out_dir, key), osp.join(voc_root, 'SegmentationClass'),
            sorted(LABELS), 21)
        got = metrics[key]['metrics']
        assert got['mIoU'] == pytest.approx(miou, abs=0.006)
        for name, iou in zip(classes, ious):
            if iou is None:  # absent from the 3 images and never predicted
                assert got['per_class'][name]['IoU'] is None
            else:
                assert got['per_class'][name]['IoU'] == pytest.approx(
                    iou, abs=0.006)
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
    for key, stem in (('pseudo', 'result_train'),
                      ('pseudo_crf', 'result_train_crf')):
        with open(osp.join(out_dir, stem + '.json')) as f:
            assert json.load(f)['metrics'] == metrics[key]['metrics']


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
    with open(osp.join(single, 'result_train.json')) as f:
        one = json.load(f)
    with open(osp.join(sharded, 'result_train.json')) as f:
        two = json.load(f)
    assert one['metrics'] == two['metrics']


def _demo_checkpoint(tmp_path, repo_root, demo_root):
    cfg = Config.fromfile(osp.join(repo_root, 'configs/demo/wsss_demo_cpu.py'))
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = demo_root
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ckpt = str(tmp_path / 'demo.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {'iter': 7}},
               ckpt)
    return cfg, ckpt


def test_no_image_labels_equal_mmseg_inference(repo_root, demo_root,
                                               tmp_path):
    cfg, ckpt = _demo_checkpoint(tmp_path, repo_root, demo_root)
    out = str(tmp_path / 'none')
    res = generate_pseudo_labels(cfg, ckpt, out, split='val',
                                 image_labels='none', log_interval=0)
    protocol = res['pseudo']['protocol']
    assert protocol['image_labels'] == 'none' and not protocol['oracle']
    assert protocol['prediction_source'] == 'decoder'
    assert protocol['iteration'] == 7 and len(
        protocol['checkpoint_sha256']) == 64
    # unrestricted masks are the model's own argmax (mmseg's inference API)
    model = init_model(cfg, ckpt, device='cpu')
    names = open(osp.join(demo_root, 'ImageSets/Segmentation/val.txt')
                 ).read().split()
    for name in names[:3]:
        pred = inference_model(
            model, osp.join(demo_root, 'JPEGImages', name + '.jpg'))
        mask = np.array(Image.open(osp.join(out, 'pseudo', name + '.png')))
        assert np.array_equal(mask, pred.pred_sem_seg.data[0].numpy())
    _, miou = _independent_ious(
        osp.join(out, 'pseudo'), osp.join(demo_root, 'SegmentationClass'),
        names, 4)
    assert res['pseudo']['metrics']['mIoU'] == pytest.approx(miou, abs=0.006)


def test_val_split_predicted_by_default_gt_is_an_oracle(
        repo_root, demo_root, tmp_path, capsys):
    cfg, ckpt = _demo_checkpoint(tmp_path, repo_root, demo_root)
    # every class predicted present: the restriction keeps them all
    cfg.model.cls_thr = -1.0
    pred = generate_pseudo_labels(cfg, ckpt, str(tmp_path / 'pred'),
                                  split='val', log_interval=0)
    none = generate_pseudo_labels(cfg, ckpt, str(tmp_path / 'none'),
                                  split='val', image_labels='none',
                                  log_interval=0)
    assert pred['pseudo']['protocol']['image_labels'] == 'predicted'
    assert pred['pseudo']['metrics'] == none['pseudo']['metrics']
    oracle = generate_pseudo_labels(cfg, ckpt, str(tmp_path / 'oracle'),
                                    split='val', image_labels='gt',
                                    log_interval=0)
    assert oracle['pseudo']['protocol']['oracle'] is True
    assert 'ORACLE' in capsys.readouterr().out
    names = open(osp.join(demo_root, 'ImageSets/Segmentation/val.txt')
                 ).read().split()
    for name in names:  # restricted to each image's true classes
        gt = read_index_mask(
            osp.join(demo_root, 'SegmentationClass', name + '.png'))
        mask = np.array(Image.open(
            osp.join(tmp_path, 'oracle', 'pseudo', name + '.png')))
        assert set(np.unique(mask)) <= set(np.unique(gt)) | {0}
