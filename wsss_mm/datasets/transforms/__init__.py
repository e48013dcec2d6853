"""Transforms of wsss_mm (registered in ``wsss_mm.registry.TRANSFORMS``)."""
from .formatting import PackWSSSInputs
from .loading import (ImageLoadError, LoadImageLevelLabels,
                      LoadWSSSImageFromFile)
from .tiles import CropTile
from .two_view import (FSRTwoViews, PackMultiViewWSSSInputs, WSSSColorJitter,
                       fsr_global_view_pipeline)

__all__ = [
    'LoadWSSSImageFromFile', 'LoadImageLevelLabels', 'PackWSSSInputs',
    'CropTile', 'ImageLoadError', 'FSRTwoViews', 'PackMultiViewWSSSInputs',
    'fsr_global_view_pipeline', 'WSSSColorJitter'
]
