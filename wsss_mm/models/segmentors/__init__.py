from .patch_classifier_segmentor import (PatchClassifierSegmentor,
                                         stack_image_labels)
from .tta import WSSSTTAModel, outputs_probabilities

__all__ = [
    'PatchClassifierSegmentor', 'stack_image_labels', 'WSSSTTAModel',
    'outputs_probabilities'
]
