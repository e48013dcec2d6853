"""Optimizer wrapper constructor with the ViT 'no weight decay' rule."""
from typing import Optional, Sequence

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper

from wsss_mm.registry import OPTIM_WRAPPER_CONSTRUCTORS


def is_no_decay_param(name: str, param: nn.Parameter,
                      no_decay_keys: Sequence[str] = ()) -> bool:
    """Whether ``param`` takes no weight decay: a bias, any 1-D parameter
    (norm weights) or a name containing one of ``no_decay_keys`` (position
    embedding, class and mask tokens)."""
    return (name.endswith('.bias') or param.ndim <= 1
            or any(key in name for key in no_decay_keys))


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class NoDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's constructor, then no weight decay for biases, 1-D
    parameters and ``no_decay_keys`` whatever ``custom_keys`` matched.

    mmengine lets a matching ``custom_keys`` entry replace
    ``bias_decay_mult``/``norm_decay_mult``, so ``lr_mult=10`` on a head
    would also put weight decay back on its biases; FSR and ToCo's public
    code (``get_param_groups``) never decay biases, norms, the position
    embedding or the special tokens. Learning-rate multipliers of
    ``custom_keys`` are kept.

    ``paramwise_cfg`` takes one more key, ``no_decay_keys`` (sequence of
    name substrings; default ``('pos_embed', 'cls_token', 'mask_token')``).
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        paramwise_cfg = dict(paramwise_cfg or {})
        self.no_decay_keys = tuple(
            paramwise_cfg.pop('no_decay_keys',
                              ('pos_embed', 'cls_token', 'mask_token')))
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def __call__(self, model: nn.Module) -> OptimWrapper:
        """Build the wrapper; split groups into decay / no-decay parts."""
        wrapper = super().__call__(model)
        names = {id(p): n for n, p in model.named_parameters()}
        optimizer = wrapper.optimizer
        groups = []
        for group in optimizer.param_groups:
            keep, zero = [], []
            for p in group['params']:
                no_decay = is_no_decay_param(
                    names.get(id(p), ''), p, self.no_decay_keys)
                (zero if no_decay else keep).append(p)
            if keep:
                groups.append(dict(group, params=keep))
            if zero:
                groups.append(dict(group, params=zero, weight_decay=0.0))
        optimizer.param_groups[:] = groups
        return wrapper
