"""Transforms of wsss_mm (registered in ``wsss_mm.registry.TRANSFORMS``)."""
from .formatting import PackWSSSInputs
from .loading import (AnnotationError, ImageLoadError, LoadImageLevelLabels,
                      LoadWSSSAnnotations, LoadWSSSImageFromFile,
                      check_seg_map_ids)
from .tiles import CropTile

__all__ = [
    'LoadWSSSImageFromFile', 'LoadImageLevelLabels', 'PackWSSSInputs',
    'CropTile', 'ImageLoadError', 'LoadWSSSAnnotations', 'AnnotationError',
    'check_seg_map_ids'
]
