"""Shared pieces of the command-line tools."""
import argparse
import os.path as osp

from wsss_mm.utils.cli import add_launch_args, load_config

DEMO = 'configs/demo/wsss_demo_cpu.py'


def test_launch_args_parse():
    parser = argparse.ArgumentParser()
    add_launch_args(parser)
    args = parser.parse_args(
        ['--launcher', 'pytorch', '--local-rank', '1', '--cfg-options',
         'train_cfg.max_iters=7'])
    assert args.launcher == 'pytorch' and args.local_rank == 1
    assert args.cfg_options == {'train_cfg.max_iters': 7}


def test_load_config_work_dir_and_overrides(repo_root):
    path = osp.join(repo_root, DEMO)
    cfg = load_config(path, {'train_cfg.max_iters': 7}, 'pytorch')
    assert cfg.train_cfg.max_iters == 7 and cfg.launcher == 'pytorch'
    assert cfg.work_dir == osp.join('./work_dirs', 'wsss_demo_cpu')
    cfg = load_config(path, work_dir='/somewhere/else')
    assert cfg.work_dir == '/somewhere/else' and cfg.launcher == 'none'
