"""Helpers of the IAA tests (a plain module: importable by name)."""
import os.path as osp

import torch
from mmengine.config import Config
from wsss_test_utils import REPO_ROOT

from wsss_mm.registry import MODELS
from wsss_mm.utils.fileio import save_atomic

DEMO_MODEL_CONFIG = osp.join(REPO_ROOT, 'configs', 'demo',
                             'wsss_demo_cpu.py')


def write_filter_checkpoint(path: str, seed: int = 0) -> str:
    """Random weights of the demo APC model as a weights-only checkpoint
    (``{'state_dict': ...}``, as a trained one would hold)."""
    from wsss_mm.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(DEMO_MODEL_CONFIG)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    save_atomic(path, lambda f: torch.save(
        {'state_dict': model.state_dict(), 'meta': {'seed': seed}}, f))
    return path
