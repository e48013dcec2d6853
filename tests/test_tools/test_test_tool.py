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


def _run_test_tool(args, returncode=0):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, 'tools/test.py'] + args,
                          cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == returncode, out[-4000:]
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


def test_test_tool_crf_honours_unsafe_load(demo_root, demo_ckpt, tmp_path):
    """An old mmengine checkpoint (pickled numpy and HistoryBuffer objects)
    is refused on the --crf path too, and loads with
    --unsafe-load-checkpoint: the masks are the predictions of its weights,
    and the result files (with and without --crf) read its iteration.
    """
    from mmengine.logging import HistoryBuffer

    from wsss_mm.utils.checkpoint import CheckpointError
    buf = HistoryBuffer()
    buf.update(1.0)
    old = str(tmp_path / 'old_mmengine.pth')
    torch.save(dict(torch.load(demo_ckpt), meta={'iter': 5,
                                                  'seed': np.int64(0)},
                    message_hub={'log_scalars': {'loss': buf}}), old)
    with pytest.raises(CheckpointError, match='--unsafe-load-checkpoint'):
        init_model(DEMO_CFG, old, device='cpu')
    model = init_model(DEMO_CFG, old, device='cpu',
                       cfg_options=dict(unsafe_load_checkpoint=True))

    args = [DEMO_CFG, old, '--crf', '--workers', '0', '--cfg-options'
            ] + _options(demo_root)
    refused = _run_test_tool(
        args + ['--work-dir', str(tmp_path / 'refused')], returncode=1)
    assert 'refused' in refused and old in refused
    assert not glob.glob(str(tmp_path / 'refused' / 'crf' / 'pseudo' / '*'))
    work = str(tmp_path / 'unsafe')
    _run_test_tool(args + ['--work-dir', work, '--unsafe-load-checkpoint'])
    names = open(osp.join(demo_root, 'ImageSets/Segmentation/val.txt')
                 ).read().split()
    for name in names:
        mask = np.array(Image.open(osp.join(work, 'crf', 'pseudo',
                                            name + '.png')))
        pred = inference_model(
            model, osp.join(demo_root, 'JPEGImages', name + '.jpg'))
        np.testing.assert_array_equal(mask, pred.pred_sem_seg.data[0])
    result = json.load(open(osp.join(work, 'crf', 'result_test_crf.json')))
    assert result['protocol']['iteration'] == 5
    # the runner's path: the model and the result hook honour the flag too
    work = str(tmp_path / 'plain')
    _run_test_tool([DEMO_CFG, old, '--work-dir', work,
                    '--unsafe-load-checkpoint', '--cfg-options'] +
                   _options(demo_root))
    files = glob.glob(osp.join(work, '*', 'result_test.json'))
    assert json.load(open(files[0]))['protocol']['iteration'] == 5
