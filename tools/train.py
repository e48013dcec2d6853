"""Train a segmentor: ``python tools/train.py CONFIG [--work-dir DIR]``.

Same arguments as mmseg's ``tools/train.py``; distributed runs go through
``tools/dist_train.sh CONFIG NUM_PROCS`` (nccl on GPUs, gloo on CPU).
"""
import argparse
import logging

from mmengine.logging import print_log

from wsss_mm.utils import register_all_modules
from wsss_mm.utils.cli import (add_launch_args, add_unsafe_load_arg,
                               apply_unsafe_load, build_runner,
                               export_local_rank, load_config, run_tool)
from wsss_mm.utils.compat import shutdown_distributed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a WSSS segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        default=None,
        help='resume from the latest checkpoint in the work dir, or from '
        'the given checkpoint file')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    add_launch_args(parser)
    add_unsafe_load_arg(parser)
    args = parser.parse_args()
    export_local_rank(args)
    return args


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir)
    apply_unsafe_load(cfg, args)

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper == 'AmpOptimWrapper':
            print_log(
                'AMP training is already enabled in your config.',
                logger='current',
                level=logging.WARNING)
        else:
            assert optim_wrapper == 'OptimWrapper', (
                '`--amp` is only supported when the optimizer wrapper type '
                f'is `OptimWrapper` but got {optim_wrapper}.')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    runner = build_runner(cfg)
    runner.train()
    # On success only: the barrier inside would wait forever for a rank
    # that died (torchrun stops the others then anyway).
    shutdown_distributed()


if __name__ == '__main__':
    run_tool(main)
