"""Every WSSSRunner run writes its protocol-carrying result file, also when
a config's custom_hooks replace default_runtime.py's list."""
import os.path as osp

import pytest
from mmengine.config import Config
from wsss_test_utils import REPO_ROOT

from wsss_mm.engine.hooks import EvaluationResultHook, TeacherEMAHook
from wsss_mm.registry import RUNNERS


def _runner(tmp_path, demo_root, custom_hooks):
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/demo/wsss_demo_cpu.py'))
    cfg.work_dir = str(tmp_path)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = demo_root
    cfg.custom_hooks = custom_hooks
    return RUNNERS.build(cfg)


@pytest.mark.parametrize('custom_hooks', [
    [],
    [dict(type='TeacherEMAHook')],
])
def test_result_hook_added_once_when_missing(tmp_path, demo_root,
                                             custom_hooks):
    runner = _runner(tmp_path, demo_root, custom_hooks)
    kinds = [type(h) for h in runner.hooks]
    assert kinds.count(EvaluationResultHook) == 1
    assert kinds.count(TeacherEMAHook) == len(custom_hooks)


@pytest.mark.parametrize(
    'hook', ['EvaluationResultHook', 'wsss_mm.EvaluationResultHook'])
def test_result_hook_not_duplicated(tmp_path, demo_root, hook):
    runner = _runner(tmp_path, demo_root, [dict(type=hook)])
    kinds = [type(h) for h in runner.hooks]
    assert kinds.count(EvaluationResultHook) == 1
