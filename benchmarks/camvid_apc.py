"""CamVid-tiles benchmark of every method against the class prior.

Usage (repo root, venv active)::

    python benchmarks/camvid_apc.py --data-root ../shared/data/camvid \
        [--iters 2500] [--out work_dirs/bench_camvid] [--resume]
    # ToCo and FSR at the same budget, same table:
    python benchmarks/camvid_apc.py --configs \
        configs/toco/toco_vit-tiny-p8_1xb16-cpu_camvid-tiles-128x128.py \
        configs/fsr/fsr_vit-tiny-p8_1xb16-cpu_camvid-tiles-128x128.py
    # any configs, each with its own schedule (--iters 0), e.g. the
    # pretrained DINOv2 ViT-S/14 next to the random-init rows:
    python benchmarks/camvid_apc.py --iters 0 --configs \
        configs/apc/apc_vit-s14-dinov2-frozen_1xb16-1k_camvid-tiles-112x112.py

The table (Markdown) and the figures (JSON) are written to OUT/results.md
and OUT/results.json; with ``--skip-train`` existing checkpoints are only
evaluated. Trainings save a checkpoint every ``--ckpt-interval``
iterations; ``--resume`` continues interrupted ones from their last
checkpoint (mmengine's resume: optimizer, schedules and, for FSR, the
teacher); their wall time is the sum of the invocations that finished
(a killed one is not counted), marked "(resumed: at least)".

Protocol (docs/evaluation.md): each 480x360 CamVid image is cut into 4x3
tiles of 120x120; a tile's image labels are the classes covering >= 1% of
its labelled pixels. Both models train on the train tiles with image-level
labels only, for the same number of iterations, from random initialisation
(no pretrained weights exist offline). Reported:

- pseudo-mask mIoU on the train tiles: the patch classifier (APC) or the
  CAMs (ToCo, FSR) restricted to each tile's image labels (the method's
  own pseudo labels);
- segmentation mIoU on the val tiles: the decoder, no labels given;
- val "pseudo" mIoU: the classifier restricted to the val tiles' labels,
  the like-for-like comparison with the class prior on val;
- the class-prior baseline: every pixel of a tile gets the one of its
  labelled classes with the most pixels over the whole train split (image
  labels, no localisation).
"""
import argparse
import copy
import json
import os
import os.path as osp
import subprocess
import sys
import time

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

from wsss_mm.datasets.camvid_tiles import CAMVID_CLASSES
from wsss_mm.evaluation.compare import compare_runs
from wsss_mm.evaluation.functional import (confusion_matrix,
                                           metrics_from_confusion)
from wsss_mm.evaluation.protocol import (build_protocol, metrics_dict,
                                         prediction_source, write_result)
from wsss_mm.registry import DATASETS, MODELS
from wsss_mm.utils import register_all_modules
from wsss_mm.utils.compat import load_checkpoint_file
from wsss_mm.utils.fileio import dump_json_atomic, write_text_atomic

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

# The default rows (random init); any other config is named by its file.
CONFIGS = {
    'APC (adaptive-K + PCL)':
    'configs/apc/apc_vit-tiny-p8_1xb16-cpu_camvid-tiles-128x128.py',
    'GMP baseline (no PCL)':
    'configs/apc/apc-gmp-nopcl_vit-tiny-p8_1xb16-cpu_camvid-tiles-128x128.py',
}
NAMES = {v: k for k, v in CONFIGS.items()}
NAMES['configs/toco/toco_vit-tiny-p8_1xb16-cpu_camvid-tiles-128x128.py'] = \
    'ToCo'
NAMES['configs/fsr/fsr_vit-tiny-p8_1xb16-cpu_camvid-tiles-128x128.py'] = \
    'FSR'
NUM_CLASSES = 11


def train(config: str,
          data_root: str,
          iters: int,
          work_dir: str,
          ckpt_interval: int = 250,
          resume: bool = False) -> float:
    """Train with tools/train.py; returns wall seconds.

    ``iters=0`` keeps the config's own schedule; otherwise the schedule
    is set to ``iters`` and a segmentation-loss start (ToCo, FSR:
    ``model.seg_start_iter``) keeps its fraction of the schedule.
    ``resume`` continues from the work dir's last checkpoint."""
    cfg = Config.fromfile(osp.join(REPO, config))
    opts = [
        f'{k}.dataset.data_root={data_root}'
        for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]
    max_iters = cfg.train_cfg.max_iters
    if iters:
        opts += [
            f'train_cfg.max_iters={iters}',
            f'train_cfg.val_interval={iters}',
            f'param_scheduler.1.end={iters}',
        ]
        if cfg.model.get('seg_start_iter') is not None:
            start = cfg.model.seg_start_iter * iters // max_iters
            opts.append(f'model.seg_start_iter={start}')
        max_iters = iters
    opts.append('default_hooks.checkpoint.interval='
                f'{min(ckpt_interval, max_iters)}')
    start = time.time()
    subprocess.run([
        sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
        *(['--resume'] if resume else []), '--cfg-options'
    ] + opts, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return time.time() - start


def _dataset(cfg: Config, data_root: str, split: str, with_labels: bool):
    ds_cfg = copy.deepcopy(cfg.val_dataloader.dataset)
    ds_cfg.update(data_root=data_root, split=split, test_mode=True)
    pipeline = copy.deepcopy(cfg.test_pipeline)
    if with_labels:
        pipeline.insert(-1, dict(type='LoadImageLevelLabels'))
    ds_cfg.pipeline = pipeline
    return DATASETS.build(ds_cfg)


def build_trained(config: str, ckpt: str) -> torch.nn.Module:
    """The model of ``config`` with the weights of ``ckpt``."""
    cfg = Config.fromfile(osp.join(REPO, config))
    model = MODELS.build(cfg.model)
    model.load_state_dict(load_checkpoint_file(ckpt)['state_dict'])
    model.eval()
    return model


def train_seconds(work_dir: str,
                  seconds: float = None,
                  resumed: bool = False):
    """Add a finished invocation's wall seconds to ``work_dir``'s record
    (``resumed``: it continued from a checkpoint); return the total and
    whether any invocation resumed. An invocation that was killed adds
    nothing, so a resumed total is a lower bound."""
    path = osp.join(work_dir, 'train_seconds.json')
    record = dict(segments=[], resumed=False)
    if osp.isfile(path):
        with open(path) as f:
            record.update(json.load(f))
    if seconds is not None:
        record['segments'].append(seconds)
        record['resumed'] = record['resumed'] or resumed
        dump_json_atomic(record, path)
    total = sum(record['segments']) if record['segments'] else None
    return total, record['resumed']


def evaluate_model(config: str, model: torch.nn.Module, data_root: str,
                   split: str, infer_from: str) -> dict:
    """mIoU of a trained model on a split's tiles."""
    cfg = Config.fromfile(osp.join(REPO, config))
    model.infer_from = infer_from
    ds = _dataset(cfg, data_root, split, infer_from == 'classifier')
    loader = DataLoader(
        ds, batch_size=16, num_workers=2, collate_fn=pseudo_collate)
    cm = np.zeros((NUM_CLASSES, NUM_CLASSES + 1), np.int64)
    with torch.no_grad():
        for batch in loader:
            for out in model.test_step(batch):
                cm += confusion_matrix(out.pred_sem_seg.data,
                                       out.gt_sem_seg.data, NUM_CLASSES)
    return metrics_from_confusion(cm)


def evaluate_class_prior(config: str, data_root: str, split: str) -> dict:
    """mIoU of painting each tile with its most frequent labelled class."""
    cfg = Config.fromfile(osp.join(REPO, config))
    prior = _dataset(cfg, data_root, 'train', False).class_pixel_counts()
    ds = _dataset(cfg, data_root, split, False)
    cm = np.zeros((NUM_CLASSES, NUM_CLASSES + 1), np.int64)
    for i in range(len(ds)):
        labels = ds.get_data_info(i)['img_labels']
        gt = ds[i]['data_samples'].gt_sem_seg.data[0].numpy()
        best = max(labels, key=lambda c: prior[c])
        cm += confusion_matrix(np.full_like(gt, best), gt, NUM_CLASSES)
    return metrics_from_confusion(cm)


def record(path: str, metrics: dict, *, split: str, source: str,
           image_labels: str, config: str, checkpoint: str = None,
           num_images: int = None) -> dict:
    """Write one protocol-carrying result file (the input of
    ``tools/analysis/compare_runs.py``); returns the metrics."""
    protocol = build_protocol(
        split=split,
        source=source,
        image_labels=image_labels,
        tta=None,
        crf=None,
        checkpoint=checkpoint,
        config=config,
        num_images=num_images)
    write_result(path, protocol, metrics_dict(metrics, CAMVID_CLASSES))
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--data-root', default='../shared/data/camvid')
    parser.add_argument(
        '--iters',
        type=int,
        default=2500,
        help='iterations for every config; 0 keeps the config schedule')
    parser.add_argument(
        '--configs',
        nargs='+',
        default=list(CONFIGS.values()),
        help='configs to train and evaluate (default: APC and GMP, '
        'random init)')
    parser.add_argument('--out', default='work_dirs/bench_camvid')
    parser.add_argument('--skip-train', action='store_true')
    parser.add_argument(
        '--resume',
        action='store_true',
        help='continue interrupted trainings from their last checkpoint')
    parser.add_argument(
        '--ckpt-interval',
        type=int,
        default=250,
        help='iterations between checkpoints (what --resume loses at most)')
    args = parser.parse_args()
    register_all_modules()
    data_root = osp.abspath(args.data_root)
    out = osp.join(REPO, args.out)
    os.makedirs(out, exist_ok=True)
    first_cfg = args.configs[0]
    # Every evaluation writes a protocol-carrying result file,
    # OUT/results/<run>/<split>_<kind>.json; the per-class table is
    # compare_runs' over them (rows named <run>/<split>_<kind>).
    prior_dir = osp.join(out, 'results', 'class_prior')
    results = {
        'class prior': {
            f'{split} pseudo mIoU': record(
                osp.join(prior_dir, f'{split}_pseudo.json'),
                evaluate_class_prior(first_cfg, data_root, split),
                split=split,
                source='class_prior',
                image_labels='gt',
                config=first_cfg)['mIoU']
            for split in ('train', 'val')
        }
    }
    for config in args.configs:
        stem = osp.splitext(osp.basename(config))[0]
        name = NAMES.get(config, stem)
        work_dir = osp.join(out, stem)
        seconds = None
        resuming = args.resume and osp.isfile(
            osp.join(work_dir, 'last_checkpoint'))
        if not args.skip_train:
            seconds = train(config, data_root, args.iters, work_dir,
                            args.ckpt_interval, args.resume)
        seconds, resumed = train_seconds(work_dir, seconds, resuming)
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            ckpt = f.read().strip()
        # One model for the three evaluations: a frozen backbone's
        # feature cache serves the val passes twice.
        model = build_trained(config, ckpt)
        start = time.time()
        results[name] = {
            'config': config,
            'checkpoint': osp.relpath(ckpt, REPO),
            'train seconds': seconds,
            'resumed': resumed
        }
        # APC's pseudo masks come from its patch classifier, ToCo's and
        # FSR's from their CAMs.
        pseudo_source = prediction_source(
            dict(Config.fromfile(osp.join(REPO, config)).model,
                 infer_from='classifier'))
        for split, source, labels in (('train', pseudo_source, 'gt'),
                                      ('val', pseudo_source, 'gt'),
                                      ('val', 'decoder', 'none')):
            kind = 'seg' if source == 'decoder' else 'pseudo'
            metrics = evaluate_model(
                config, model, data_root, split,
                'decoder' if source == 'decoder' else 'classifier')
            results[name][f'{split} {kind} mIoU'] = record(
                osp.join(out, 'results', stem, f'{split}_{kind}.json'),
                metrics,
                split=split,
                source=source,
                image_labels=labels,
                config=config,
                checkpoint=ckpt)['mIoU']
        results[name]['eval seconds'] = time.time() - start
        print(name, results[name], flush=True)
    cols = ('train pseudo mIoU', 'val pseudo mIoU', 'val seg mIoU')
    iters = args.iters or 'as in each config'
    lines = [
        f'iterations: {iters}; '
        f'{os.cpu_count()} cores', '',
        '| method | ' + ' | '.join(cols) + ' | train s | eval s |',
        '|---' * (len(cols) + 3) + '|'
    ]
    for name, r in results.items():
        vals = [f'{100 * r[c]:.1f}' if c in r else '-' for c in cols]
        secs = [
            f'{r[k]:.0f}' if r.get(k) else '-'
            for k in ('train seconds', 'eval seconds')
        ]
        if r.get('resumed'):
            secs[0] += ' (resumed: at least)'
        lines.append(f'| {name} | ' + ' | '.join(vals + secs) + ' |')
    table = '\n'.join(lines) + '\n'
    # The per-class table with the protocols, from the result files.
    dirs = [prior_dir] + [
        osp.join(out, 'results', osp.splitext(osp.basename(c))[0])
        for c in args.configs
    ]
    compared, _ = compare_runs(dirs, chart=osp.join(out, 'results.png'))
    table += '\n' + compared
    print(table)
    write_text_atomic(osp.join(out, 'results.md'), table)
    dump_json_atomic(results, osp.join(out, 'results.json'), indent=2,
                     default=float)


if __name__ == '__main__':
    main()
