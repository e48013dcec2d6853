"""tools/test.py: result files with their protocol; --crf with --tta."""
import glob
import hashlib
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
from wsss_test_utils import REPO_ROOT

from wsss_mm.apis import inference_model, init_model
from wsss_mm.datasets import read_index_mask
from wsss_mm.models.utils.crf import CRF_PRESETS
from wsss_mm.registry import MODELS

DEMO_CFG = osp.join(REPO_ROOT, 'configs', 'demo', 'wsss_demo_cpu.py')


def _options(root):
    opts = []
    for split in ('val', 'test'):
        opts += [f'{split}_dataloader.dataset.data_root={root}',
                 f'{split}_dataloader.num_workers=0']
    return opts


def _run_test_tool(args):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, 'tools/test.py'] + args,
                          cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


def _count_miou(pred_for, root, names):
    inter, union = np.zeros(4), np.zeros(4)
    for name in names:
        pred = pred_for(name)
        gt = read_index_mask(osp.join(root, 'SegmentationClass',
                                      name + '.png'))
        for c in range(4):
            p, g = (pred == c) & (gt != 255), (gt == c) & (gt != 255)
            inter[c] += (p & g).sum()
            union[c] += (p | g).sum()
    keep = union > 0
    return float(np.mean(inter[keep] / union[keep]) * 100)


@pytest.fixture(scope='module')
def demo_ckpt(tmp_path_factory):
    cfg = Config.fromfile(DEMO_CFG)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'demo.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {'iter': 5}},
               path)
    return path


def test_test_tool_writes_result_with_protocol(demo_root, demo_ckpt,
                                               tmp_path):
    work = str(tmp_path / 'work')
    log = _run_test_tool([DEMO_CFG, demo_ckpt, '--work-dir', work,
                          '--cfg-options'] + _options(demo_root))
    files = glob.glob(osp.join(work, '*', 'result_test.json'))
    assert len(files) == 1
    result = json.load(open(files[0]))
    protocol = result['protocol']
    assert protocol['split'] == 'test' and protocol['crf'] is None
    assert protocol['prediction_source'] == 'decoder'
    assert protocol['image_labels'] == 'none' and not protocol['oracle']
    assert protocol['tta'] is None and protocol['iteration'] == 5
    assert protocol['checkpoint_sha256'] == hashlib.sha256(
        open(demo_ckpt, 'rb').read()).hexdigest()
    assert protocol['config'] == DEMO_CFG
    assert '[test split, decoder, image labels: none, no TTA, no CRF]' in log

    model = init_model(DEMO_CFG, demo_ckpt, device='cpu')
    names = open(osp.join(demo_root, 'ImageSets/Segmentation/val.txt')
                 ).read().split()

    def predict(name):
        out = inference_model(
            model, osp.join(demo_root, 'JPEGImages', name + '.jpg'))
        return out.pred_sem_seg.data[0].numpy()

    assert result['metrics']['mIoU'] == pytest.approx(
        _count_miou(predict, demo_root, names), abs=0.006)
    assert set(result['metrics']['per_class']) == {
        'background', 'circle', 'square', 'triangle'}


def test_test_tool_crf_with_tta(demo_root, demo_ckpt, tmp_path):
    work = str(tmp_path / 'work')
    log = _run_test_tool([
        DEMO_CFG, demo_ckpt, '--work-dir', work, '--crf', '--tta',
        '--crf-preset', 'toco', '--workers', '2', '--cfg-options'
    ] + _options(demo_root))
    crf_dir = osp.join(work, 'crf')
    result = json.load(open(osp.join(crf_dir, 'result_test_crf.json')))
    plain = json.load(open(osp.join(crf_dir, 'result_test.json')))
    protocol = result['protocol']
    assert protocol['crf'] == CRF_PRESETS['toco']
    assert plain['protocol']['crf'] is None
    assert protocol['tta'] == dict(scales=[[128, 128], [192, 192]],
                                   flips=[False, True])
    assert protocol['image_labels'] == 'none'
    assert 'TTA 2 scales x 2 flips, CRF bi_rgb_std=5' in log
    names = open(osp.join(demo_root, 'ImageSets/Segmentation/val.txt')
                 ).read().split()
    for key, res in (('pseudo_crf', result), ('pseudo', plain)):

        def read(name, key=key):
            return np.array(Image.open(osp.join(crf_dir, key,
                                                name + '.png')))

        assert res['metrics']['mIoU'] == pytest.approx(
            _count_miou(read, demo_root, names), abs=0.006)
