from .fsr import FSR
from .patch_classifier_segmentor import (PatchClassifierSegmentor,
                                         refuse_pixel_ground_truth,
                                         stack_image_labels)
from .toco import ToCo, current_iter
from .tta import WSSSTTAModel, outputs_probabilities

__all__ = [
    'PatchClassifierSegmentor', 'stack_image_labels', 'WSSSTTAModel',
    'outputs_probabilities', 'refuse_pixel_ground_truth', 'ToCo',
    'current_iter', 'FSR'
]
