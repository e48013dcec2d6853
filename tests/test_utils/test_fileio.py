"""The one atomic-write helper: complete or absent, even after kill -9."""
import json
import os
import signal
import subprocess
import sys

import pytest

from wsss_mm.utils.fileio import (atomic_write, dump_json_atomic, is_temp_file,
                                  remove_stale_temp_files, write_bytes_atomic)


def test_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / 'sub' / 'a.json'
    dump_json_atomic({'x': 1}, str(path))
    dump_json_atomic({'x': 2}, str(path))
    assert json.loads(path.read_text()) == {'x': 2}
    assert os.listdir(path.parent) == ['a.json']


def test_file_mode_is_what_open_would_give(tmp_path):
    old = os.umask(0o022)
    try:
        write_bytes_atomic(str(tmp_path / 'a.bin'), b'x')
    finally:
        os.umask(old)
    assert (tmp_path / 'a.bin').stat().st_mode & 0o777 == 0o644


def test_exception_keeps_old_content(tmp_path):
    path = tmp_path / 'a.bin'
    write_bytes_atomic(str(path), b'old')
    with pytest.raises(RuntimeError):
        with atomic_write(str(path)) as f:
            f.write(b'half')
            raise RuntimeError('crash inside the block')
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['a.bin']


def test_kill_9_mid_write_leaves_old_file_and_only_a_temporary(tmp_path):
    path = tmp_path / 'big.bin'
    write_bytes_atomic(str(path), b'old')
    code = (
        'import sys, time\n'
        'from wsss_mm.utils.fileio import atomic_write\n'
        'with atomic_write(sys.argv[1]) as f:\n'
        '    f.write(b"x" * 1000)\n'
        '    f.flush()\n'
        '    print("writing", flush=True)\n'
        '    time.sleep(60)\n')
    proc = subprocess.Popen([sys.executable, '-c', code, str(path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'writing'
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert path.read_bytes() == b'old'
    leftovers = [n for n in os.listdir(tmp_path) if n != 'big.bin']
    assert len(leftovers) == 1 and is_temp_file(leftovers[0])
    removed = remove_stale_temp_files(str(tmp_path))
    assert [os.path.basename(p) for p in removed] == leftovers
    assert os.listdir(tmp_path) == ['big.bin']


def test_rejects_append_mode(tmp_path):
    with pytest.raises(ValueError, match='mode'):
        with atomic_write(str(tmp_path / 'x'), 'a'):
            pass


def test_append_line_durable_appends_whole_lines(tmp_path):
    from wsss_mm.utils.fileio import append_line_durable
    path = tmp_path / 'sub' / 'log.jsonl'
    append_line_durable(str(path), '{"a": 1}')
    append_line_durable(str(path), '{"a": 2}\n')
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n'
    with pytest.raises(ValueError, match='single line'):
        append_line_durable(str(path), 'x\ny')
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n'
