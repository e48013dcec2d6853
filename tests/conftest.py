"""Shared fixtures: registry scope, label cache, shared and tiny data."""
import os.path as osp
import sys

import pytest

HERE = osp.dirname(osp.abspath(__file__))
if HERE not in sys.path:  # any import mode: wsss_test_utils by name
    sys.path.insert(0, HERE)
from wsss_test_utils import REPO_ROOT, load_tool, shared_or_skip  # noqa


@pytest.fixture(scope='session', autouse=True)
def _register_modules():
    from wsss_mm.utils import register_all_modules
    register_all_modules(init_default_scope=True)


@pytest.fixture(autouse=True)
def _label_cache(tmp_path, monkeypatch):
    """Never write label caches to the real home directory."""
    cache = tmp_path / 'label_cache'
    monkeypatch.setenv('WSSS_MM_CACHE', str(cache))
    return cache


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO_ROOT


@pytest.fixture
def shared_data():
    """``shared_data('camvid')``: a path under ../shared/data, or skip."""
    return shared_or_skip


@pytest.fixture(scope='session')
def demo_root(tmp_path_factory):
    """A small generated demo-shapes dataset (16 train, 8 val, 64 px)."""
    from wsss_mm.datasets import generate_demo_dataset
    root = str(tmp_path_factory.mktemp('demo_shapes'))
    generate_demo_dataset(root, num_train=16, num_val=8, size=64, seed=3)
    return root


@pytest.fixture(scope='session')
def minicoco_root(tmp_path_factory):
    """minicoco converted to class-id masks in a temporary folder."""
    src = shared_or_skip('minicoco')
    conv = load_tool('coco14_instances_to_masks')
    out = str(tmp_path_factory.mktemp('minicoco_masks'))
    for split in ('train', 'val'):
        conv.convert(
            osp.join(src, 'labels', split + '.json'), osp.join(src, 'images'),
            out)
    return out


@pytest.fixture(scope='session')
def tiny_diffusion(tmp_path_factory):
    """Tiny random SD 1.x + Canny/pose ControlNet folders (diffusers layout),
    written once per session by ``make_tiny_diffusion``: a dict with
    ``sd_model``, ``controlnet_model``, ``pose_controlnet_model``."""
    from wsss_mm.generation.diffusion.tiny import make_tiny_diffusion
    out = str(tmp_path_factory.mktemp('tiny_diffusion'))
    return make_tiny_diffusion(out, seed=0, pose_controlnet=True)
