from .frozen_cache import FrozenFeatureCache
from .toco_vit import ToCoVisionTransformer
from .vit import WSSSVisionTransformer

__all__ = [
    'WSSSVisionTransformer', 'ToCoVisionTransformer', 'FrozenFeatureCache'
]
