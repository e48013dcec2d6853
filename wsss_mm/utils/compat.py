"""Shims for known problems of the pinned OpenMMLab stack.

Each function covers one upstream problem, says which, and is a no-op where
the problem does not exist. ``tests/test_utils/test_compat.py`` shows every
problem with the shim off and its absence with the shim on.
"""
import importlib.util
import os
import os.path as osp
import sys
import types
import warnings
from typing import Callable, Optional, Union

import torch

# re-exported: mmengine's package lookups without pkg_resources
from wsss_mm_import_hook import get_installed_path  # noqa: F401
from wsss_mm_import_hook import is_installed  # noqa: F401
from wsss_mm_import_hook import bind_package_lookups

_OPS_SHIM_NAME = 'mmcv.ops'


def has_compiled_mmcv_ops() -> bool:
    """Whether the compiled ``mmcv._ext`` extension (full mmcv) exists."""
    try:
        return importlib.util.find_spec('mmcv._ext') is not None
    except (ImportError, ValueError):
        return False


def _compiled_op_missing(name: str) -> Callable:

    def missing(*args, **kwargs):
        raise ModuleNotFoundError(
            f'mmcv.ops.{name} is a compiled op and mmcv-lite has none. '
            'Install full mmcv (built with CUDA) to use it, or pick a '
            'pure-PyTorch alternative in the config.')

    missing.__name__ = name
    return missing


def install_mmcv_ops_shim() -> bool:
    """Register a stand-in ``mmcv.ops`` when mmcv has no compiled ops.

    Upstream problem: mmseg 1.2.2 imports ``mmcv.ops`` unconditionally in
    ``mmseg/utils/mask_classification.py``, ``models/decode_heads/san_head.py``
    and ``models/losses/focal_loss.py``. With mmcv-lite (no ``mmcv._ext``)
    that import fails, so ``import mmseg.models`` fails as a whole. The
    stand-in exposes mmcv's pure-PyTorch ``point_sample`` and raises
    ``ModuleNotFoundError`` for compiled ops, which mmseg already catches
    for its optional ops (CrissCrossAttention, PSAMask, ...).

    Returns:
        bool: True if the stand-in was installed, False if full mmcv is
        present or a ``mmcv.ops`` module was already imported.
    """
    if has_compiled_mmcv_ops() or _OPS_SHIM_NAME in sys.modules:
        return False
    import mmcv
    spec = importlib.util.find_spec('mmcv')
    point_sample_file = osp.join(
        osp.dirname(spec.origin), 'ops', 'point_sample.py')
    shim = types.ModuleType(_OPS_SHIM_NAME)
    shim.__doc__ = 'wsss_mm stand-in for mmcv.ops without mmcv._ext.'
    shim.__path__ = []  # a package: submodule imports fail cleanly
    shim.WSSS_MM_SHIM = True
    # point_sample.py only imports torch: load it as mmcv.ops.point_sample.
    ps_spec = importlib.util.spec_from_file_location(
        _OPS_SHIM_NAME + '.point_sample', point_sample_file)
    ps_mod = importlib.util.module_from_spec(ps_spec)
    ps_spec.loader.exec_module(ps_mod)
    sys.modules[ps_spec.name] = ps_mod
    shim.point_sample = ps_mod.point_sample
    shim.bilinear_grid_sample = ps_mod.bilinear_grid_sample
    # Imported by name at module level by mmseg's focal loss; only called on
    # CUDA tensors, so a stand-in that raises when called is enough.
    shim.sigmoid_focal_loss = _compiled_op_missing('sigmoid_focal_loss')

    def __getattr__(name: str):
        if name.startswith('__'):
            raise AttributeError(name)
        raise ModuleNotFoundError(
            f'mmcv.ops.{name} needs compiled mmcv ops (mmcv._ext), which '
            'mmcv-lite does not have.', name=_OPS_SHIM_NAME)

    shim.__getattr__ = __getattr__
    sys.modules[_OPS_SHIM_NAME] = shim
    mmcv.ops = shim
    return True


# ---------------------------------------------------------------------------
# `mmseg::` config bases without pkg_resources (setuptools >= 81)
# ---------------------------------------------------------------------------
def has_pkg_resources() -> bool:
    """Whether ``import pkg_resources`` can succeed."""
    try:
        return importlib.util.find_spec('pkg_resources') is not None
    except (ImportError, ValueError):
        return False


def install_pkg_resources_shim() -> bool:
    """Let mmengine resolve ``mmseg::`` config bases without pkg_resources.

    Upstream problem: mmengine 0.10.7 ``Config`` resolves a base such as
    ``_base_ = ['mmseg::_base_/models/deeplabv3plus_r50-d8.py']`` with
    ``mmengine.utils.is_installed`` and ``get_installed_path``, which import
    ``pkg_resources``; setuptools >= 81 no longer ships it, so such a config
    fails with ``No module named 'pkg_resources'``. The replacements above
    use :mod:`importlib.metadata` and are bound where mmengine looks them
    up (``mmengine.utils``, ``mmengine.utils.package_utils``,
    ``mmengine.config.config``, ``mmengine.hub.hub``). They live in the
    top-level module :mod:`wsss_mm_import_hook`, whose import hook also
    binds them when mmengine's config module loads, before any
    ``custom_imports``.

    A config is parsed before its ``custom_imports`` run: without the
    import hook, a tool must import ``wsss_mm`` before ``Config.fromfile``
    (ours do).

    Returns:
        bool: True if the replacements were installed, False if
        ``pkg_resources`` exists.
    """
    if has_pkg_resources():
        return False
    import mmengine.config.config  # noqa: F401
    import mmengine.hub.hub  # noqa: F401
    import mmengine.utils.package_utils  # noqa: F401
    bind_package_lookups()
    return True


# ---------------------------------------------------------------------------
# CPU-only distributed training (mmengine 0.10.7)
# ---------------------------------------------------------------------------
def init_cpu_distributed(launcher: str, timeout_s: Optional[int] = None
                         ) -> bool:
    """Initialise a gloo process group for a CPU-only machine.

    Upstream problem: mmengine 0.10.7 ``_init_dist_pytorch`` calls
    ``torch.cuda.set_device(local_rank)`` unconditionally, which raises on a
    machine without a GPU, and defaults to the nccl backend. When the
    process group already exists, the Runner skips its own ``init_dist``, so
    initialising gloo here first is enough.

    Args:
        launcher (str): The runner's launcher ('none', 'pytorch', ...).
        timeout_s (int, optional): Process group timeout in seconds.

    Returns:
        bool: True if this call created the process group.
    """
    import torch.distributed as dist
    if launcher != 'pytorch' or torch.cuda.is_available():
        return False
    if not dist.is_available() or dist.is_initialized():
        return False
    kwargs = {}
    if timeout_s is not None:
        import datetime
        kwargs['timeout'] = datetime.timedelta(seconds=timeout_s)
    dist.init_process_group(backend='gloo', **kwargs)
    return True


def shutdown_distributed() -> None:
    """Destroy the default process group, if any, before the process exits.

    Upstream problem: a gloo process group still alive at interpreter exit
    can abort the process in C++ teardown ('terminate called without an
    active exception', SIGABRT) after a finished run; mmengine never
    destroys the group it (or we) created.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def ddp_device_ids(module: torch.nn.Module,
                   device_ids: Optional[list]) -> Optional[list]:
    """``device_ids`` that DistributedDataParallel accepts for ``module``.

    Upstream problem: mmengine's ``Runner.wrap_model`` always passes
    ``device_ids=[LOCAL_RANK]``; torch rejects any ``device_ids`` for a
    module on the CPU. CPU modules must get ``None``.
    """
    params = list(module.parameters())
    if params and params[0].device.type == 'cpu':
        return None
    return device_ids


# ---------------------------------------------------------------------------
# Checkpoint loading under torch >= 2.6 (weights_only=True by default)
# ---------------------------------------------------------------------------
# Upstream problem: mmengine 0.10.7 pickles HistoryBuffer and numpy objects
# into checkpoints, which ``weights_only=True`` refuses. WSSSRunner writes
# them encoded as tensors and containers and every file loads weights-only:
# see wsss_mm/utils/checkpoint.py (re-exported here for older imports).
from wsss_mm.utils.checkpoint import load_checkpoint_file  # noqa: E402,F401


def _load_from_local(filename: str,
                     map_location: Union[str, Callable, None] = None) -> dict:
    """mmengine's local-file checkpoint scheme, through
    :func:`load_checkpoint_file`."""
    return load_checkpoint_file(osp.expanduser(filename), map_location)


def install_checkpoint_loader() -> bool:
    """Route mmengine's local checkpoint loading through
    :func:`load_checkpoint_file`.

    Upstream problem: mmengine 0.10.7 ``load_from_local`` calls
    ``torch.load`` without ``weights_only`` (torch >= 2.6: weights only)
    and knows nothing of the encoded message hub our runner writes. Our own
    runner overrides ``load_checkpoint``, but mmseg's stock
    ``tools/test.py`` builds a plain ``Runner`` and ``mmseg.apis.init_model``
    calls mmengine's ``load_checkpoint``: both reach the checkpoint through
    ``CheckpointLoader``'s scheme for local paths (prefix ``''``), replaced
    here, so they get the same weights-only loading, decoding and one-line
    errors naming the file.

    Returns:
        bool: True if this call installed the loader.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    if CheckpointLoader._schemes.get('') is _load_from_local:
        return False
    CheckpointLoader.register_scheme(
        prefixes='', loader=_load_from_local, force=True)
    return True


# ---------------------------------------------------------------------------
# Version ranges: warn, never assert at import time
# ---------------------------------------------------------------------------
VERIFIED_RANGES = {
    'mmengine': ('0.10.0', '0.11.0'),
    'mmcv': ('2.0.0', '2.2.0'),
    'mmsegmentation': ('1.2.0', '1.3.0'),
    'mmpretrain': ('1.2.0', '1.3.0'),
}


def check_versions(warn: bool = True) -> dict:
    """Compare installed OpenMMLab versions with the verified ranges.

    Returns:
        dict: ``{package: (installed or None, ok)}``.
    """
    from importlib import metadata

    from mmengine.utils import digit_version
    result = {}
    for pkg, (low, high) in VERIFIED_RANGES.items():
        version = None
        for dist_name in (pkg, pkg + '-lite', pkg + '-full'):
            try:
                version = metadata.version(dist_name)
                break
            except metadata.PackageNotFoundError:
                continue
        ok = version is not None and (
            digit_version(low) <= digit_version(version) < digit_version(high))
        result[pkg] = (version, ok)
        if warn and version is not None and not ok:
            warnings.warn(
                f'wsss_mm is verified with {pkg}>={low},<{high} but '
                f'{version} is installed; run `python -m '
                'wsss_mm.utils.collect_env` and see requirements/runtime.txt.')
    return result


def default_num_threads(world_size: int) -> int:
    """Threads per process so that ranks do not oversubscribe the cores."""
    cores = os.cpu_count() or 1
    return max(1, cores // max(1, world_size))
