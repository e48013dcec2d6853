"""Run a module in eval mode for a while, then restore its mode."""
import contextlib
from typing import Iterator

import torch.nn as nn

__all__ = ['eval_mode']


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` and all its submodules in eval mode inside the block.

    Dropout is off and batch norm uses its running statistics. On leaving,
    every submodule gets back its own ``training`` flag (a part kept in
    eval mode on purpose, e.g. a frozen backbone, stays so). The flags are
    set directly, without calling overridden ``train()`` methods, both
    ways.

    Args:
        module (nn.Module): The module.

    Yields:
        nn.Module: ``module``, in eval mode.
    """
    flags = [(m, m.training) for m in module.modules()]
    for m, _ in flags:
        m.training = False
    try:
        yield module
    finally:
        for m, flag in flags:
            m.training = flag
