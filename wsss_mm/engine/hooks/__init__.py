from .backbone_unfreeze_hook import (BackboneUnfreezeHook,
                                     set_backbone_trainable)
from .checkpoint_hook import WSSSCheckpointHook
from .report_hook import WSSSReportHook
from .result_hook import EvaluationResultHook
from .teacher_ema_hook import TeacherEMAHook

__all__ = [
    'WSSSReportHook', 'WSSSCheckpointHook', 'TeacherEMAHook',
    'EvaluationResultHook', 'BackboneUnfreezeHook', 'set_backbone_trainable'
]
