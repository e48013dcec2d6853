import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from wsss_mm.datasets import generate_demo_dataset
from wsss_mm.engine.hooks.report_hook import WSSSReportHook  # noqa: F401
from wsss_mm.registry import RUNNERS

DEMO_CFG = osp.join(
    osp.dirname(__file__), '..', '..', 'configs', 'demo', 'wsss_demo_cpu.py')


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo'))
    generate_demo_dataset(root, num_train=2, num_val=3, size=64, seed=0)
    return root


def test_report_hook_in_runner_test(tmp_path, demo_root):
    cfg = Config.fromfile(DEMO_CFG)
    cfg.work_dir = str(tmp_path / 'work')
    ds = cfg.test_dataloader.dataset
    ds.data_root = demo_root
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    cfg.test_evaluator = dict(type='PseudoLabelMetric')
    out = str(tmp_path / 'show')
    cfg.custom_hooks = [dict(type='WSSSReportHook', out_dir=out,
                             num_panels=2)]
    cfg.default_hooks.pop('visualization')
    runner = RUNNERS.build(cfg)
    metrics = runner.test()
    # the metric against an mIoU counted by hand from the same predictions
    import torch
    from mmengine.dataset import pseudo_collate

    from wsss_mm.datasets import read_index_mask
    val = runner.test_dataloader.dataset
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
    expected = float(np.mean(inter[union > 0] / union[union > 0]) * 100)
    assert metrics['mIoU'] == pytest.approx(expected, abs=0.011)
    for name in ('iou_per_class.png', 'confusion_matrix.png'):
        img = np.asarray(Image.open(osp.join(out, name)).convert('RGB'))
        assert img.shape[0] > 200 and img.shape[1] > 300
        assert img.std() > 20
    panels = sorted(osp.basename(p) for p in
                    __import__('glob').glob(osp.join(out, 'panels', '*')))
    assert panels == ['val_0000.png', 'val_0001.png']
    panel = np.asarray(Image.open(osp.join(out, 'panels', panels[0])))
    assert panel.shape[1] > 2 * panel.shape[0]
