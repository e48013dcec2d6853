"""The plugin's pooling values, and training with it through tools/train.py.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import torch

PLUGIN_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
REPO_ROOT = osp.dirname(osp.dirname(PLUGIN_ROOT))
sys.path.insert(0, PLUGIN_ROOT)

from example_plugin import LogSumExpPool, log_sum_exp_pool  # noqa: E402


def test_log_sum_exp_values():
    scores = torch.tensor([[[0.0, 1.0], [1.0, 1.0]]])  # B=1, N=2, C=2
    out = log_sum_exp_pool(scores, r=2.0)
    expected0 = torch.log((torch.exp(torch.tensor(0.)) +
                           torch.exp(torch.tensor(2.))) / 2) / 2
    assert torch.allclose(out[0, 0], expected0)
    assert torch.allclose(out[0, 1], torch.tensor(1.0))
    # Between GAP and GMP for any input.
    x = torch.rand(3, 50, 4)
    lse = LogSumExpPool(r=10.0)(x)
    assert torch.all(lse <= x.max(dim=1).values + 1e-6)
    assert torch.all(lse >= x.mean(dim=1) - 1e-6)


def test_registered_in_wsss_mm_scope():
    from wsss_mm.registry import MODELS
    pool = MODELS.build(dict(type='LogSumExpPool', r=3.0))
    assert isinstance(pool, LogSumExpPool) and pool.r == 3.0


def _lse_by_hand(x, r):
    """log(mean(exp(r * x))) / r over patches, written out."""
    return torch.log(torch.exp(r * x).mean(dim=1)) / r


def _build_plugin_model(cfg_path):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from wsss_mm.registry import MODELS
    cfg = Config.fromfile(cfg_path)
    with DefaultScope.overwrite_default_scope('wsss_mm'):
        return MODELS.build(cfg.model)


def test_config_builds_plugin_pooling_and_it_runs():
    model = _build_plugin_model(
        osp.join(PLUGIN_ROOT, 'configs', 'apc_lse_demo.py'))
    pool = model.cls_head.pooling
    assert type(pool) is LogSumExpPool and pool.r == 10.0
    seen = []
    pool.register_forward_hook(
        lambda mod, args, out: seen.append((args[0].detach(), out.detach())))
    torch.manual_seed(0)
    feats = torch.randn(2, 96, 4, 4)
    labels = torch.tensor([[0., 1, 0, 1], [0., 0, 1, 0]])
    losses, probs = model.cls_head.loss(feats, labels)
    assert len(seen) == 1  # the head's loss went through the plugin
    patch_scores, image_scores = seen[0]
    assert patch_scores.shape == (2, 16, 4)
    assert torch.allclose(patch_scores,
                          probs.flatten(2).transpose(1, 2))
    assert torch.allclose(image_scores, _lse_by_hand(patch_scores, 10.0),
                          atol=1e-6)
    # and it is not what the base config's adaptive-K pooling gives
    from wsss_mm.registry import MODELS
    akp = MODELS.build(dict(type='AdaptiveKPool', k_max=6, gap=0.1))
    assert not torch.allclose(akp(patch_scores), image_scores, atol=1e-4)


def test_train_with_plugin_through_tools(tmp_path):
    from wsss_mm.datasets.demo_shapes import generate_demo_dataset
    data_root = str(tmp_path / 'demo')
    generate_demo_dataset(data_root, num_train=8, num_val=4, seed=1)
    work_dir = str(tmp_path / 'work')
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [PLUGIN_ROOT, REPO_ROOT, env.get('PYTHONPATH', '')])
    cmd = [
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'train.py'),
        osp.join(PLUGIN_ROOT, 'configs', 'apc_lse_demo.py'),
        '--work-dir', work_dir, '--cfg-options',
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=4'
    ]
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    logs = []
    for root, _, files in os.walk(work_dir):
        for name in files:
            if name == 'scalars.json':
                with open(osp.join(root, name)) as f:
                    logs += [json.loads(line) for line in f]
    train = [r for r in logs if 'loss_mce' in r]
    assert [r['iter'] for r in train] == [1, 2, 3, 4]
    assert all(torch.isfinite(torch.tensor(r['loss'])) for r in train)
    assert any('mIoU' in r for r in logs)
    assert osp.isfile(osp.join(work_dir, 'iter_4.pth'))
    # The trained weights belong to a model with the plugin's pooling:
    # the config the runner dumped builds it, and they load strictly.
    from wsss_mm.utils.checkpoint import load_checkpoint_file
    model = _build_plugin_model(osp.join(work_dir, 'apc_lse_demo.py'))
    assert type(model.cls_head.pooling) is LogSumExpPool
    state = load_checkpoint_file(osp.join(work_dir, 'iter_4.pth'))
    model.load_state_dict(state['state_dict'], strict=True)
