from .checkpoint import CheckpointError, load_checkpoint_file
from .compat import check_versions, install_mmcv_ops_shim
from .setup_env import register_all_modules

__all__ = [
    'register_all_modules', 'install_mmcv_ops_shim', 'check_versions',
    'load_checkpoint_file', 'CheckpointError'
]
