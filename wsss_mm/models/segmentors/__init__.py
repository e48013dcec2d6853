from .patch_classifier_segmentor import (PatchClassifierSegmentor,
                                         stack_image_labels)

__all__ = ['PatchClassifierSegmentor', 'stack_image_labels']
