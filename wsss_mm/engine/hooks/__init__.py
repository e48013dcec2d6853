from .checkpoint_hook import WSSSCheckpointHook
from .report_hook import WSSSReportHook

__all__ = ['WSSSReportHook', 'WSSSCheckpointHook']
