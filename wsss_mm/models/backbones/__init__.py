from .vit import WSSSVisionTransformer

__all__ = ['WSSSVisionTransformer']
