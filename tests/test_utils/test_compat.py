"""Each shim: the upstream failure without it, and its absence with it."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.distributed as dist
from mmengine.logging import HistoryBuffer
from mmengine.model import MMDistributedDataParallel
from wsss_test_utils import free_port

from wsss_mm.engine import WSSSDistributedDataParallel
from wsss_mm.utils import compat


def _run_python(code: str) -> subprocess.CompletedProcess:
    # The package's import hook (a .pth, tests/test_utils/test_import_hook.py)
    # would install the shims at interpreter start: off here, so the bare
    # runs show the upstream problem and `import wsss_mm` the shim.
    env = dict(os.environ, WSSS_MM_NO_IMPORT_HOOK='1')
    return subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True,
                          env=env,
                          timeout=300)


@pytest.mark.skipif(
    compat.has_compiled_mmcv_ops(), reason='full mmcv: no shim needed')
def test_mmseg_models_needs_ops_shim():
    bare = _run_python('import mmseg.models')
    assert bare.returncode != 0
    assert "No module named 'mmcv._ext'" in bare.stderr
    shimmed = _run_python(
        'import wsss_mm, mmseg.models, mmcv.ops;'
        'assert mmcv.ops.WSSS_MM_SHIM;'
        'from mmseg.models.decode_heads import cc_head;'
        'assert cc_head.CrissCrossAttention is None')
    assert shimmed.returncode == 0, shimmed.stderr


@pytest.mark.skipif(
    compat.has_compiled_mmcv_ops(), reason='full mmcv: no shim needed')
def test_ops_shim_point_sample_and_compiled_ops():
    import mmcv.ops
    feat = torch.arange(16.).reshape(1, 1, 4, 4)
    # Relative coords of pixel centres (0.125 = first pixel centre).
    points = torch.tensor([[[0.125, 0.125], [0.875, 0.375]]])
    out = mmcv.ops.point_sample(feat, points, align_corners=False)
    assert torch.allclose(out.flatten(), torch.tensor([0., 7.]))
    with pytest.raises(ModuleNotFoundError, match='compiled'):
        mmcv.ops.RoIAlign
    with pytest.raises(ModuleNotFoundError, match='compiled op'):
        mmcv.ops.sigmoid_focal_loss(torch.zeros(1), torch.zeros(1))


@pytest.fixture
def single_process_group(tmp_path):
    if dist.is_initialized():
        pytest.skip('a process group already exists')
    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path}/pg', rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_cpu_ddp_needs_device_ids_none(single_process_group):
    module = torch.nn.Linear(3, 2)
    with pytest.raises(ValueError, match='device_ids'):
        MMDistributedDataParallel(module=module, device_ids=[0])
    wrapped = WSSSDistributedDataParallel(module=module, device_ids=[0])
    assert wrapped.device_ids is None
    x = torch.randn(4, 3)
    assert torch.allclose(wrapped(x), module(x))


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a CPU machine')
def test_mmengine_init_dist_fails_on_cpu_and_shim_inits_gloo():
    env = dict(os.environ, RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
               MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()))
    code_bare = ('from mmengine.dist import init_dist;'
                 "init_dist('pytorch', backend='gloo')")
    bare = subprocess.run([sys.executable, '-c', code_bare], env=env,
                          capture_output=True, text=True, timeout=300)
    assert bare.returncode != 0
    code_shim = ('import torch.distributed as d;'
                 'from wsss_mm.utils.compat import init_cpu_distributed;'
                 "assert init_cpu_distributed('pytorch');"
                 "assert d.get_backend() == 'gloo';"
                 "assert not init_cpu_distributed('pytorch')")
    shim = subprocess.run([sys.executable, '-c', code_shim], env=env,
                          capture_output=True, text=True, timeout=300)
    assert shim.returncode == 0, shim.stderr


def test_mmengine_checkpoint_needs_unpickling_ours_does_not(tmp_path):
    """The upstream problem, and the weights-only files WSSSRunner writes
    (full test: tests/test_engine/test_safe_checkpoint.py)."""
    from wsss_mm.utils.checkpoint import encode_checkpoint
    buf = HistoryBuffer()
    buf.update(1.5)
    ckpt = {
        'meta': {'iter': 3, 'seed': np.int64(7)},
        'state_dict': {'w': torch.ones(2)},
        'message_hub': {'log_scalars': {'loss': buf}},
    }
    path = str(tmp_path / 'iter_3.pth')
    torch.save(ckpt, path)
    with pytest.raises(Exception, match='weights_only|Unsupported global'):
        torch.load(path)
    with pytest.raises(RuntimeError, match='--unsafe-load-checkpoint'):
        compat.load_checkpoint_file(path)
    torch.save(encode_checkpoint(ckpt), path)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    loaded = compat.load_checkpoint_file(path)
    assert loaded['meta']['seed'] == 7
    assert isinstance(loaded['message_hub']['log_scalars']['loss'],
                      HistoryBuffer)
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ


def test_plain_weights_load_without_record(tmp_path):
    path = str(tmp_path / 'weights.pth')
    torch.save({'state_dict': {'w': torch.arange(3.)}}, path)
    ckpt = compat.load_checkpoint_file(path)
    assert torch.equal(ckpt['state_dict']['w'], torch.arange(3.))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        compat.load_checkpoint_file(str(tmp_path / 'missing.pth'))


def test_version_mismatch_warns_not_raises(monkeypatch):
    monkeypatch.setitem(compat.VERIFIED_RANGES, 'mmengine',
                        ('99.0.0', '100.0.0'))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        result = compat.check_versions(warn=True)
    assert result['mmengine'][1] is False
    assert any('mmengine' in str(w.message) for w in caught)
    ok = compat.check_versions(warn=False)
    assert ok['mmsegmentation'][1] is True


def test_default_num_threads():
    cores = os.cpu_count()
    assert compat.default_num_threads(1) == cores
    assert compat.default_num_threads(cores * 4) == 1


_MMSEG_BASE = "_base_ = ['mmseg::_base_/models/deeplabv3plus_r50-d8.py']\n"
# pkg_resources blocked as on setuptools >= 81, whatever is installed here.
_NO_PKG_RESOURCES = "import sys; sys.modules['pkg_resources'] = None;"


def test_mmseg_config_base_needs_pkg_resources_shim(tmp_path):
    cfg = tmp_path / 'child.py'
    cfg.write_text(_MMSEG_BASE + 'model = dict(decode_head=dict('
                   'num_classes=5))\n')
    load = ('from mmengine.config import Config;'
            f'c = Config.fromfile({str(cfg)!r});'
            'print(c.model.type, c.model.backbone.depth,'
            ' c.model.decode_head.num_classes,'
            ' c.model.decode_head.dilations)')
    bare = _run_python(_NO_PKG_RESOURCES + load)
    assert bare.returncode != 0
    assert 'import pkg_resources' in bare.stderr
    assert 'ModuleNotFoundError' in bare.stderr
    shimmed = _run_python(_NO_PKG_RESOURCES + 'import wsss_mm;' + load)
    assert shimmed.returncode == 0, shimmed.stderr
    # mmseg's DeepLabV3+ R50 values, the child's class count
    assert shimmed.stdout.split() == [
        'EncoderDecoder', '50', '5', '(1,', '12,', '24,', '36)'
    ]


def test_installed_path_without_pkg_resources():
    import mmseg
    path = compat.get_installed_path('mmsegmentation')
    assert path == os.path.dirname(mmseg.__file__)
    assert compat.is_installed('mmsegmentation')
    assert not compat.is_installed('no_such_package_wsss_mm')
    with pytest.raises(ModuleNotFoundError, match='no_such_package'):
        compat.get_installed_path('no_such_package_wsss_mm')


def test_stock_checkpoint_loader_reads_runner_checkpoints(tmp_path):
    # mmengine's own load path (mmseg's stock tools/test.py, mmseg.apis)
    from mmengine.runner.checkpoint import CheckpointLoader

    from wsss_mm.utils.checkpoint import save_checkpoint_file
    buf = HistoryBuffer([1.0, 2.0], [1, 1])
    ckpt = {'state_dict': {'w': torch.ones(2)}, 'message_hub': buf}
    pickled = str(tmp_path / 'pickled.pth')
    torch.save(ckpt, pickled)  # as mmengine's own Runner writes it
    with pytest.raises(RuntimeError, match='pickled.pth: refused'):
        CheckpointLoader.load_checkpoint(pickled)
    encoded = str(tmp_path / 'encoded.pth')
    save_checkpoint_file(ckpt, encoded)  # as WSSSRunner writes it
    loaded = CheckpointLoader.load_checkpoint(encoded)
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    assert loaded['message_hub'].mean() == 1.5
