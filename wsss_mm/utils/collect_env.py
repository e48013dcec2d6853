"""Print the environment: ``python -m wsss_mm.utils.collect_env``."""
from mmengine.utils.dl_utils import collect_env as collect_base_env

import wsss_mm
from wsss_mm.utils.compat import check_versions, has_compiled_mmcv_ops


def collect_env() -> dict:
    """Collect the base environment plus wsss_mm's stack and shim state."""
    env = collect_base_env()
    env['wsss_mm'] = wsss_mm.__version__
    for pkg, (version, ok) in check_versions(warn=False).items():
        env[pkg] = f'{version} ({"ok" if ok else "outside verified range"})'
    env['mmcv compiled ops'] = has_compiled_mmcv_ops()
    for name in ('diffusers', 'transformers', 'peft', 'openai'):
        try:
            env[name] = __import__(name).__version__
        except ImportError:
            env[name] = 'not installed'
    try:
        import pydensecrf.densecrf  # noqa: F401
        env['pydensecrf2'] = 'installed'
    except ImportError:
        env['pydensecrf2'] = 'not installed (pip install pydensecrf2)'
    return env


if __name__ == '__main__':
    for key, value in collect_env().items():
        print(f'{key}: {value}')
