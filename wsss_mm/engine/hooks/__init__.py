from .backbone_unfreeze_hook import (BackboneUnfreezeHook,
                                     set_backbone_trainable)
from .report_hook import WSSSReportHook

__all__ = ['WSSSReportHook', 'BackboneUnfreezeHook', 'set_backbone_trainable']
