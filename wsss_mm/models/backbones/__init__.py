from .frozen_cache import FrozenFeatureCache
from .timm_backbone import WSSSTimmBackbone, load_timm_state_dict
from .toco_vit import ToCoVisionTransformer
from .vit import WSSSVisionTransformer

__all__ = [
    'WSSSVisionTransformer', 'ToCoVisionTransformer', 'FrozenFeatureCache',
    'WSSSTimmBackbone', 'load_timm_state_dict'
]
