"""Import hook installed with wsss_mm: any import order works.

Loaded at interpreter start by ``wsss_mm-import-hook.pth`` (installed into
site-packages with the package); it imports nothing heavy itself. It acts
only on two imports, each the entry point of an upstream problem that
``import wsss_mm`` fixes (see :mod:`wsss_mm.utils.compat`):

- ``mmcv.ops`` without compiled ops (mmcv-lite): ``import mmseg.models``
  (or ``mmseg.apis``) before ``import wsss_mm`` failed with
  ``No module named 'mmcv._ext'``; the hook imports wsss_mm first, whose
  stand-in ``mmcv.ops`` is then the module imported.
- ``mmengine.config.config`` without ``pkg_resources`` (setuptools >= 81):
  after mmengine's config module loads, the hook binds the importlib-based
  package lookups, so ``_base_ = ['mmseg::...']`` resolves even in tools
  that import wsss_mm only through ``custom_imports`` (mmseg's stock
  tools), which run after the bases are read.

Set ``WSSS_MM_NO_IMPORT_HOOK=1`` to disable it.
"""
import importlib.abc
import importlib.util
import os
import sys

_MMCV_OPS = 'mmcv.ops'
_MMENGINE_CONFIG = 'mmengine.config.config'
_MMENGINE_HUB = 'mmengine.hub.hub'


# -- importlib-based replacements of mmengine's pkg_resources lookups -------
def _distribution(package: str):
    from importlib import metadata
    try:
        return metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return None


def _top_level_module(dist):
    text = dist.read_text('top_level.txt')
    if text:
        return text.split()[0]
    for f in dist.files or []:  # no top_level.txt: the first package dir
        parts = f.parts
        if len(parts) > 1 and parts[1] == '__init__.py':
            return parts[0]
    return None


def is_installed(package: str) -> bool:
    """``mmengine.utils.is_installed`` on :mod:`importlib.metadata`."""
    if _distribution(package) is not None:
        return True
    spec = importlib.util.find_spec(package)
    return spec is not None and spec.origin is not None


def get_installed_path(package: str) -> str:
    """``mmengine.utils.get_installed_path`` on :mod:`importlib.metadata`.

    The folder of the package's top-level module, e.g. ``.../mmseg`` for
    ``mmsegmentation``.
    """
    import os.path as osp
    dist = _distribution(package)
    module = _top_level_module(dist) if dist is not None else None
    spec = importlib.util.find_spec(module or package)
    if spec is None or spec.origin is None:
        if dist is None:
            raise ModuleNotFoundError(
                f'{package} is not installed (no distribution and no '
                'module of that name)')
        raise RuntimeError(
            f'cannot locate the installed files of {package}: it is a '
            'namespace package or has no importable top-level module')
    return osp.dirname(spec.origin)


PATCHED_MODULES = ('mmengine.utils', 'mmengine.utils.package_utils',
                   'mmengine.config.config', 'mmengine.hub.hub')


def bind_package_lookups() -> list:
    """Bind the two lookups in those of ``PATCHED_MODULES`` imported."""
    done = []
    for name in PATCHED_MODULES:
        mod = sys.modules.get(name)
        if mod is None:
            continue
        for attr, func in (('is_installed', is_installed),
                           ('get_installed_path', get_installed_path)):
            if hasattr(mod, attr):
                setattr(mod, attr, func)
        done.append(name)
    return done


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class _ShimOpsLoader(importlib.abc.Loader):

    def create_module(self, spec):
        import wsss_mm  # noqa: F401  (registers the stand-in mmcv.ops)
        module = sys.modules.get(_MMCV_OPS)
        if module is None:
            raise ImportError('wsss_mm did not install its mmcv.ops stand-in')
        return module

    def exec_module(self, module) -> None:
        pass


class _PatchAfterLoader(importlib.abc.Loader):

    def __init__(self, loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        bind_package_lookups()


class WSSSImportHook(importlib.abc.MetaPathFinder):
    """Meta path finder for ``mmcv.ops`` and mmengine's config and hub."""

    def __init__(self) -> None:
        self._busy = set()

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in (_MMCV_OPS, _MMENGINE_CONFIG, _MMENGINE_HUB) or \
                fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            if fullname == _MMCV_OPS:
                if _has_module('mmcv._ext'):
                    return None  # full mmcv: nothing to do
                return importlib.util.spec_from_loader(
                    fullname, _ShimOpsLoader(), is_package=True)
            if _has_module('pkg_resources'):
                return None
            spec = importlib.util.find_spec(fullname)
            if spec is None or spec.loader is None:
                return None
            spec.loader = _PatchAfterLoader(spec.loader)
            return spec
        finally:
            self._busy.discard(fullname)


def install() -> None:
    """Put the hook first on ``sys.meta_path`` (once)."""
    if os.environ.get('WSSS_MM_NO_IMPORT_HOOK'):
        return
    if not any(isinstance(f, WSSSImportHook) for f in sys.meta_path):
        sys.meta_path.insert(0, WSSSImportHook())
