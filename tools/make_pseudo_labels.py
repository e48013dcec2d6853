"""Dump pseudo masks of a split: ``make_pseudo_labels.py CONFIG CKPT``.

A command line over :func:`wsss_mm.apis.generate_pseudo_labels` (see it
for what is written, resuming and sharding). Masks go to ``OUT/pseudo/``
(and ``OUT/pseudo_crf/`` with ``--crf``); with ground truth, one result
file per measurement (``OUT/result_SPLIT.json``, ``..._crf.json``) carries
its protocol (docs/evaluation.md).

Image labels restricting the prediction (``--image-labels``): the ground
truth on the train split (the papers' pseudo masks), the model's own
prediction on other splits; ``--split val --image-labels gt`` is an oracle
and is labelled so in the output and the result files.

Examples::

    # into the folder configs/second_stage/*voc_pseudo.py trains on
    python tools/make_pseudo_labels.py configs/apc/apc_vitb_voc.py \\
        work_dirs/apc/iter_20000.pth --crf --workers 2 \\
        --out data/VOCdevkit/VOC2012/PseudoLabels/apc_vitb_voc
    torchrun --nproc_per_node 2 tools/make_pseudo_labels.py CONFIG CKPT \\
        --crf --launcher pytorch
"""
import argparse
import os.path as osp
from typing import Optional, Sequence

from wsss_mm.apis import generate_pseudo_labels
from wsss_mm.models.utils.crf import CRF_PRESETS
from wsss_mm.utils.cli import (add_launch_args, add_unsafe_load_arg,
                               apply_unsafe_load, export_local_rank,
                               load_config)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Dump (CRF-refined) pseudo masks of a dataset split')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--split', default='train', choices=['train', 'val', 'test'],
        help='dataset of {split}_dataloader (default: train)')
    parser.add_argument(
        '--image-labels', choices=['gt', 'predicted', 'none'],
        help='image labels restricting the prediction (default: gt on the '
        'train split, predicted elsewhere; gt off train is an oracle)')
    parser.add_argument(
        '--out', help='output folder (default: '
        'work_dirs/pseudo_labels/CONFIG_NAME/SPLIT)')
    parser.add_argument(
        '--crf', action='store_true', help='also write CRF-refined masks')
    parser.add_argument(
        '--crf-preset', choices=sorted(CRF_PRESETS), default=None,
        help='published CRF parameters (default: `crf_cfg` of the config '
        'if set, else vitpcm)')
    parser.add_argument(
        '--infer-from', choices=['classifier', 'decoder'],
        help='override model.infer_from (PatchClassifierSegmentor)')
    parser.add_argument(
        '--tta', action='store_true',
        help='use tta_model and tta_pipeline of the config')
    parser.add_argument(
        '--workers', type=int, default=2,
        help='CRF processes per rank (0: CRF in the main process)')
    parser.add_argument(
        '--show-dir', help='write overlay panels and IoU/confusion PNGs')
    parser.add_argument(
        '--num-show', type=int, default=8, help='overlay panels to write')
    parser.add_argument(
        '--log-interval', type=float, default=10.,
        help='seconds between progress lines')
    parser.add_argument(
        '--device', default=None, help="'cpu' or 'cuda' (default: auto)")
    parser.add_argument(
        '--threads', type=int, default=0,
        help='torch threads of the model on CPU (default: the cores per '
        'rank not taken by CRF workers, at least 1)')
    add_launch_args(parser, launcher_help='job launcher (shards the split)')
    add_unsafe_load_arg(parser)
    args = parser.parse_args(argv)
    export_local_rank(args)
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.launcher)
    apply_unsafe_load(cfg, args)
    out_dir = args.out or osp.join(
        'work_dirs', 'pseudo_labels',
        osp.splitext(osp.basename(args.config))[0], args.split)
    generate_pseudo_labels(
        cfg, args.checkpoint, out_dir, split=args.split,
        image_labels=args.image_labels, crf=args.crf,
        crf_cfg=CRF_PRESETS[args.crf_preset] if args.crf_preset else None,
        workers=args.workers, tta=args.tta, infer_from=args.infer_from,
        show_dir=args.show_dir, num_show=args.num_show,
        log_interval=args.log_interval, device=args.device,
        threads=args.threads, launcher=args.launcher,
        config_path=args.config)


if __name__ == '__main__':
    main()
