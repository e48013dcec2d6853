"""The command line shared by the generation tools (``tools/generate_*``).

Both tools parse the same arguments (``CONFIG``, ``--work-dir``,
``--cfg-options``, ``--launcher``), log to ``WORK_DIR/logs`` per rank and
print the run's summary; only the run function differs.
"""
import argparse
import json
import os
import os.path as osp
import time
from typing import Callable, Optional, Sequence

from mmengine.config import Config
from mmengine.logging import MMLogger

from wsss_mm.utils import register_all_modules
from wsss_mm.utils.cli import add_launch_args, export_local_rank, load_config


def generation_main(argv: Optional[Sequence[str]], name: str,
                    description: str, work_dir_help: str,
                    run: Callable[[Config, str], dict]) -> dict:
    """Parse arguments, set up logging, call ``run(cfg, launcher)``.

    Args:
        argv (list[str], optional): Arguments (None: ``sys.argv``).
        name (str): Tool name, used for the logger and the log file.
        description (str): ``--help`` text.
        work_dir_help (str): ``--help`` text of ``--work-dir``.
        run (callable): ``run(cfg, launcher) -> summary dict``.

    Returns:
        dict: The run's summary.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help='generation config file')
    parser.add_argument('--work-dir', help=work_dir_help)
    add_launch_args(parser, 'job launcher (pytorch: one shard per rank)')
    args = parser.parse_args(argv)
    export_local_rank(args)
    register_all_modules(init_default_scope=True)
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir)
    os.makedirs(osp.join(cfg.work_dir, 'logs'), exist_ok=True)
    stamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    rank = int(os.environ.get('RANK', 0))
    MMLogger.get_instance(
        f'{name}:{osp.abspath(cfg.work_dir)}:{stamp}',
        log_file=osp.join(cfg.work_dir, 'logs',
                          f'{name}_{stamp}.rank{rank}.log'),
        log_level='INFO')
    summary = run(cfg, launcher=args.launcher)
    if rank == 0:
        print(json.dumps({k: v for k, v in summary.items() if k != 'ranks'}))
    return summary
