from .functional import confusion_matrix, metrics_from_confusion
from .metrics import PseudoLabelMetric

__all__ = ['confusion_matrix', 'metrics_from_confusion', 'PseudoLabelMetric']
