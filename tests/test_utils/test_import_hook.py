"""The import hook: ``import mmseg.models`` before ``import wsss_mm``."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
from wsss_test_utils import REPO_ROOT

from wsss_mm.utils import compat

PTH = osp.join(REPO_ROOT, 'wsss_mm-import-hook.pth')


def _run(code: str, site_dir: str, hook: bool) -> subprocess.CompletedProcess:
    """Python with ``site_dir`` processed as site-packages (the .pth)."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1')
    env.pop('WSSS_MM_NO_IMPORT_HOOK', None)
    if not hook:
        env['WSSS_MM_NO_IMPORT_HOOK'] = '1'
    prelude = f'import site; site.addsitedir({site_dir!r});'
    return subprocess.run([sys.executable, '-c', prelude + code], env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def site_dir(tmp_path):
    shutil.copy(PTH, tmp_path)
    return str(tmp_path)


@pytest.mark.skipif(
    compat.has_compiled_mmcv_ops(), reason='full mmcv: no shim needed')
def test_mmseg_models_before_wsss_mm(site_dir):
    code = ('import mmseg.models, mmcv.ops, sys;'
            "assert 'wsss_mm' in sys.modules and mmcv.ops.WSSS_MM_SHIM;"
            'import wsss_mm;'
            'from mmseg.registry import MODELS;'
            "print(MODELS.get('EncoderDecoder').__name__)")
    bare = _run(code, site_dir, hook=False)
    assert bare.returncode != 0
    assert "No module named 'mmcv._ext'" in bare.stderr
    hooked = _run(code, site_dir, hook=True)
    assert hooked.returncode == 0, hooked.stderr
    assert hooked.stdout.split()[-1] == 'EncoderDecoder'


def test_mmseg_base_without_pkg_resources_and_without_wsss_mm(
        site_dir, tmp_path):
    """What mmseg's stock tools do: parse the config, then custom_imports."""
    cfg = tmp_path / 'child.py'
    cfg.write_text("_base_ = ['mmseg::_base_/models/deeplabv3plus_r50-d8.py']"
                   '\nmodel = dict(decode_head=dict(num_classes=3))\n')
    code = ("import sys; sys.modules['pkg_resources'] = None;"
            'from mmengine.config import Config;'
            f'c = Config.fromfile({str(cfg)!r});'
            "assert 'wsss_mm' not in sys.modules;"
            'print(c.model.backbone.depth, c.model.decode_head.num_classes)')
    bare = _run(code, site_dir, hook=False)
    assert bare.returncode != 0 and 'import pkg_resources' in bare.stderr
    hooked = _run(code, site_dir, hook=True)
    assert hooked.returncode == 0, hooked.stderr
    assert hooked.stdout.split() == ['50', '3']


def test_setup_ships_the_pth_and_the_hook_module():
    setup_py = open(osp.join(REPO_ROOT, 'setup.py')).read()
    assert "py_modules=['wsss_mm_import_hook']" in setup_py
    assert open(PTH).read().strip() == (
        'import wsss_mm_import_hook; wsss_mm_import_hook.install()')
    # editable installs do not carry it: the setup script copies it
    setup_env = open(osp.join(REPO_ROOT, 'tools', 'setup_env.sh')).read()
    assert 'cp "$ROOT/wsss_mm-import-hook.pth"' in setup_env
