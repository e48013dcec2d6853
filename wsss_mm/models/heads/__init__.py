from .dino_projector import DINOProjector
from .largefov_head import LargeFOVHead
from .patch_cls_head import PatchClassifierHead
from .pooling import (AdaptiveKPool, GlobalAvgPool, GlobalMaxPool, TopKPool,
                      TopKRatioPool)

__all__ = [
    'PatchClassifierHead', 'GlobalMaxPool', 'GlobalAvgPool', 'TopKPool',
    'AdaptiveKPool', 'TopKRatioPool', 'DINOProjector', 'LargeFOVHead'
]
