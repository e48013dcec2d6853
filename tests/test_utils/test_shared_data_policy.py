"""Tests that need ../shared/data fail in CI instead of skipping."""
import subprocess
import sys

import pytest
from wsss_test_utils import HERE

TEST = """
from wsss_test_utils import shared_or_skip

def test_needs_data():
    shared_or_skip('no_such_dataset_folder')
"""


@pytest.mark.parametrize('env,outcome', [
    ({}, '1 skipped'),
    ({'CI': 'true'}, '1 failed'),
    ({'WSSS_REQUIRE_SHARED_DATA': '1'}, '1 failed'),
])
def test_shared_or_skip_fails_in_ci(tmp_path, monkeypatch, env, outcome):
    monkeypatch.delenv('CI', raising=False)
    monkeypatch.delenv('WSSS_REQUIRE_SHARED_DATA', raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    path = tmp_path / 'test_needs.py'
    path.write_text(TEST)
    proc = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
         str(path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**__import__('os').environ, 'PYTHONPATH': HERE})
    assert outcome in proc.stdout, proc.stdout[-2000:]
    if 'failed' in outcome:
        assert 'requires it' in proc.stdout
