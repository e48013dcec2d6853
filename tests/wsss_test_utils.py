"""Helpers shared by the tests (a plain module: importable by name)."""
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

HERE = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(HERE)
SHARED_DATA = os.environ.get('WSSS_SHARED_DATA',
                             osp.join(REPO_ROOT, '..', 'shared', 'data'))
TOOLS = osp.join(REPO_ROOT, 'tools', 'dataset_converters')


def shared_data_required() -> bool:
    """Whether missing shared data is a failure, not a skip: in CI
    (``CI=true``, set by CI services) or with ``WSSS_REQUIRE_SHARED_DATA=1``.
    """
    return (os.environ.get('CI', '').lower() == 'true'
            or os.environ.get('WSSS_REQUIRE_SHARED_DATA', '') == '1')


def shared_or_skip(*parts: str) -> str:
    """Path under ../shared/data, or skip (usable in any fixture scope).

    Where :func:`shared_data_required`, a missing path fails the test
    instead, so that CI cannot pass with these tests silently skipped.
    """
    path = osp.join(SHARED_DATA, *parts)
    if not osp.exists(path):
        where = (f'shared data not found: {path} (set WSSS_SHARED_DATA '
                 'to the folder holding camvid/, voc_samples/, minicoco/)')
        if shared_data_required():
            pytest.fail(f'{where}; CI=true or WSSS_REQUIRE_SHARED_DATA=1 '
                        'requires it', pytrace=False)
        pytest.skip(where)
    return path


def write_tiny_voc(root,
                   masks: dict,
                   list_name: str = 'train.txt',
                   palette: bool = True,
                   missing_images=()) -> str:
    """A VOC-layout folder with one small image per mask."""
    img_dir = osp.join(root, 'JPEGImages')
    seg_dir = osp.join(root, 'SegmentationClass')
    list_dir = osp.join(root, 'ImageSets', 'Segmentation')
    for d in (img_dir, seg_dir, list_dir):
        os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, mask in masks.items():
        mask = np.asarray(mask, np.uint8)
        if name not in missing_images:
            img = rng.integers(0, 255, mask.shape + (3, ), dtype=np.uint8)
            Image.fromarray(img).save(osp.join(img_dir, name + '.jpg'))
        png = Image.fromarray(mask)
        if palette:
            png.putpalette([v for i in range(256) for v in (i, 0, 255 - i)])
        png.save(osp.join(seg_dir, name + '.png'))
    with open(osp.join(list_dir, list_name), 'w') as f:
        f.write(''.join(n + '\n' for n in masks))
    return str(root)


def free_port() -> int:
    """A TCP port on loopback that is free right now (for torchrun)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_tool(cmd: list, timeout: int = 600, pythonpath=()) -> str:
    """Run a tool command in the repository root and return its output.

    ``PORT`` is a free port (for ``tools/dist_train.sh``) and ``PYTHON``
    this interpreter; ``pythonpath`` folders go first on ``PYTHONPATH``
    (e.g. for a module named in ``custom_imports``). The command must
    succeed.
    """
    env = dict(os.environ, PORT=str(free_port()), PYTHON=sys.executable)
    if pythonpath:
        env['PYTHONPATH'] = os.pathsep.join(
            list(pythonpath) + [REPO_ROOT, env.get('PYTHONPATH', '')])
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    return out


def dump_state_config(path: str, base: str, dump_dir: str,
                      hooks=()) -> str:
    """Write a config that inherits ``base`` and adds ``DumpStateHook``
    (``tests/wsss_test_hooks.py``: after training, every rank saves its
    model's state dict to ``dump_dir/rank{r}.pth``).

    ``custom_hooks`` becomes ``EvaluationResultHook``, then ``hooks``
    (dicts, e.g. a teacher's EMA hook), then ``DumpStateHook``. Run the
    config with ``HERE`` on the ``pythonpath`` of :func:`run_tool`.
    """
    custom_hooks = ([dict(type='EvaluationResultHook')] + list(hooks) +
                    [dict(type='DumpStateHook', out_dir=dump_dir)])
    with open(path, 'w') as f:
        f.write(f"""_base_ = [{base!r}]
custom_imports = dict(imports=['wsss_mm', 'wsss_test_hooks'],
                      allow_failed_imports=False)
custom_hooks = {custom_hooks!r}
""")
    return path


def load_identical_rank_states(dump_dir: str, world_size: int = 2) -> dict:
    """The state dicts ``DumpStateHook`` saved, after asserting that every
    rank holds the same keys and bit-identical tensors; rank 0's."""
    import torch
    states = [
        torch.load(osp.join(dump_dir, f'rank{r}.pth'), weights_only=True)
        for r in range(world_size)
    ]
    for rank, state in enumerate(states[1:], 1):
        assert state.keys() == states[0].keys(), rank
        for key in state:
            assert torch.equal(state[key], states[0][key]), (rank, key)
    return states[0]


def miou_by_hand(cfg, checkpoint: str, data_root: str) -> float:
    """mIoU (%) of a checkpoint on the test split of ``cfg``, computed
    here: the model and dataset built in-process from the config object,
    IoU counted with numpy over the classes present."""
    import torch
    from mmengine.dataset import pseudo_collate

    from wsss_mm.datasets import read_index_mask
    from wsss_mm.registry import DATASETS, MODELS
    from wsss_mm.utils.checkpoint import load_checkpoint_file
    model = MODELS.build(cfg.model)
    model.load_state_dict(load_checkpoint_file(checkpoint)['state_dict'])
    model.eval()
    dataset = DATASETS.build(
        dict(cfg.test_dataloader.dataset, data_root=data_root))
    n = len(dataset.metainfo['classes'])
    inter, union = np.zeros(n), np.zeros(n)
    with torch.no_grad():
        for i in range(len(dataset)):
            pred = model.test_step(pseudo_collate(
                [dataset[i]]))[0].pred_sem_seg.data[0].numpy()
            gt = read_index_mask(dataset.get_data_info(i)['seg_map_path'])
            valid = gt != 255
            for c in range(n):
                inter[c] += ((pred == c) & (gt == c) & valid).sum()
                union[c] += (((pred == c) | (gt == c)) & valid).sum()
    present = union > 0
    return float(np.mean(inter[present] / union[present])) * 100
