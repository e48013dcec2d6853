"""wsss_mm: weakly supervised semantic segmentation on OpenMMLab 2.x."""
import warnings

from .utils.compat import check_versions, install_mmcv_ops_shim
from .version import __version__

# Must run before anything imports mmseg.models (see the function's doc).
install_mmcv_ops_shim()
# mmcv-lite has no deformable attention and mmcv says so on every import;
# nothing here uses it (the stand-in mmcv.ops raises if anything does).
warnings.filterwarnings(
    'ignore', message='Fail to import ``MultiScaleDeformableAttention``')
check_versions(warn=True)

__all__ = ['__version__']
