"""wsss_mm: weakly supervised semantic segmentation on OpenMMLab 2.x."""
import warnings

from .utils.compat import (check_versions, install_checkpoint_loader,
                           install_mmcv_ops_shim, install_pkg_resources_shim)
from .version import __version__

# Must run before anything imports mmseg.models (see the function's doc).
install_mmcv_ops_shim()
# mmseg's stock tools and mmseg.apis load our checkpoints (torch >= 2.6).
install_checkpoint_loader()
# `_base_ = ['mmseg::...']` without pkg_resources (setuptools >= 81).
install_pkg_resources_shim()
# mmcv-lite has no deformable attention and mmcv says so on every import;
# nothing here uses it (the stand-in mmcv.ops raises if anything does).
warnings.filterwarnings(
    'ignore', message='Fail to import ``MultiScaleDeformableAttention``')
check_versions(warn=True)

# The registry tree: lets mmseg's stock tools, which import only this
# package (``custom_imports``), resolve 'wsss_mm.*' names and our scope.
from . import registry  # noqa: E402,F401

__all__ = ['__version__']
