from .report_hook import WSSSReportHook

__all__ = ['WSSSReportHook']
