"""The generation loop: counts, resume, real kill -9, torchrun sharding."""
import json
import os
import os.path as osp
import signal
import subprocess
import sys

import pytest
from generation_test_utils import (REPO_ROOT, FakeProducer, fake_items,
                                   subprocess_env)
from wsss_test_utils import free_port

from wsss_mm.generation import GenerationStore, run_generation, sha256_file
from wsss_mm.utils.fileio import is_temp_file

SCRIPT = osp.join(REPO_ROOT, 'tests', 'generation_test_utils.py')
TORCHRUN = osp.join(osp.dirname(sys.executable), 'torchrun')


def _manifest(root):
    with open(osp.join(root, 'manifest.jsonl')) as f:
        return [json.loads(line) for line in f]


def _assert_complete(root, expected_ids):
    """Every expected entry exactly once, files verified, nothing else."""
    recs = _manifest(root)
    assert [r['id'] for r in recs] == expected_ids
    referenced = set()
    for r in recs:
        for role, rel in r['files'].items():
            assert sha256_file(osp.join(root, rel)) == r['sha256'][role]
            referenced.add(osp.normpath(rel))
    on_disk = set()
    for folder in ('images', 'masks'):
        for name in os.listdir(osp.join(root, folder)):
            assert not is_temp_file(name), name
            on_disk.add(osp.join(folder, name))
    assert on_disk == referenced
    return recs


def test_counts_resume_and_skip_accounting(tmp_path):
    items = fake_items(4, 3)
    producer = FakeProducer(skip_k=2)
    summary = run_generation(items, producer, GenerationStore(str(tmp_path)),
                             log_interval=0.)
    # sources 0..3 take 1, 2, 1, 2 tries; k=2 items are skipped (3 tries)
    assert (summary['new'], summary['skipped'], summary['entries']) == (8,
                                                                       4, 8)
    assert summary['tries'] == 2 * (1 + 2 + 1 + 2) + 4 * 3
    assert summary['acceptance_rate'] == pytest.approx(8 / 24)
    assert summary['skipped_by_kind'] == {'shortfall': 4}
    expected = [it.id for it in items if it.data['k'] != 2]
    recs = _assert_complete(str(tmp_path), expected)
    assert recs[1]['tries'] == 1 and recs[2]['tries'] == 2
    assert recs[0]['img_labels'] == [1] and recs[0]['source_id'] == 'src000'
    with open(tmp_path / 'generation_summary.json') as f:
        assert json.load(f)['entries'] == 8

    again = FakeProducer(skip_k=2)
    summary = run_generation(items, again, GenerationStore(str(tmp_path)),
                             log_interval=0.)
    assert again.calls == []  # nothing produced twice, no try re-spent
    assert (summary['new'], summary['resumed'], summary['skipped_before'],
            summary['entries']) == (0, 8, 4, 8)
    retry = FakeProducer(skip_k=-1)
    summary = run_generation(items, retry, GenerationStore(str(tmp_path)),
                             log_interval=0., retry_skipped=True)
    assert sorted(retry.calls) == sorted(it.id for it in items
                                         if it.data['k'] == 2)
    _assert_complete(str(tmp_path), [it.id for it in items])
    with open(tmp_path / 'skipped.jsonl') as f:
        assert f.read() == ''  # every skipped item has an entry now


def test_bad_producer_and_duplicate_ids_fail_clearly(tmp_path):
    items = fake_items(1, 2)
    with pytest.raises(ValueError, match='duplicate work item'):
        run_generation(items + items[:1], FakeProducer(),
                       GenerationStore(str(tmp_path)))
    with pytest.raises(TypeError, match='GeneratedEntry or raise SkipItem'):
        run_generation(items, lambda item: {'image': None},
                       GenerationStore(str(tmp_path)))


def _start(out, *extra):
    return subprocess.Popen(
        [sys.executable, SCRIPT, 'fake-generate', out, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=subprocess_env(), cwd=REPO_ROOT)


def _kill_when(proc, marker: str, count: int = 1) -> list:
    """Read stdout until ``count`` lines start with ``marker``; kill -9."""
    seen, lines = [], []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith(marker):
            seen.append(line.split()[1])
            if len(seen) == count:
                break
    else:
        pytest.fail(f'no {marker!r} before exit: {"".join(lines)[-3000:]}')
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return seen


def _finish(out, *extra):
    proc = subprocess.run(
        [sys.executable, SCRIPT, 'fake-generate', out, *extra],
        capture_output=True, text=True, env=subprocess_env(), cwd=REPO_ROOT,
        timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    produced = [
        line.split()[1:] for line in proc.stdout.splitlines()
        if line.startswith('produced')
    ][0]
    return produced, proc.stdout


def test_kill_9_mid_run_then_resume_completes_without_duplicates(tmp_path):
    out = str(tmp_path / 'store')
    all_ids = [it.id for it in fake_items(6, 3)]
    proc = _start(out, '--sleep', '0.15')
    stored = _kill_when(proc, 'stored', 5)
    with open(osp.join(out, 'manifest.rank0.jsonl')) as f:
        committed = [json.loads(line)['id'] for line in f]
    assert committed[:5] == stored and len(committed) < len(all_ids)
    assert not osp.exists(osp.join(out, 'manifest.jsonl'))
    produced, stdout = _finish(out)
    assert not set(produced) & set(committed)  # committed work not redone
    assert sorted(produced) == sorted(set(all_ids) - set(committed))
    assert f'resumed={len(committed)}' in stdout
    _assert_complete(out, all_ids)


def test_kill_9_between_file_rename_and_manifest_append(tmp_path):
    out = str(tmp_path / 'store')
    all_ids = [it.id for it in fake_items(6, 3)]
    (victim, ) = _kill_when(_start(out, '--pause-before-append', '2'),
                            'files-in-place')
    assert osp.isfile(osp.join(out, 'images', victim + '.png'))
    with open(osp.join(out, 'manifest.rank0.jsonl')) as f:
        assert victim not in f.read()
    produced, _ = _finish(out)
    assert produced[0] == victim  # regenerated, files overwritten
    _assert_complete(out, all_ids)


def test_kill_9_inside_the_manifest_append(tmp_path):
    out = str(tmp_path / 'store')
    all_ids = [it.id for it in fake_items(6, 3)]
    (victim, ) = _kill_when(_start(out, '--torn-append', '1'), 'torn')
    with open(osp.join(out, 'manifest.rank0.jsonl'), 'rb') as f:
        assert not f.read().endswith(b'\n')  # the torn line is there
    produced, stdout = _finish(out)
    assert produced[0] == victim
    assert 'torn last line' in stdout
    recs = _assert_complete(out, all_ids)
    assert len({r['id'] for r in recs}) == len(all_ids)


def test_torchrun_two_processes_give_the_single_process_set(tmp_path):
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    _finish(one, '--num-sources', '3', '--skip-k', '1')
    proc = subprocess.run(
        [TORCHRUN, '--nproc_per_node', '2', '--master_port',
         str(free_port()), SCRIPT, 'fake-generate', two, '--num-sources',
         '3', '--skip-k', '1', '--launcher', 'pytorch'],
        capture_output=True, text=True, env=subprocess_env(), cwd=REPO_ROOT,
        timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # each rank wrote a disjoint, non-empty shard
    shards = []
    for r in range(2):
        with open(osp.join(two, f'manifest.rank{r}.jsonl')) as f:
            shards.append({json.loads(line)['id'] for line in f})
    assert shards[0] and shards[1] and not shards[0] & shards[1]
    assert _manifest(one) == _manifest(two)
    with open(osp.join(two, 'generation_summary.json')) as f:
        summary = json.load(f)
    assert summary['world_size'] == 2 and summary['entries'] == 6
    assert summary['skipped_by_kind'] == {'shortfall': 3}
    assert sum(r['new'] for r in summary['ranks']) == 6
