"""mmseg's own tools and APIs on our configs, unchanged.

The stock ``tools/train.py`` and ``tools/test.py`` shipped inside the
installed mmseg package (``mmseg/.mim/tools``) run as subprocesses on the
demo config; only ``--cfg-options`` make it tiny. They import nothing of
ours: ``custom_imports`` in ``configs/_base_/default_runtime.py`` does.
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import mmseg
import numpy as np
import pytest
import torch
from wsss_test_utils import REPO_ROOT

from wsss_mm.datasets import read_index_mask
from wsss_mm.utils.checkpoint import load_checkpoint_file

STOCK_TOOLS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools')
DEMO_CFG = osp.join(REPO_ROOT, 'configs', 'demo', 'wsss_demo_cpu.py')
ITERS = 3


def _tiny_options(root: str) -> list:
    opts = [f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
            f'default_hooks.checkpoint.interval={ITERS}',
            'train_dataloader.batch_size=4']
    for split in ('train', 'val', 'test'):
        opts += [f'{split}_dataloader.dataset.data_root={root}',
                 f'{split}_dataloader.num_workers=0',
                 f'{split}_dataloader.persistent_workers=False']
    return opts


def _run_stock(tool: str, args: list, cwd: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, osp.join(STOCK_TOOLS, tool)] + args,
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope='module')
def stock_trained(demo_root, tmp_path_factory):
    """Train with mmseg's stock tools/train.py; returns (work_dir, ckpt)."""
    work = str(tmp_path_factory.mktemp('stock_train'))
    _run_stock('train.py', [DEMO_CFG, '--work-dir', work, '--cfg-options'] +
               _tiny_options(demo_root), cwd=work)
    return work, osp.join(work, f'iter_{ITERS}.pth')


def _independent_miou(model, root: str) -> float:
    """mIoU of ``model`` on the val split, counted here with numpy."""
    from wsss_mm.apis import inference_model
    names = open(osp.join(root, 'ImageSets/Segmentation/val.txt')).read()
    inter = np.zeros(4)
    union = np.zeros(4)
    for name in names.split():
        pred = inference_model(
            model, osp.join(root, 'JPEGImages', name + '.jpg'))
        pred = pred.pred_sem_seg.data[0].numpy()
        gt = read_index_mask(
            osp.join(root, 'SegmentationClass', name + '.png'))
        valid = gt != 255
        for c in range(4):
            p, g = (pred == c) & valid, (gt == c) & valid
            inter[c] += (p & g).sum()
            union[c] += (p | g).sum()
    present = union > 0
    return float(np.mean(inter[present] / union[present]) * 100)


def test_stock_train_writes_our_checkpoint(stock_trained):
    work, ckpt = stock_trained
    assert osp.isfile(ckpt)
    # saved by WSSSRunner: loads weights-only
    state = load_checkpoint_file(ckpt)
    assert state['meta']['iter'] == ITERS
    assert state['meta']['dataset_meta']['classes'][1] == 'circle'
    keys = state['state_dict'].keys()
    assert any(k.startswith('cls_head.') for k in keys)
    assert any(k.startswith('decode_head.') for k in keys)
    # the validation at the last iteration logged mIoU
    scalars = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    lines = [json.loads(x) for x in open(scalars[0])]
    assert any('mIoU' in x and x['step'] == ITERS for x in lines)


def test_stock_test_metric_matches_independent_count(stock_trained,
                                                     demo_root, tmp_path):
    _, ckpt = stock_trained
    work = str(tmp_path / 'stock_test')
    _run_stock('test.py', [DEMO_CFG, ckpt, '--work-dir', work,
                           '--cfg-options'] + _tiny_options(demo_root),
               cwd=str(tmp_path))
    result = [f for f in glob.glob(osp.join(work, '*', '*.json'))
              if not f.endswith('result_test.json')]
    assert len(result) == 1
    miou = json.load(open(result[0]))['mIoU']
    # EvaluationResultHook (default_runtime.py) ran in mmseg's plain Runner
    ours = json.load(open(glob.glob(osp.join(work, '*',
                                             'result_test.json'))[0]))
    assert ours['metrics']['mIoU'] == pytest.approx(miou, abs=0.006)
    assert ours['protocol']['iteration'] == ITERS
    assert ours['protocol']['checkpoint'] == ckpt

    # mmseg's own inference API on the same checkpoint
    from mmseg.apis import init_model
    model = init_model(DEMO_CFG, ckpt, device='cpu', cfg_options={
        'test_dataloader.dataset.data_root': demo_root})
    assert miou == pytest.approx(_independent_miou(model, demo_root),
                                 abs=0.01)


def test_mmseg_and_wsss_inference_apis_agree(stock_trained, demo_root):
    _, ckpt = stock_trained
    from mmseg.apis import inference_model as mmseg_inference
    from mmseg.apis import init_model as mmseg_init

    from wsss_mm.apis import WSSSInferencer, inference_model, init_model
    img = osp.join(demo_root, 'JPEGImages',
                   sorted(os.listdir(osp.join(demo_root, 'JPEGImages')))[0])
    ours = inference_model(init_model(DEMO_CFG, ckpt, device='cpu'), img)
    theirs = mmseg_inference(mmseg_init(DEMO_CFG, ckpt, device='cpu'), img)
    assert torch.equal(ours.seg_logits.data, theirs.seg_logits.data)
    assert ours.pred_sem_seg.data.shape == (1, 64, 64)
    masks = WSSSInferencer(DEMO_CFG, ckpt, device='cpu')([img, img])
    assert np.array_equal(masks['predictions'][1],
                          ours.pred_sem_seg.data[0].numpy())
    with pytest.raises(FileNotFoundError, match='no_such.pth'):
        init_model(DEMO_CFG, 'no_such.pth')


def test_stock_mmseg_inferencer_matches_our_inference(stock_trained,
                                                      demo_root):
    """mmseg's own MMSegInferencer, unchanged, on our config: it finds the
    loader by the name ``LoadImageFromFile`` (ours in the wsss_mm scope)
    and predicts what ``wsss_mm.apis.inference_model`` predicts."""
    _, ckpt = stock_trained
    import mmcv
    from mmseg.apis import MMSegInferencer

    from wsss_mm.apis import inference_model, init_model
    from wsss_mm.datasets.transforms import LoadWSSSImageFromFile
    names = sorted(os.listdir(osp.join(demo_root, 'JPEGImages')))[:2]
    imgs = [osp.join(demo_root, 'JPEGImages', n) for n in names]
    model = init_model(DEMO_CFG, ckpt, device='cpu')
    ours = [inference_model(model, img) for img in imgs]

    inferencer = MMSegInferencer(DEMO_CFG, ckpt, device='cpu',
                                 scope='wsss_mm')
    # InferencerLoader built our loader for file paths
    assert type(inferencer.pipeline.transforms[0].from_file
                ) is LoadWSSSImageFromFile
    assert inferencer.model.dataset_meta['classes'][1] == 'circle'
    theirs = inferencer(imgs, return_datasamples=True)
    for a, b in zip(ours, theirs):
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)
        assert torch.equal(a.seg_logits.data, b.seg_logits.data)
    # the plain output on a BGR array
    masks = inferencer(mmcv.imread(imgs[1]))['predictions']
    assert np.array_equal(masks, ours[1].pred_sem_seg.data[0].numpy())
