"""ViT-PCM's recipe: backbone frozen for a warm-up, then its last blocks
unfrozen."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from wsss_mm.registry import HOOKS


def set_backbone_trainable(backbone, num_last_blocks: int) -> int:
    """Freeze a ViT backbone except its last ``num_last_blocks`` blocks.

    ``num_last_blocks=0`` freezes everything (patch embedding, position
    embedding, CLS token, every block, the final norm); the final norm is
    trainable whenever any block is.

    Args:
        backbone: A ViT with ``layers`` (mmpretrain ``VisionTransformer``).
        num_last_blocks (int): Trailing blocks left trainable.

    Returns:
        int: Number of trainable backbone parameters (elements).
    """
    layers = backbone.layers
    if not 0 <= num_last_blocks <= len(layers):
        raise ValueError(f'num_last_blocks must be in [0, {len(layers)}], '
                         f'got {num_last_blocks}')
    for param in backbone.parameters():
        param.requires_grad = False
    first = len(layers) - num_last_blocks
    for layer in list(layers)[first:]:
        for param in layer.parameters():
            param.requires_grad = True
    if num_last_blocks > 0 and getattr(backbone, 'final_norm', False):
        for param in backbone.ln1.parameters():
            param.requires_grad = True
    return sum(p.numel() for p in backbone.parameters() if p.requires_grad)


@HOOKS.register_module()
class BackboneUnfreezeHook(Hook):
    """Train the heads on a frozen backbone, then unfreeze its last blocks.

    ViT-PCM: one warm-up epoch with the backbone frozen (Adam 1e-3), then
    the last five blocks trained too. Frozen parameters get no gradient,
    so the optimiser (built over every parameter) leaves them untouched.
    With several processes, set ``model_wrapper_cfg=dict(type=
    'MMDistributedDataParallel', find_unused_parameters=True)``: DDP is
    built before the first freeze.

    Args:
        frozen_iters (int): Iterations with the whole backbone frozen.
        unfreeze_last (int): Trailing blocks trained afterwards. Defaults
            to 5 (ViT-PCM).
    """

    priority = 'VERY_HIGH'

    def __init__(self, frozen_iters: int, unfreeze_last: int = 5) -> None:
        if frozen_iters < 0:
            raise ValueError(f'frozen_iters must be >= 0, got {frozen_iters}')
        self.frozen_iters = frozen_iters
        self.unfreeze_last = unfreeze_last
        self._state: Optional[int] = None

    def _backbone(self, runner):
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        return model.backbone

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        want = 0 if runner.iter < self.frozen_iters else self.unfreeze_last
        if want != self._state:
            n = set_backbone_trainable(self._backbone(runner), want)
            self._state = want
            print_log(
                f'BackboneUnfreezeHook: iteration {runner.iter}, last '
                f'{want} backbone blocks trainable ({n} parameters)',
                'current')
