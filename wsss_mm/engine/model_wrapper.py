"""DDP wrapper that also works for modules on the CPU."""
from typing import Optional

import torch
from mmengine.model import MMDistributedDataParallel

from wsss_mm.registry import MODEL_WRAPPERS
from wsss_mm.utils.compat import ddp_device_ids


@MODEL_WRAPPERS.register_module()
class WSSSDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that drops ``device_ids`` on the CPU.

    mmengine's Runner passes ``device_ids=[LOCAL_RANK]`` to every DDP
    wrapper; torch refuses ``device_ids`` for CPU modules (gloo training).
    """

    def __init__(self, module: torch.nn.Module,
                 device_ids: Optional[list] = None, **kwargs) -> None:
        super().__init__(
            module=module, device_ids=ddp_device_ids(module, device_ids),
            **kwargs)
