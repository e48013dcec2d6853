"""tools/generate_diffsyn.py end to end on the tiny folders: store, masks,
kill -9 and resume, and a segmenter trained on the result."""
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

CONFIG = 'configs/diffsyn/generate_demo_cpu.py'


def load_tool(name):
    """The package module ``tools/NAME.py`` runs (its ``main``)."""
    import importlib
    return importlib.import_module(
        'wsss_mm.generation.' + name.replace('generate_', ''))


def _opts(sd, **kw):
    opts = dict({
        'generator.sd_model': sd,
        'generator.num_inference_steps': 2,
        'prompts_per_class': 1,
        'images_per_prompt': 2,
        'log_interval': 0,
    }, **kw)
    return ['--cfg-options'] + [f'{k}={v}' for k, v in opts.items()]


def _manifest(work):
    with open(osp.join(work, 'manifest.jsonl')) as f:
        return [json.loads(line) for line in f]


def _check_store(work, n):
    from wsss_mm.generation.store import sha256_file
    recs = _manifest(work)
    assert len(recs) == n and len({r['id'] for r in recs}) == n
    for r in recs:
        for role, rel in r['files'].items():
            assert sha256_file(osp.join(work, rel)) == r['sha256'][role]
        mask = np.array(Image.open(osp.join(work, r['files']['mask'])))
        img = Image.open(osp.join(work, r['files']['image']))
        assert mask.shape == (64, 64) and img.size == (64, 64)
        assert set(np.unique(mask)) <= {0, r['class_id'], 255}
        fg = (mask == r['class_id']).mean()
        assert r['fg_fraction'] == pytest.approx(fg, abs=1e-4)
        assert r['img_labels'] == ([r['class_id']] if fg else [])
    return recs


def test_generate_and_train_segmenter(tiny_diffusion, demo_root, repo_root,
                                      tmp_path):
    tool = load_tool('generate_diffsyn')
    work = str(tmp_path / 'gen')
    summary = tool.main(
        [osp.join(repo_root, CONFIG), '--work-dir', work] +
        _opts(tiny_diffusion['sd_model']))
    assert summary['entries'] == 6 and summary['new'] == 6
    recs = _check_store(work, 6)
    assert sorted({r['class_name'] for r in recs}) == [
        'circle', 'square', 'triangle'
    ]
    assert all(r['class_name'] in r['prompt'] for r in recs)
    # masks are not all background: the attention finds the class token
    assert sum(r['fg_fraction'] for r in recs) > 0
    with open(osp.join(work, 'classes.json')) as f:
        assert json.load(f)['classes'] == [
            'background', 'circle', 'square', 'triangle'
        ]
    # a second run finds everything done
    again = tool.main([osp.join(repo_root, CONFIG), '--work-dir', work] +
                      _opts(tiny_diffusion['sd_model']))
    assert again['new'] == 0 and again['resumed'] == 6

    # a segmenter trains on the generated set with the robust loss
    from mmengine.config import Config

    from wsss_mm.datasets import DiffSynDataset
    from wsss_mm.utils.cli import build_runner
    ds = DiffSynDataset(data_root=work, pipeline=[])
    assert len(ds) == 6 and ds.metainfo['classes'][1] == 'circle'
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs/diffsyn/seg_synthetic_demo_cpu.py'))
    cfg.merge_from_dict({
        'train_dataloader.dataset.data_root': work,
        'val_dataloader.dataset.data_root': demo_root,
        'test_dataloader.dataset.data_root': demo_root,
        'train_cfg.max_iters': 12,
        'train_cfg.val_interval': 12,
        'model.decode_head.loss_decode.start_iter': 4,
        'model.decode_head.loss_decode.ramp_iters': 4,
        'default_hooks.logger.interval': 1,
    })
    cfg.work_dir = str(tmp_path / 'seg')
    runner = build_runner(cfg)
    losses = []
    from mmengine.hooks import Hook

    class Record(Hook):

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            losses.append(float(outputs['decode.loss_ce']))

    runner.register_hook(Record())
    runner.train()
    assert len(losses) == 12 and np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < losses[0]
    metrics = runner.val_loop.run()
    assert 'mIoU' in metrics


def test_bad_store_entries_are_skipped(tiny_diffusion, repo_root, tmp_path):
    tool = load_tool('generate_diffsyn')
    work = str(tmp_path / 'gen')
    tool.main([osp.join(repo_root, CONFIG), '--work-dir', work] +
              _opts(tiny_diffusion['sd_model'], images_per_prompt=1,
                    classes="['circle','square']"))
    recs = _manifest(work)
    with open(osp.join(work, recs[0]['files']['mask']), 'ab') as f:
        f.write(b'x')  # corrupt
    from wsss_mm.datasets import DiffSynDataset
    ds = DiffSynDataset(data_root=work, pipeline=[])
    assert len(ds) == 1 and ds.num_skipped == 1
    with pytest.raises(FileNotFoundError, match='generate_diffsyn'):
        DiffSynDataset(data_root=str(tmp_path / 'nothing'), pipeline=[],
                       metainfo=dict(classes=('a', 'b')))


def test_missing_model_folder_says_how(repo_root, tmp_path):
    tool = load_tool('generate_diffsyn')
    with pytest.raises(FileNotFoundError, match='make_tiny_diffusion'):
        tool.main([osp.join(repo_root, CONFIG), '--work-dir',
                   str(tmp_path / 'w')] + _opts(str(tmp_path / 'absent')))


def test_kill9_and_resume(tiny_diffusion, repo_root, tmp_path):
    work = str(tmp_path / 'gen')
    cmd = [sys.executable, 'tools/generate_diffsyn.py', CONFIG,
           '--work-dir', work] + _opts(
               tiny_diffusion['sd_model'], images_per_prompt=4,
               prompts_per_class=2)
    total = 3 * 2 * 4
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.Popen(cmd, cwd=repo_root, env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    shard = osp.join(work, 'manifest.rank0.jsonl')
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if osp.isfile(shard) and open(shard).read().count('\n') >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, 'the run ended before it could be killed'
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = open(shard).read().count('\n')
    assert 3 <= done < total
    assert not osp.isfile(osp.join(work, 'manifest.jsonl'))

    # resume with 2 processes (torchrun, gloo): each rank takes a disjoint
    # shard of the remaining items, rank 0 merges the shards
    from wsss_test_utils import free_port
    dist_cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
        '2', '--master_port', str(free_port())
    ] + cmd[1:] + ['--launcher', 'pytorch']
    out = subprocess.run(dist_cmd, cwd=repo_root, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary['world_size'] == 2
    assert summary['resumed'] >= done
    assert summary['new'] + summary['resumed'] == total
    with open(osp.join(work, 'generation_summary.json')) as f:
        ranks = json.load(f)['ranks']
    assert [r['rank'] for r in ranks] == [0, 1]
    assert all(r['new'] + r['resumed'] == total // 2 for r in ranks)
    assert osp.isfile(osp.join(work, 'manifest.rank1.jsonl'))
    _check_store(work, total)
    assert json.load(open(osp.join(work, 'classes.json')))['classes'][1] \
        == 'circle'
