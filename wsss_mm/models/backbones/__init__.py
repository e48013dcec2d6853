from .frozen_cache import FrozenFeatureCache
from .vit import WSSSVisionTransformer

__all__ = ['WSSSVisionTransformer', 'FrozenFeatureCache']
