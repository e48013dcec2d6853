from .report import (colorize, save_confusion_matrix, save_iou_bar_chart,
                     save_overlay_panel)

__all__ = [
    'colorize', 'save_overlay_panel', 'save_iou_bar_chart',
    'save_confusion_matrix'
]
