"""Diffusion-synthetic data: prompts, Stable Diffusion, attention masks.

Examples::

    # CPU demo with the tiny random pipeline (configs/diffsyn/README.md)
    python tools/misc/make_tiny_diffusion.py work_dirs/tiny_diffusion
    python tools/generate_diffsyn.py configs/diffsyn/generate_demo_cpu.py

    # a real SD 1.5 (and LoRA adapters trained with configs/diffsyn/lora_*)
    python tools/generate_diffsyn.py configs/diffsyn/generate_sd15_voc.py \\
        --work-dir work_dirs/diffsyn_voc \\
        --cfg-options generator.sd_model=models/sd15 \\
            generator.lora=work_dirs/lora_driving/lora

    # 8 GPUs, each a disjoint shard
    torchrun --nproc_per_node 8 tools/generate_diffsyn.py CONFIG \\
        --launcher pytorch

The work dir holds ``manifest.jsonl``, ``images/``, ``masks/`` (class ids
of the config's class list, 0 background, 255 ignore), ``confidence/`` and
``classes.json``; a killed run started again with the same command resumes.
"""
import argparse
import json
import os
import os.path as osp
import time

from mmengine.logging import MMLogger

from wsss_mm.generation.diffsyn import run_diffsyn
from wsss_mm.utils import register_all_modules
from wsss_mm.utils.cli import add_launch_args, export_local_rank, load_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate diffusion-synthetic images with '
        'cross-attention masks into a resumable store')
    parser.add_argument('config', help='generation config file')
    parser.add_argument(
        '--work-dir', help='output folder (manifest.jsonl, images, masks)')
    add_launch_args(parser, 'job launcher (pytorch: one shard per rank)')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    export_local_rank(args)
    register_all_modules(init_default_scope=True)
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir)
    os.makedirs(osp.join(cfg.work_dir, 'logs'), exist_ok=True)
    stamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    rank = int(os.environ.get('RANK', 0))
    MMLogger.get_instance(
        f'generate_diffsyn:{osp.abspath(cfg.work_dir)}:{stamp}',
        log_file=osp.join(cfg.work_dir, 'logs',
                          f'generate_diffsyn_{stamp}.rank{rank}.log'),
        log_level='INFO')
    summary = run_diffsyn(cfg, launcher=args.launcher)
    if rank == 0:
        print(json.dumps({k: v for k, v in summary.items() if k != 'ranks'}))
    return summary


if __name__ == '__main__':
    main()
