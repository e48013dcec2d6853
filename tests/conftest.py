"""Shared fixtures: registry scope, the repository root and shared data."""
import os
import os.path as osp

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED_DATA = os.environ.get(
    'WSSS_SHARED_DATA', osp.join(REPO_ROOT, '..', 'shared', 'data'))


@pytest.fixture(scope='session', autouse=True)
def _register_modules():
    from wsss_mm.utils import register_all_modules
    register_all_modules(init_default_scope=True)


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO_ROOT


def shared_data_path(*parts: str) -> str:
    """Path under ../shared/data; skips the test when it is absent."""
    path = osp.join(SHARED_DATA, *parts)
    if not osp.exists(path):
        pytest.skip(f'shared data not found: {path} (set WSSS_SHARED_DATA '
                    'to the folder that holds camvid/, voc_samples/, '
                    'minicoco/)')
    return path


@pytest.fixture
def shared_data():
    return shared_data_path
