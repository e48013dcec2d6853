"""wsss_mm: weakly supervised semantic segmentation on OpenMMLab 2.x."""
from .utils.compat import check_versions, install_mmcv_ops_shim
from .version import __version__

# Must run before anything imports mmseg.models (see the function's doc).
install_mmcv_ops_shim()
check_versions(warn=True)

__all__ = ['__version__']
