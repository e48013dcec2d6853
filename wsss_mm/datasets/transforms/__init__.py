"""Transforms of wsss_mm (registered in ``wsss_mm.registry.TRANSFORMS``)."""
from .formatting import PackWSSSInputs
from .loading import (ImageLoadError, LoadImageLevelLabels,
                      LoadWSSSImageFromFile)
from .tiles import CropTile

__all__ = [
    'LoadWSSSImageFromFile', 'LoadImageLevelLabels', 'PackWSSSInputs',
    'CropTile', 'ImageLoadError'
]
