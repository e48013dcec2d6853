"""Pieces shared by the command-line tools in ``tools/``."""
import argparse
import os
import os.path as osp
import sys
from typing import Callable, Optional

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from wsss_mm.utils.errors import WSSSInputError


def add_launch_args(parser: argparse.ArgumentParser,
                    launcher_help: str = 'job launcher') -> None:
    """Add ``--cfg-options``, ``--launcher`` and ``--local-rank``."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help=launcher_help)
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def export_local_rank(args: argparse.Namespace) -> None:
    """Make ``LOCAL_RANK`` available as torchrun would have set it."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)


def load_config(path: str,
                cfg_options: Optional[dict] = None,
                launcher: str = 'none',
                work_dir: Optional[str] = None) -> Config:
    """Read a config, apply overrides, set the launcher and the work dir.

    The work dir is ``work_dir`` if given, else the config's own, else
    ``./work_dirs/CONFIG_NAME`` (mmseg's convention).
    """
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    return cfg


def build_runner(cfg: Config) -> Runner:
    """The config's ``runner_type`` (``WSSSRunner`` in our configs), else
    mmengine's Runner."""
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    from wsss_mm.registry import RUNNERS
    return RUNNERS.build(cfg)


def add_unsafe_load_arg(parser: argparse.ArgumentParser) -> None:
    """Add ``--unsafe-load-checkpoint`` (see :func:`apply_unsafe_load`)."""
    parser.add_argument(
        '--unsafe-load-checkpoint',
        action='store_true',
        help='unpickle checkpoint files fully instead of weights-only: '
        'only for old or foreign files whose origin you trust (a crafted '
        'file runs code); prints a warning naming the file')


def apply_unsafe_load(cfg: Config, args: argparse.Namespace) -> Config:
    """Pass ``--unsafe-load-checkpoint`` to the runner (config key
    ``unsafe_load_checkpoint``)."""
    if getattr(args, 'unsafe_load_checkpoint', False):
        cfg.unsafe_load_checkpoint = True
    return cfg


def run_tool(main: Callable[[], None]) -> None:
    """Run a tool's ``main``; input errors end it with one line, exit 1.

    :class:`~wsss_mm.utils.errors.WSSSInputError` (bad checkpoint, bad
    dataset file) and missing files are printed as ``error: MESSAGE``
    instead of a traceback, also when raised in a dataloader worker (torch
    then wraps the worker's traceback into the message: its last line is
    kept).
    """
    try:
        main()
    except (WSSSInputError, FileNotFoundError) as e:
        lines = [ln for ln in str(e).splitlines() if ln.strip()]
        print(f'error: {lines[-1] if lines else type(e).__name__}',
              file=sys.stderr)
        sys.exit(1)
