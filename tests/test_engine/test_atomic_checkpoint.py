"""A real ``kill -9`` while tools/train.py writes a checkpoint never leaves a
torn checkpoint under its name, and ``--resume`` then works; unreadable
checkpoint files give one line naming the file."""
import glob
import os
import os.path as osp
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from wsss_mm.utils.checkpoint import CheckpointError, load_checkpoint_file

CONFIG = 'configs/demo/wsss_demo_cpu.py'

# Runs tools/train.py with file writes of checkpoints slowed down: after
# half of the second checkpoint's bytes, it writes MARK and sleeps, so the
# test can kill it there. Only the writes are wrapped; the code that
# writes is the project's (or mmengine's, on a version without the fix).
SLOW_WRITER = textwrap.dedent("""
    import builtins, os, runpy, sys, time
    mark, argv = sys.argv[1], sys.argv[2:]
    real_open, real_fdopen = builtins.open, os.fdopen
    opened = []

    class Slow:
        def __init__(self, f):
            self._f, self._n = f, 0
            opened.append(self)
            self._stall = len(opened) == 2

        def write(self, data):
            self._n += len(data)
            if self._stall and self._n > 2_000_000:
                half = len(data) // 2
                self._f.write(data[:half])
                self._f.flush()
                os.fsync(self._f.fileno())
                real_open(mark, 'w').close()
                time.sleep(300)
            return self._f.write(data)

        def __getattr__(self, name):
            return getattr(self._f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self._f.__exit__(*exc)

    def is_ckpt(path):  # iter_2.pth or its temporary .iter_2.pth.tmp-...
        name = os.path.basename(str(path))
        return name.endswith('.pth') or '.pth.tmp-' in name

    def open_(file, mode='r', *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        return Slow(f) if 'w' in mode and is_ckpt(file) else f

    def fdopen(fd, mode='r', *args, **kwargs):
        path = os.readlink(f'/proc/self/fd/{fd}')
        f = real_fdopen(fd, mode, *args, **kwargs)
        return Slow(f) if 'w' in mode and is_ckpt(path) else f

    builtins.open, os.fdopen = open_, fdopen
    sys.argv = ['tools/train.py'] + argv
    runpy.run_path('tools/train.py', run_name='__main__')
""")


def _opts(data_root, max_iters):
    return ['--cfg-options'] + [
        f'{k}_dataloader.dataset.data_root={data_root}'
        for k in ('train', 'val', 'test')
    ] + [
        f'train_cfg.max_iters={max_iters}', 'train_cfg.val_interval=1000',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_dataloader.dataset.pipeline.2.scale=(32,32)',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=2',
        'default_hooks.logger.interval=1'
    ]


@pytest.mark.skipif(not osp.isdir('/proc/self/fd'), reason='needs /proc')
def test_kill_9_during_checkpoint_write_then_resume(tmp_path, repo_root):
    from wsss_mm.datasets import generate_demo_dataset
    data = str(tmp_path / 'data')
    generate_demo_dataset(data, num_train=8, num_val=2, size=32, seed=1)
    work = str(tmp_path / 'work')
    script = tmp_path / 'slow_train.py'
    script.write_text(SLOW_WRITER)
    mark = str(tmp_path / 'mid_save')
    child = subprocess.Popen(
        [sys.executable, str(script), mark, CONFIG, '--work-dir', work] +
        _opts(data, 4), cwd=repo_root, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while not osp.exists(mark):
        assert child.poll() is None, child.stderr.read().decode()[-3000:]
        assert time.time() < deadline, 'the checkpoint write never started'
        time.sleep(0.2)
    os.kill(child.pid, signal.SIGKILL)  # mid-write of iter_2.pth
    child.wait()
    assert child.returncode == -signal.SIGKILL

    with open(osp.join(work, 'last_checkpoint')) as f:
        named = f.read().strip()
    assert named == osp.join(work, 'iter_1.pth')
    assert load_checkpoint_file(named)['meta']['iter'] == 1
    # No torn file under a checkpoint's name: each one loads.
    ckpts = sorted(glob.glob(osp.join(work, '*.pth')))
    assert ckpts == [named]
    for path in ckpts:
        load_checkpoint_file(path)
    # The torn bytes sit in a temporary, removed when training restarts.
    assert glob.glob(osp.join(work, '.iter_2.pth.tmp-*'))

    proc = subprocess.run(
        [sys.executable, 'tools/train.py', CONFIG, '--work-dir', work,
         '--resume'] + _opts(data, 3),
        cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resumed epoch: 0, iter: 1' in proc.stdout + proc.stderr
    assert not glob.glob(osp.join(work, '.*tmp-*'))
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().strip() == osp.join(work, 'iter_3.pth')
    # max_keep_ckpts=2: iter_1 and its leftovers are gone.
    assert sorted(os.listdir(work)) == sorted(
        ['iter_2.pth', 'iter_3.pth', 'last_checkpoint',
         'wsss_demo_cpu.py'] + [d for d in os.listdir(work)
                                if osp.isdir(osp.join(work, d))])
    assert load_checkpoint_file(osp.join(work, 'iter_3.pth'))['meta'][
        'iter'] == 3


def _good_checkpoint(path):
    torch.save({'state_dict': {'w': torch.arange(200000.)}}, path)


@pytest.mark.parametrize('kind,expected', [
    ('empty', 'empty file (0 bytes)'),
    ('truncated', 'truncated or corrupt checkpoint'),
    ('text', 'not a PyTorch checkpoint'),
    ('pickle_garbage', 'unreadable checkpoint'),
])
def test_unreadable_checkpoint_one_line(tmp_path, kind, expected):
    path = str(tmp_path / f'{kind}.pth')
    if kind == 'empty':
        open(path, 'wb').close()
    elif kind == 'truncated':
        _good_checkpoint(path)
        with open(path, 'rb') as f:
            data = f.read()
        with open(path, 'wb') as f:
            f.write(data[:len(data) // 2])
    elif kind == 'text':
        with open(path, 'w') as f:
            f.write('<html>404 not found</html>\n')
    else:
        with open(path, 'wb') as f:
            f.write(b'\x80\x04garbage')
    with pytest.raises(CheckpointError) as err:
        load_checkpoint_file(path)
    msg = str(err.value)
    assert msg.startswith(path + ': ') and expected in msg, msg
    assert '\n' not in msg and 'trust' not in msg


def test_tools_print_one_line_for_a_truncated_checkpoint(tmp_path,
                                                        repo_root):
    path = str(tmp_path / 'iter_9.pth')
    _good_checkpoint(path)
    with open(path, 'r+b') as f:
        f.truncate(4096)
    from wsss_mm.datasets import generate_demo_dataset
    data = str(tmp_path / 'data')
    generate_demo_dataset(data, num_train=2, num_val=1, size=32, seed=1)
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', CONFIG, '--work-dir',
         str(tmp_path / 'w'), '--resume', path] + _opts(data, 2),
        cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f'error: {path}: truncated or corrupt checkpoint (4096 bytes; the '
        'zip archive has no end record, e.g. a write that was interrupted)')
    assert 'Traceback' not in proc.stderr
