"""tools/generate_iaa.py end to end on CPU with the tiny pipeline: offline
and loopback-LLM prompts, filter accounting, kill -9 + resume, torchrun."""
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time

import pytest
from generation_test_utils import (LoopbackChatServer, closed_port_url,
                                   subprocess_env)
from iaa_test_utils import write_filter_checkpoint
from wsss_test_utils import REPO_ROOT, free_port

from wsss_mm.generation import sha256_file
from wsss_mm.utils.fileio import is_temp_file

TOOL = osp.join(REPO_ROOT, 'tools', 'generate_iaa.py')
CONFIG = osp.join(REPO_ROOT, 'configs', 'iaa', 'generate_demo_cpu.py')
TORCHRUN = osp.join(osp.dirname(sys.executable), 'torchrun')
NUM_SOURCES = 3


def _tool():
    """The package module tools/generate_iaa.py runs."""
    import wsss_mm.generation.iaa as iaa
    return iaa


@pytest.fixture(scope='module')
def env(tmp_path_factory, tiny_diffusion):
    from wsss_mm.datasets import generate_demo_dataset
    root = tmp_path_factory.mktemp('iaa')
    demo = str(root / 'demo')
    generate_demo_dataset(demo, num_train=NUM_SOURCES, num_val=1, size=64,
                          seed=5)
    ckpt = write_filter_checkpoint(str(root / 'filter.pth'))
    return dict(demo=demo, ckpt=ckpt, **tiny_diffusion)


def _options(env, **over):
    opts = {
        'source.data_root': env['demo'],
        'generator.sd_model': env['sd_model'],
        'generator.controlnet_model': env['controlnet_model'],
        'generator.num_inference_steps': 2,
        'generator.resolution': 64,
        'filter.checkpoint': env['ckpt'],
        'filter.input_size': 64,
        'filter.threshold': 0.0,
        'filter.max_tries': 1,
        'filter.early_check': None,
        'num_per_image': 2,
        'log_interval': 0,
    }
    if any(k.startswith('filter.early_check.') for k in over):
        del opts['filter.early_check']  # the config's dict, overridden
    opts.update(over)
    return opts


def _argv(work_dir, opts):
    return [CONFIG, '--work-dir', str(work_dir), '--cfg-options'] + [
        f'{k}={_fmt(v)}' for k, v in opts.items()
    ]


def _fmt(v):
    return 'None' if v is None else str(v)


def _manifest(work_dir):
    with open(osp.join(work_dir, 'manifest.jsonl')) as f:
        return [json.loads(line) for line in f]


def _check_store(work_dir):
    """Every entry once, files verified, no stray or temporary file."""
    recs = _manifest(work_dir)
    ids = [r['id'] for r in recs]
    assert len(ids) == len(set(ids))
    names = os.listdir(osp.join(work_dir, 'images'))
    assert not [n for n in names if is_temp_file(n)]
    assert sorted(names) == sorted(osp.basename(r['files']['image'])
                                   for r in recs)
    for r in recs:
        assert sha256_file(osp.join(work_dir, r['files']['image'])) == \
            r['sha256']['image']
    return recs


def _source_labels(env):
    with open(osp.join(env['demo'], 'image_labels.json')) as f:
        labels = json.load(f)
    return {k: v for k, v in labels.items() if k.startswith('train')}


@pytest.fixture(scope='module', autouse=True)
def _one_thread():
    """In-process runs use one thread like the subprocesses
    (``subprocess_env``): float results, and so image bytes, depend on the
    thread count, and the tests compare files across the two."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope='module')
def accept_all(env, tmp_path_factory):
    """One offline run that accepts every first try (threshold 0)."""
    out = tmp_path_factory.mktemp('accept_all')
    summary = _tool().main(_argv(out, _options(env)))
    return str(out), summary


def test_offline_end_to_end_and_resume(env, accept_all):
    out, summary = accept_all
    assert summary['entries'] == summary['new'] == 2 * NUM_SOURCES
    assert summary['tries'] == 2 * NUM_SOURCES
    recs = _check_store(out)
    labels = _source_labels(env)
    per_source = {}
    for r in recs:
        per_source[r['source_id']] = per_source.get(r['source_id'], 0) + 1
        assert r['img_labels'] == labels[r['source_id']]
        for name in r['class_names']:
            assert name in r['prompt']
        assert r['condition'] == 'canny' and r['tries'] == 1
        assert r['unet_calls'] == 2
        assert len(r['scores']) == 4
        assert r['label_score'] == pytest.approx(
            min(r['scores'][c] for c in r['img_labels']), abs=1e-5)
    # class balance: every source image has num_per_image images
    assert per_source == {name: 2 for name in labels}
    with open(osp.join(out, 'prompts.json')) as f:
        bank = json.load(f)['classes']
    assert set(bank) == {'circle', 'square', 'triangle'} & set(
        n for r in recs for n in r['class_names'])
    # a second run resumes: nothing new, the same manifest
    before = _manifest(out)
    again = _tool().main(_argv(out, _options(env)))
    assert again['new'] == 0 and again['resumed'] == 2 * NUM_SOURCES
    assert _manifest(out) == before


def test_filter_rejects_and_shortfalls_are_counted(env, accept_all,
                                                   tmp_path):
    """Known answer: with one try per image and the same seeds, exactly
    the images whose first try scored >= threshold are accepted."""
    first = {r['id']: r['label_score'] for r in _manifest(accept_all[0])}
    scores = sorted(first.values())
    thr = (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2
    expected = sorted(i for i, s in first.items() if s >= thr)
    assert 0 < len(expected) < len(first)
    summary = _tool().main(
        _argv(tmp_path, _options(env, **{'filter.threshold': thr})))
    recs = _check_store(str(tmp_path))
    assert sorted(r['id'] for r in recs) == expected
    short = len(first) - len(expected)
    assert summary['skipped_by_kind'] == {'shortfall': short}
    assert summary['acceptance_rate'] == pytest.approx(
        len(expected) / len(first))
    with open(tmp_path / 'skipped.rank0.jsonl') as f:
        skipped = [json.loads(line) for line in f]
    assert sorted(s['id'] for s in skipped) == sorted(
        set(first) - set(expected))
    assert all(s['kind'] == 'shortfall' and s['tries'] == 1
               for s in skipped)
    # more tries: rejected images get new seeds/prompts until they pass
    more = _tool().main(
        _argv(tmp_path / 'more',
              _options(env, **{'filter.threshold': thr,
                               'filter.max_tries': 4})))
    recs = _check_store(str(tmp_path / 'more'))
    assert len(recs) + more['skipped'] == len(first)
    assert len(recs) > len(expected)
    assert all(r['label_score'] >= thr for r in recs)
    assert any(r['tries'] > 1 for r in recs)
    for r in recs:
        assert len(r['try_log']) == r['tries']
        assert [t.get('score', 1) >= thr for t in r['try_log']][-1]


def test_early_check_stops_samples_and_counts_unet_calls(env, tmp_path):
    """An early check nobody passes: every try stops after step 2 of 4,
    every item is a shortfall, and the UNet ran 2 of 4 steps per try."""
    summary = _tool().main(
        _argv(tmp_path,
              _options(env, **{'generator.num_inference_steps': 4,
                               'filter.max_tries': 2,
                               'filter.early_check.at': 0.5,
                               'filter.early_check.threshold': 1.01,
                               'num_per_image': 1})))
    assert summary['entries'] == 0
    assert summary['skipped_by_kind'] == {'shortfall': NUM_SOURCES}
    assert summary['early_stops'] == 2 * NUM_SOURCES
    with open(tmp_path / 'skipped.rank0.jsonl') as f:
        skipped = [json.loads(line) for line in f]
    for s in skipped:
        assert s['unet_calls'] == 2 * 2
        assert [t['steps'] for t in s['try_log']] == [2, 2]


def test_loopback_llm_prompts_and_the_key_stays_secret(env, tmp_path,
                                                       monkeypatch):
    secret = 'sk-iaa-test-0123456789abcdef'
    monkeypatch.setenv('IAA_TEST_KEY', secret)
    cache = tmp_path / 'cache'
    with LoopbackChatServer() as server:
        summary = _tool().main(
            _argv(tmp_path / 'out',
                  _options(env, **{
                      'prompter.type': 'OpenAIPrompter',
                      'prompter.base_url': server.url,
                      'prompter.model': 'tiny-llm',
                      'prompter.api_key_env': 'IAA_TEST_KEY',
                      'prompter.cache_dir': str(cache),
                      'num_per_image': 1,
                  })))
    assert server.requests and all(
        a == f'Bearer {secret}' for a in server.auth)
    assert summary['entries'] == NUM_SOURCES
    with open(tmp_path / 'out' / 'prompts.json') as f:
        bank = json.load(f)['classes']
    for items in bank.values():
        assert items and all(p['source'] == 'llm' for p in items)
        # self-refinement: the implausible 'moon' prompts were rewritten
        assert not any('moon' in p['prompt'] for p in items)
    for r in _manifest(tmp_path / 'out'):
        assert any(p['prompt'] in r['prompt'] for p in
                   sum(bank.values(), []))
    written = 0
    for folder, _, files in os.walk(tmp_path):
        for name in files:
            with open(osp.join(folder, name), 'rb') as f:
                assert secret.encode() not in f.read(), name
            written += 1
    assert written > NUM_SOURCES + 3  # images, manifest, logs, cache


def test_llm_down(env, tmp_path, monkeypatch):
    monkeypatch.setenv('IAA_TEST_KEY', 'sk-down-secret-42')
    opts = _options(env, **{
        'prompter.type': 'OpenAIPrompter',
        'prompter.base_url': closed_port_url(),
        'prompter.model': 'm',
        'prompter.api_key_env': 'IAA_TEST_KEY',
        'prompter.max_retries': 1,
        'prompter.backoff': 0.01,
        'prompter.timeout': 2,
        'prompter.cache_dir': str(tmp_path / 'cache'),
        'num_per_image': 1,
    })
    # default: a logged fall-back to the offline prompts, the run completes
    summary = _tool().main(_argv(tmp_path / 'fallback', opts))
    assert summary['entries'] == NUM_SOURCES
    with open(tmp_path / 'fallback' / 'prompts.json') as f:
        bank = json.load(f)['classes']
    assert all(p['source'] == 'fallback' for v in bank.values() for p in v)
    # on_failure='raise': a clear error, without the key
    from wsss_mm.generation.prompts.openai_prompter import LLMFailure
    with pytest.raises(LLMFailure) as err:
        _tool().main(_argv(tmp_path / 'raise',
                           dict(opts, **{'prompter.on_failure': 'raise'})))
    assert 'sk-down-secret-42' not in str(err.value)
    assert not osp.exists(tmp_path / 'raise' / 'manifest.jsonl')


def test_bad_inputs(env, tmp_path):
    # a missing model folder names the key and how to get it
    with pytest.raises(FileNotFoundError) as err:
        _tool().main(_argv(tmp_path / 'a', _options(
            env, **{'generator.controlnet_model': str(tmp_path / 'none')})))
    assert 'generator.controlnet_model' in str(err.value)
    assert 'make_tiny_diffusion.py' in str(err.value)
    # an unreadable source image is skipped and counted, the rest is made
    demo = str(tmp_path / 'demo')
    shutil.copytree(env['demo'], demo)
    with open(osp.join(demo, 'JPEGImages', 'train_0001.jpg'), 'wb') as f:
        f.write(b'not a jpeg')
    summary = _tool().main(_argv(tmp_path / 'b', _options(
        env, **{'source.data_root': demo})))
    assert summary['skipped_by_kind'] == {'bad_input': 2}
    recs = _check_store(str(tmp_path / 'b'))
    assert len(recs) == 2 * (NUM_SOURCES - 1)
    assert 'train_0001' not in {r['source_id'] for r in recs}


def _cmd(work_dir, opts, launcher=None):
    argv = _argv(work_dir, opts)
    if launcher:
        return [TORCHRUN, '--nproc_per_node', '2', '--master_port',
                str(free_port()), TOOL] + argv + ['--launcher', launcher]
    return [sys.executable, TOOL] + argv


def test_kill_9_then_resume_matches_an_uninterrupted_run(env, accept_all,
                                                        tmp_path):
    out = str(tmp_path / 'killed')
    opts = _options(env)
    proc = subprocess.Popen(
        _cmd(out, opts), env=subprocess_env(), cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shard = osp.join(out, 'manifest.rank0.jsonl')
    deadline = time.time() + 240
    while time.time() < deadline:
        if osp.isfile(shard) and sum(1 for _ in open(shard)) >= 2:
            break
        assert proc.poll() is None, 'the generator ended before the kill'
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not osp.isfile(osp.join(out, 'manifest.jsonl'))
    summary = _tool().main(_argv(out, opts))
    assert summary['resumed'] >= 2
    assert summary['resumed'] + summary['new'] == 2 * NUM_SOURCES
    recs = _check_store(out)
    # the same entries, bit for bit, as the run that was never killed
    ref = {r['id']: r['sha256'] for r in _manifest(accept_all[0])}
    assert {r['id']: r['sha256'] for r in recs} == ref


def test_torchrun_two_processes_shard_the_work(env, accept_all, tmp_path):
    out = str(tmp_path / 'two')
    proc = subprocess.run(
        _cmd(out, _options(env), launcher='pytorch'), env=subprocess_env(),
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    shards = []
    for r in range(2):
        with open(osp.join(out, f'manifest.rank{r}.jsonl')) as f:
            shards.append({json.loads(line)['id'] for line in f})
    assert shards[0] and shards[1] and not shards[0] & shards[1]
    recs = _check_store(out)
    ref = {r['id']: r['sha256'] for r in _manifest(accept_all[0])}
    assert {r['id']: r['sha256'] for r in recs} == ref


def test_manifest_feeds_iaa_training(env, accept_all, tmp_path):
    """configs/iaa/iaa_apc_demo_cpu.py trains on real + generated images
    (one batch holds all of them) with the real Runner."""
    import torch
    from mmengine.config import Config

    from wsss_mm.utils import register_all_modules
    from wsss_mm.utils.cli import build_runner
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'iaa', 'iaa_apc_demo_cpu.py'))
    n_all = NUM_SOURCES + 2 * NUM_SOURCES
    cfg.merge_from_dict({
        'train_dataloader.dataset.datasets.0.data_root': env['demo'],
        'train_dataloader.dataset.datasets.1.data_root': accept_all[0],
        'train_dataloader.batch_size': n_all,
        'train_dataloader.num_workers': 0,
        'val_dataloader.dataset.data_root': env['demo'],
        'val_dataloader.num_workers': 0,
        'test_dataloader.dataset.data_root': env['demo'],
        'test_dataloader.num_workers': 0,
        'train_cfg.max_iters': 2,
        'train_cfg.val_interval': 100,
        'default_hooks.checkpoint.interval': 2,
        'param_scheduler': [],
        'work_dir': str(tmp_path),
    })
    cfg.launcher = 'none'
    runner = build_runner(cfg)
    data = runner.train_dataloader.dataset
    assert len(data.datasets[1]) == 2 * NUM_SOURCES and len(data) == n_all
    synth = data.datasets[1].get_data_info(0)
    assert synth['img_path'].startswith(accept_all[0])
    assert synth['img_labels'] == _source_labels(env)['train_0000']
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    after = runner.model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed and osp.isfile(tmp_path / 'iter_2.pth')
