"""Online filters of generated images."""
from .classifier_filter import (ClassifierFilter, image_class_scores,
                                load_state_dict_safely)

__all__ = ['ClassifierFilter', 'image_class_scores', 'load_state_dict_safely']
