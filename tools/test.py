"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT``.

Same arguments as mmseg's ``tools/test.py``: ``--work-dir``, ``--out``,
``--show``, ``--show-dir`` (painted predictions), ``--tta``,
``--cfg-options``, ``--launcher``. Every run writes
``result_test.json`` (metrics, per-class IoU and the protocol, see
docs/evaluation.md) into its log folder.

``--crf`` refines the predictions with a dense CRF (the config's
``crf_cfg``, the method's published parameters; ``--crf-preset`` or
``--cfg-options crf_cfg.bi_w=..`` override) in ``--workers`` processes,
with or without ``--tta``, through
:func:`wsss_mm.apis.generate_pseudo_labels`: masks and
``result_test.json`` / ``result_test_crf.json`` (without and with CRF) go
to ``WORK_DIR/crf/``.
"""
import argparse
import os.path as osp

from mmengine.config import Config

from wsss_mm.apis import generate_pseudo_labels
from wsss_mm.evaluation.protocol import tta_protocol
from wsss_mm.models.utils.crf import CRF_PRESETS
from wsss_mm.utils import register_all_modules
from wsss_mm.utils.cli import (add_launch_args, add_unsafe_load_arg,
                               apply_unsafe_load, build_runner,
                               export_local_rank, load_config, run_tool)
from wsss_mm.utils.compat import shutdown_distributed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a WSSS segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='directory for the evaluation metrics and logs')
    parser.add_argument(
        '--out',
        type=str,
        help='directory to save predictions as label PNGs')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images are saved; with it, '
        'predictions are drawn next to the ground truth')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='interval of --show (s)')
    parser.add_argument(
        '--tta', action='store_true', help='test time augmentation')
    parser.add_argument(
        '--crf', action='store_true',
        help='dense CRF on the predictions (crf_cfg of the config)')
    parser.add_argument(
        '--crf-preset', choices=sorted(CRF_PRESETS),
        help="published CRF parameters instead of the config's crf_cfg")
    parser.add_argument(
        '--workers', type=int, default=2,
        help='CRF processes per rank with --crf (0: in this process)')
    parser.add_argument(
        '--image-labels', choices=['none', 'predicted', 'gt'],
        default='none',
        help='with --crf: restrict predictions to these image labels '
        '(gt is an oracle and is labelled so)')
    add_launch_args(parser)
    add_unsafe_load_arg(parser)
    args = parser.parse_args()
    export_local_rank(args)
    return args


def trigger_visualization_hook(cfg: Config,
                               args: argparse.Namespace) -> Config:
    default_hooks = cfg.default_hooks
    if 'visualization' not in default_hooks:
        raise RuntimeError(
            'VisualizationHook must be included in default_hooks; see '
            "'SegVisualizationHook' in configs/_base_/default_runtime.py")
    visualization_hook = default_hooks['visualization']
    visualization_hook['draw'] = True
    if args.show:
        visualization_hook['show'] = True
        visualization_hook['wait_time'] = args.wait_time
    if args.show_dir:
        visualizer = cfg.visualizer
        visualizer['save_dir'] = args.show_dir
    return cfg


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir)
    apply_unsafe_load(cfg, args)

    cfg.load_from = args.checkpoint
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    if args.crf_preset:
        cfg.crf_cfg = dict(CRF_PRESETS[args.crf_preset])

    if args.crf:
        generate_pseudo_labels(
            cfg, args.checkpoint, osp.join(cfg.work_dir, 'crf'),
            split='test', image_labels=args.image_labels, crf=True,
            workers=args.workers, tta=args.tta, show_dir=args.show_dir,
            launcher=args.launcher, config_path=args.config)
        return

    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.show_dir:
        # Per-class IoU chart, confusion matrix and overlay panels.
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='WSSSReportHook', out_dir=args.show_dir)
        ]

    tta = None
    if args.tta:
        if 'tta_pipeline' not in cfg or 'tta_model' not in cfg:
            raise KeyError(
                f'--tta needs `tta_pipeline` and `tta_model` in {args.config}'
                ': include one of configs/_base_/tta/*.py in its _base_')
        tta = tta_protocol(cfg.tta_pipeline)
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model

    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True

    hooks = [h for h in cfg.get('custom_hooks', [])
             if h.get('type') != 'EvaluationResultHook']
    cfg.custom_hooks = hooks + [
        dict(type='EvaluationResultHook', split='test', tta=tta)
    ]
    runner = build_runner(cfg)
    runner.test()
    # On success only: the barrier inside would wait forever for a rank
    # that died (torchrun stops the others then anyway).
    shutdown_distributed()


if __name__ == '__main__':
    run_tool(main)
