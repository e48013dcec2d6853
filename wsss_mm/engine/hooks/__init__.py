from .report_hook import WSSSReportHook
from .result_hook import EvaluationResultHook

__all__ = ['WSSSReportHook', 'EvaluationResultHook']
