"""Hooks for tests that run the real tools in subprocesses (import by name
with ``custom_imports``; the tests folder on ``PYTHONPATH``)."""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from wsss_mm.registry import HOOKS
from wsss_mm.utils.fileio import save_atomic


@HOOKS.register_module()
class DumpStateHook(Hook):
    """After training, every rank saves its model's state dict (unwrapped
    from DDP) to ``out_dir/rank{rank}.pth``: the ranks can be compared."""

    priority = 'LOWEST'

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir

    def after_train(self, runner) -> None:
        model = runner.model
        model = model.module if is_model_wrapper(model) else model
        state = {
            k: v.detach().clone()
            for k, v in model.state_dict().items()
        }
        path = f'{self.out_dir}/rank{runner.rank}.pth'
        save_atomic(path, lambda f: torch.save(state, f))
