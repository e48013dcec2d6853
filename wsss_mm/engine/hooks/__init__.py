from .checkpoint_hook import WSSSCheckpointHook
from .report_hook import WSSSReportHook
from .teacher_ema_hook import TeacherEMAHook

__all__ = ['WSSSReportHook', 'WSSSCheckpointHook', 'TeacherEMAHook']
