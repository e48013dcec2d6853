"""Checkpoints of WSSSRunner load with weights_only=True and resume exactly;
no checkpoint file, whatever lies beside it, runs code when loaded."""
import collections
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer

from wsss_mm.registry import RUNNERS
from wsss_mm.utils.checkpoint import (CheckpointError, decode_checkpoint,
                                      encode_checkpoint, load_checkpoint_file)

DEMO_CFG = osp.join(
    osp.dirname(__file__), '..', '..', 'configs', 'demo', 'wsss_demo_cpu.py')


def demo_cfg(work_dir, data_root, max_iters, name):
    cfg = Config.fromfile(DEMO_CFG)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = name  # a message hub of its own per runner
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = data_root
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.dataset.pipeline[2].scale = (32, 32)
    cfg.test_dataloader.dataset.pipeline[1].scale = (32, 32)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                         val_interval=1000)
    cfg.val_cfg = None
    cfg.val_dataloader = None
    cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=2, by_epoch=False, max_keep_ckpts=5)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.pop('visualization')
    return cfg


class Evil:
    """Pickles to a call that writes ``marker`` when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def _forge_sidecar(path):
    """The sha256 record the old trust mechanism accepted."""
    with open(path, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    with open(path + '.wsss_mm.json', 'w') as f:
        json.dump({'sha256': sha, 'writer': 'wsss_mm'}, f)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """4 iterations of the demo with checkpoints at 2 and 4 (in-process)."""
    from wsss_mm.datasets import generate_demo_dataset
    root = tmp_path_factory.mktemp('safe_ckpt')
    data = str(root / 'data')
    generate_demo_dataset(data, num_train=8, num_val=2, size=32, seed=1)
    runner = RUNNERS.build(demo_cfg(root / 'a', data, 4, 'straight'))
    runner.train()
    hub = {k: v._log_history.copy()
           for k, v in runner.message_hub.log_scalars.items()}
    return dict(root=root, data=data, work=str(root / 'a'), hub=hub)


def test_runner_checkpoint_holds_no_pickled_globals(trained):
    path = osp.join(trained['work'], 'iter_4.pth')
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    raw = torch.load(path, weights_only=True)  # no allow-list needed
    assert raw['meta']['iter'] == 4
    ckpt = load_checkpoint_file(path)
    bufs = ckpt['message_hub']['log_scalars']
    assert isinstance(bufs['train/loss'], HistoryBuffer)
    np.testing.assert_array_equal(bufs['train/loss']._log_history,
                                  trained['hub']['train/loss'])
    assert bufs['train/loss']._log_history.dtype == np.float64
    assert ckpt['message_hub']['runtime_info']['keep_ckpt_ids'] == [2, 4]
    assert not osp.exists(path + '.wsss_mm.json')
    with open(osp.join(trained['work'], 'last_checkpoint')) as f:
        assert f.read() == path


def _resume(cfg_dir, data, ckpt, name, unsafe=False):
    cfg = demo_cfg(cfg_dir, data, 4, name)
    cfg.resume = True
    cfg.load_from = ckpt
    cfg.unsafe_load_checkpoint = unsafe
    runner = RUNNERS.build(cfg)
    runner.train()
    assert runner.iter == 4
    return runner


def test_resume_continues_exactly_as_a_pickled_checkpoint(trained, tmp_path):
    """Resuming from the weights-only file equals resuming from the same
    state pickled as mmengine writes it (HistoryBuffer and numpy objects,
    loaded with the explicit unsafe opt-in)."""
    ours = osp.join(trained['work'], 'iter_2.pth')
    old = str(tmp_path / 'iter_2_mmengine.pth')
    torch.save(load_checkpoint_file(ours), old)
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in \
        torch.serialization.get_unsafe_globals_in_checkpoint(old)
    a = _resume(tmp_path / 'a', trained['data'], ours, 'resume_safe')
    b = _resume(tmp_path / 'b', trained['data'], old, 'resume_old', True)
    hub_a, hub_b = a.message_hub, b.message_hub
    for key in ('train/loss', 'train/loss_mce', 'train/lr',
                'train/decode.loss_ce'):
        hist = hub_a.log_scalars[key]._log_history
        assert len(hist) == 4  # iterations 1-2 restored, 3-4 trained
        np.testing.assert_array_equal(hist[:2], trained['hub'][key][:2])
        np.testing.assert_array_equal(
            hist, hub_b.log_scalars[key]._log_history)
    for k in ('keep_ckpt_ids', 'iter', 'seed', 'last_ckpt'):
        assert hub_a.get_info(k) == hub_b.get_info(k) or k == 'last_ckpt'
    sa = load_checkpoint_file(str(tmp_path / 'a' / 'iter_4.pth'))
    sb = load_checkpoint_file(str(tmp_path / 'b' / 'iter_4.pth'))
    for k, v in sa['state_dict'].items():
        assert torch.equal(v, sb['state_dict'][k]), k
    assert sa['optimizer']['state'][0]['step'] == 4
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ


def test_encode_roundtrip_keeps_types_and_bits():
    buf = HistoryBuffer(max_length=7)
    for v in (1.5, 2.25, 3):
        buf.update(v)
    obj = {'h': buf, 'eta': np.float64(0.1), 'n': np.int64(3),
           'b': np.bool_(True), 'a': np.arange(6, dtype=np.int16)[::2],
           'l': [1, 'x', (2.0, None)], 't': torch.ones(2),
           # MultiStepLR keeps its milestones in a Counter
           'm': collections.Counter({662: 1, 900: 2})}
    enc = encode_checkpoint(obj)
    import io
    f = io.BytesIO()
    torch.save(enc, f)
    f.seek(0)
    dec = decode_checkpoint(torch.load(f, weights_only=True))
    assert dec['h'].max_length == 7
    np.testing.assert_array_equal(dec['h']._log_history, buf._log_history)
    assert dec['h']._log_history.dtype == buf._log_history.dtype
    assert dec['h']._count_history.dtype == buf._count_history.dtype
    assert type(dec['eta']) is np.float64 and dec['eta'] == np.float64(0.1)
    assert type(dec['n']) is np.int64 and type(dec['b']) is np.bool_
    assert dec['a'].dtype == np.int16 and dec['a'].tolist() == [0, 2, 4]
    assert dec['l'] == [1, 'x', (2.0, None)]
    assert type(dec['m']) is collections.Counter
    assert dec['m'] == {662: 1, 900: 2} and dec['m'][5] == 0
    with pytest.raises(TypeError, match=r'checkpoint\.x.*Evil'):
        encode_checkpoint({'x': Evil('/nonexistent')})


@pytest.mark.parametrize('sidecar', [False, True])
def test_malicious_pickle_is_refused(trained, tmp_path, sidecar):
    src = load_checkpoint_file(osp.join(trained['work'], 'iter_4.pth'))
    marker = tmp_path / 'pwned'
    path = str(tmp_path / 'iter_4.pth')
    src['meta']['payload'] = Evil(marker)  # an otherwise valid checkpoint
    torch.save(src, path)
    if sidecar:
        _forge_sidecar(path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint_file(path)
    msg = str(err.value)
    assert path in msg and 'posix.system' in msg and '\n' not in msg
    assert not marker.exists()
    # The runner's own loader (resume, load_from, tools/test.py) too.
    cfg = demo_cfg(tmp_path / 'w', trained['data'], 4, f'evil{sidecar}')
    runner = RUNNERS.build(cfg)
    with pytest.raises(CheckpointError):
        runner.load_checkpoint(path)
    assert not marker.exists()


def test_unsafe_opt_in_warns_naming_the_file(tmp_path):
    path = str(tmp_path / 'old_mmengine.pth')
    buf = HistoryBuffer()
    buf.update(2.0)
    torch.save({'meta': {'iter': 1}, 'message_hub': {'b': buf}}, path)
    with pytest.raises(CheckpointError, match='--unsafe-load-checkpoint'):
        load_checkpoint_file(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        ckpt = load_checkpoint_file(path, unsafe=True)
    assert isinstance(ckpt['message_hub']['b'], HistoryBuffer)
    assert any(path in str(w.message) and 'UNSAFE' in str(w.message)
               for w in caught)


def test_tools_refuse_malicious_checkpoint(trained, tmp_path, repo_root):
    src = load_checkpoint_file(osp.join(trained['work'], 'iter_4.pth'))
    marker = tmp_path / 'pwned_by_tool'
    path = str(tmp_path / 'evil.pth')
    src['meta']['payload'] = Evil(marker)
    torch.save(src, path)
    _forge_sidecar(path)
    d = trained['data']
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', DEMO_CFG, path, '--work-dir',
         str(tmp_path / 't'), '--cfg-options',
         f'test_dataloader.dataset.data_root={d}',
         'test_dataloader.num_workers=0',
         'test_dataloader.persistent_workers=False'],
        cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert not marker.exists()
    last = proc.stderr.strip().splitlines()[-1]
    assert path in last and 'refused' in last, proc.stderr[-2000:]
    assert 'Traceback' not in proc.stderr
