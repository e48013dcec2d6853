"""Dump pseudo masks of a split: ``make_pseudo_labels.py CONFIG CKPT``.

For every image of the split (``--split train`` by default: pseudo masks for
a second-stage segmenter) the model predicts a mask restricted to the
image's labels (plus background), as the papers do on the train split; the
masks are written as palette PNGs to ``OUT/pseudo/``, and with ``--crf``
refined by a dense CRF to ``OUT/pseudo_crf/`` (CRF in ``--workers``
processes, overlapping with inference). When the split has ground-truth
masks, mIoU with and without CRF is printed and saved to
``OUT/metrics_SPLIT.json``.

Resumable: images whose PNGs exist are skipped (they still count in the
metrics); PNGs are written to a temporary name and renamed, so a crash
loses at most the images in flight. ``--launcher pytorch`` (torchrun)
shards the split: rank r takes every world_size-th image.

Examples::

    # into the folder configs/second_stage/*voc_pseudo.py trains on
    python tools/make_pseudo_labels.py configs/apc/apc_vitb_voc.py \\
        work_dirs/apc/iter_20000.pth --crf --workers 2 \\
        --out data/VOCdevkit/VOC2012/PseudoLabels/apc_vitb_voc
    torchrun --nproc_per_node 2 tools/make_pseudo_labels.py CONFIG CKPT \\
        --crf --launcher pytorch
"""
import argparse
import collections
import glob
import json
import multiprocessing as mp
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmcv.transforms import Compose  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.dist import all_reduce, get_dist_info, init_dist  # noqa: E402
from mmengine.runner.checkpoint import load_state_dict  # noqa: E402
from PIL import Image  # noqa: E402

import wsss_mm  # noqa: E402,F401  (installs compat shims first)
from wsss_mm.evaluation.functional import confusion_matrix  # noqa: E402
from wsss_mm.evaluation.functional import metrics_from_confusion
from wsss_mm.models.segmentors.tta import outputs_probabilities  # noqa
from wsss_mm.models.utils.crf import CRF_PRESETS, dense_crf  # noqa: E402
from wsss_mm.registry import DATASETS, MODELS  # noqa: E402
from wsss_mm.utils import register_all_modules  # noqa: E402
from wsss_mm.utils.cli import add_launch_args, export_local_rank  # noqa
from wsss_mm.utils.compat import init_cpu_distributed  # noqa: E402
from wsss_mm.utils.compat import load_checkpoint_file, shutdown_distributed

IGNORE_INDEX = 255
IGNORE_RGB = (224, 224, 192)  # VOC's boundary colour
IMAGE_LOADERS = ('LoadImageFromFile', 'LoadWSSSImageFromFile')
GT_LOADERS = ('LoadAnnotations', 'LoadWSSSAnnotations')
TILE_CROPS = ('CropTile', )
LABEL_LOADERS = ('LoadImageLevelLabels', )


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Dump (CRF-refined) pseudo masks of a dataset split')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--split', default='train', choices=['train', 'val', 'test'],
        help='dataset of {split}_dataloader (default: train)')
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
    args = parser.parse_args(argv)
    export_local_rank(args)
    return args


# ---------------------------------------------------------------------------
# pipeline and data
# ---------------------------------------------------------------------------
def _type(t: dict) -> str:
    return str(t.get('type', '')).split('.')[-1]


def split_pipeline(pipeline: List[dict],
                   with_gt: bool) -> Tuple[List[dict], List[dict]]:
    """Cut a test pipeline into loading and model-input parts.

    The loading part reads the image (at its original size, cropped to the
    tile for tile datasets), the ground truth and the image-level labels;
    the rest (resize, flips, packing) makes the network input. Ground truth
    is thus never resized, and the original image is kept for the CRF.

    Args:
        pipeline (list[dict]): Test or TTA pipeline of the config.
        with_gt (bool): Load ground-truth masks.

    Returns:
        tuple: ``(load_cfgs, rest_cfgs)``.
    """
    skip = IMAGE_LOADERS + GT_LOADERS + TILE_CROPS + LABEL_LOADERS
    image_loader = next((dict(t) for t in pipeline
                         if _type(t) in IMAGE_LOADERS),
                        dict(type='LoadWSSSImageFromFile'))
    gt_loader = next((dict(t) for t in pipeline if _type(t) in GT_LOADERS),
                     None)
    if gt_loader is None:
        for t in pipeline:  # TTA: LoadAnnotations inside TestTimeAug
            for group in t.get('transforms', []) or []:
                for s in group if isinstance(group, list) else [group]:
                    if isinstance(s, dict) and _type(s) in GT_LOADERS:
                        gt_loader = dict(s)
    if gt_loader is None:
        # pillow reads palette PNGs as class ids
        gt_loader = dict(
            type='LoadWSSSAnnotations', imdecode_backend='pillow')
    load = [image_loader]
    if with_gt:
        load.append(gt_loader)
    load += [dict(t) for t in pipeline if _type(t) in TILE_CROPS]
    # images without foreground labels are kept (all background)
    load.append(dict(type='LoadImageLevelLabels', allow_empty=True))

    rest = []
    for t in pipeline:
        if _type(t) in skip:
            continue
        t = dict(t)
        if _type(t) == 'TestTimeAug':
            groups = []
            for group in t['transforms']:
                group = [s for s in group if _type(s) not in skip]
                if group:
                    groups.append(group)
            t['transforms'] = groups
        rest.append(t)
    return load, rest


def dataset_cfg_of(cfg: Config, split: str) -> dict:
    key = f'{split}_dataloader'
    if key not in cfg or 'dataset' not in cfg[key]:
        raise KeyError(f'the config has no {key}.dataset')
    ds = dict(cfg[key]['dataset'])
    ds['pipeline'] = []  # applied here, in two parts
    return ds


def image_name(info: dict) -> str:
    if info.get('img_name'):
        return str(info['img_name'])
    return osp.splitext(osp.basename(info['img_path']))[0]


# ---------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------
def palette_array(palette: Optional[Sequence]) -> np.ndarray:
    pal = np.zeros((256, 3), np.uint8)
    if palette is not None:
        p = np.asarray(palette, np.uint8).reshape(-1, 3)[:255]
        pal[:len(p)] = p
    pal[IGNORE_INDEX] = IGNORE_RGB
    return pal


def save_palette_png(path: str, label: np.ndarray, pal: np.ndarray) -> None:
    """Write a palette PNG atomically (temporary name, then rename)."""
    img = Image.fromarray(label.astype(np.uint8))  # mode L
    img.putpalette(pal.ravel().tolist())  # -> mode P, ids unchanged
    d, base = osp.split(path)
    tmp = osp.join(d, f'.{base}.tmp-{os.getpid()}')
    img.save(tmp, format='PNG')
    os.replace(tmp, path)


def read_png(path: str) -> np.ndarray:
    with Image.open(path) as img:
        return np.array(img)


def restrict(probs: np.ndarray,
             allowed: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Probabilities of the allowed classes (renormalised) and argmax."""
    sub = probs[allowed]
    sub = sub / np.maximum(sub.sum(axis=0, keepdims=True), 1e-12)
    return sub.astype(np.float32), allowed[sub.argmax(axis=0)].astype(
        np.uint8)


def crf_job(name: str, image: np.ndarray, probs: np.ndarray,
            allowed: np.ndarray, gt: Optional[np.ndarray], path: str,
            pal: np.ndarray, crf_cfg: dict, num_classes: int,
            return_label: bool):
    """CRF of one image (runs in a worker): write PNG, return its cm."""
    if len(allowed) == 1:
        label = np.full(image.shape[:2], allowed[0], np.uint8)
    else:
        q = dense_crf(image, probs, **crf_cfg)
        label = allowed[q.argmax(axis=0)].astype(np.uint8)
    save_palette_png(path, label, pal)
    cm = None if gt is None else confusion_matrix(label, gt, num_classes,
                                                  IGNORE_INDEX)
    return name, cm, label if return_label else None


def metrics_json(cm: np.ndarray, classes: Sequence[str]) -> dict:
    """Metrics in percent, NaN as null."""
    m = metrics_from_confusion(cm)

    def pct(x):
        x = float(x)
        return None if np.isnan(x) else round(x * 100, 2)

    out = {
        k: pct(m[k])
        for k in ('mIoU', 'mPrecision', 'mRecall', 'aAcc', 'ignored_ratio')
    }
    out['num_pixels'] = m['num_pixels']
    out['per_class'] = {
        name: dict(IoU=pct(m['IoU'][i]), Precision=pct(m['Precision'][i]),
                   Recall=pct(m['Recall'][i]))
        for i, name in enumerate(classes)
    }
    return out


class Progress:
    """Plain progress lines with rate and ETA (readable in log files)."""

    def __init__(self, total: int, prefix: str, interval: float) -> None:
        self.total, self.prefix, self.interval = total, prefix, interval
        self.start = time.time()
        self.last = 0.
        self.done = self.computed = self.skipped = 0

    def update(self, computed: bool) -> None:
        self.done += 1
        if computed:
            self.computed += 1
        else:
            self.skipped += 1
        now = time.time()
        if (now - self.last >= self.interval or self.done == self.total
                or self.done == 1):
            self.last = now
            elapsed = now - self.start
            rate = elapsed / max(self.computed, 1)
            eta = rate * (self.total - self.done)
            print(f'{self.prefix} {self.done}/{self.total} '
                  f'({100 * self.done / max(self.total, 1):.1f}%), '
                  f'skipped {self.skipped}, {rate:.2f} s/img, '
                  f'elapsed {_hms(elapsed)}, ETA {_hms(eta)}', flush=True)


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f'{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}'


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def build_model(cfg: Config, args: argparse.Namespace,
                device: torch.device) -> torch.nn.Module:
    model_cfg = dict(cfg.model)
    if args.infer_from is not None:
        if _type(model_cfg) != 'PatchClassifierSegmentor' and \
                'infer_from' not in model_cfg:
            raise ValueError(f'--infer-from needs a model with infer_from, '
                             f'got {model_cfg.get("type")}')
        model_cfg['infer_from'] = args.infer_from
    model = MODELS.build(model_cfg)
    ckpt = load_checkpoint_file(args.checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    state = {(k[7:] if k.startswith('module.') else k): v
             for k, v in state.items()}
    load_state_dict(model, state, strict=False)  # logs missing keys
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise KeyError('--tta needs tta_model and tta_pipeline in the '
                           'config (see configs/_base_/tta/)')
        model = MODELS.build(dict(cfg.tta_model, module=model))
    return model.to(device).eval()


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    start_time = time.time()
    # Fork the CRF workers first, before torch starts its thread pools.
    pool = None
    if args.crf and args.workers > 0:
        method = 'fork' if 'fork' in mp.get_all_start_methods() else 'spawn'
        pool = mp.get_context(method).Pool(args.workers)

    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    if args.launcher != 'none':
        if not init_cpu_distributed(args.launcher):
            init_dist(args.launcher)
    rank, world_size = get_dist_info()
    if args.device:
        device = torch.device(args.device)
    elif torch.cuda.is_available():
        device = torch.device('cuda', int(os.environ['LOCAL_RANK']))
    else:
        device = torch.device('cpu')
    if args.threads:
        torch.set_num_threads(args.threads)
    elif device.type == 'cpu' and 'OMP_NUM_THREADS' not in os.environ:
        # Leave the CRF workers their cores: idle OpenMP threads of the
        # model spin and would take CPU time from them.
        busy = args.workers if pool is not None else 0
        torch.set_num_threads(
            max(1, (os.cpu_count() or 1) // world_size - busy))

    out_dir = args.out or osp.join(
        'work_dirs', 'pseudo_labels',
        osp.splitext(osp.basename(args.config))[0], args.split)
    pseudo_dir = osp.join(out_dir, 'pseudo')
    crf_dir = osp.join(out_dir, 'pseudo_crf')
    for d in (pseudo_dir, crf_dir) if args.crf else (pseudo_dir, ):
        os.makedirs(d, exist_ok=True)
        # leftovers of a crash (never those of a running rank: newer)
        for tmp in glob.glob(osp.join(d, '.*.tmp-*')):
            if osp.getmtime(tmp) < start_time - 60:
                os.remove(tmp)

    crf_cfg = dict(CRF_PRESETS[args.crf_preset] if args.crf_preset else
                   cfg.get('crf_cfg', CRF_PRESETS['vitpcm']))

    dataset = DATASETS.build(dataset_cfg_of(cfg, args.split))
    classes = list(dataset.metainfo['classes'])
    num_classes = len(classes)
    pal = palette_array(dataset.metainfo.get('palette'))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    with_gt = bool(infos) and all(
        osp.isfile(str(info.get('seg_map_path', ''))) for info in infos)
    if args.tta:
        pipeline_cfg = list(cfg.tta_pipeline)
    else:
        pipeline_cfg = list(cfg.test_dataloader.dataset.get(
            'pipeline', cfg.get('test_pipeline', [])))
    load_cfgs, rest_cfgs = split_pipeline(pipeline_cfg, with_gt)
    load_pipe, rest_pipe = Compose(load_cfgs), Compose(rest_cfgs)

    model = build_model(cfg, args, device)
    are_probs = outputs_probabilities(model)

    my_indices = list(range(rank, len(infos), world_size))
    prefix = f'[rank {rank}/{world_size}]' if world_size > 1 else '[pseudo]'
    print(f'{prefix} {len(my_indices)} of {len(infos)} {args.split} images '
          f'-> {out_dir} (crf={args.crf}, gt={with_gt}, '
          f'tta={args.tta})', flush=True)
    progress = Progress(len(my_indices), prefix, args.log_interval)
    cm_pseudo = np.zeros((num_classes, num_classes + 1), np.int64)
    cm_crf = np.zeros_like(cm_pseudo)
    pending = collections.deque()
    panels: Dict[str, dict] = {}
    show = args.show_dir is not None and rank == 0
    num_panels = 0

    def finish(result) -> None:
        name, cm, label = result
        if cm is not None:
            cm_crf[...] += cm
        if name in panels:
            panels[name]['pseudo + CRF'] = label
            _save_panel(args.show_dir, name, panels.pop(name), pal, classes)

    for idx in my_indices:
        info = infos[idx]
        name = image_name(info)
        pseudo_path = osp.join(pseudo_dir, name + '.png')
        crf_path = osp.join(crf_dir, name + '.png')
        done = osp.isfile(pseudo_path) and (not args.crf
                                            or osp.isfile(crf_path))
        if done:
            if with_gt:  # completed earlier: still part of the metrics
                gt = load_pipe(dict(info))['gt_seg_map']
                cm_pseudo += confusion_matrix(read_png(pseudo_path), gt,
                                              num_classes, IGNORE_INDEX)
                if args.crf:
                    cm_crf += confusion_matrix(read_png(crf_path), gt,
                                               num_classes, IGNORE_INDEX)
            progress.update(computed=False)
            continue

        results = load_pipe(dict(info))
        image = np.ascontiguousarray(results['img'][..., ::-1])  # BGR->RGB
        gt = results.pop('gt_seg_map', None)
        results['seg_fields'] = [
            f for f in results.get('seg_fields', []) if f != 'gt_seg_map'
        ]
        allowed = np.flatnonzero(results['gt_image_labels'])
        data = rest_pipe(results)
        with torch.no_grad():
            sample = model.test_step(pseudo_collate([data]))[0]
        scores = sample.seg_logits.data.float()
        probs = (scores.clamp(min=0) if are_probs else
                 scores.softmax(dim=0)).cpu().numpy()
        if probs.shape[1:] != image.shape[:2]:
            raise RuntimeError(
                f'{name}: prediction {probs.shape[1:]} does not match the '
                f'image {image.shape[:2]}')
        if len(allowed) == 0:  # no labels at all (no background class)
            sub, pseudo = None, np.full(image.shape[:2], IGNORE_INDEX,
                                        np.uint8)
        else:
            sub, pseudo = restrict(probs, allowed)
        save_palette_png(pseudo_path, pseudo, pal)
        if gt is not None:
            cm_pseudo += confusion_matrix(pseudo, gt, num_classes,
                                          IGNORE_INDEX)
        want_panel = show and num_panels < args.num_show
        if want_panel:
            num_panels += 1
            panels[name] = dict(image=image, pseudo=pseudo, gt=gt)
            if not args.crf:
                _save_panel(args.show_dir, name, panels.pop(name), pal,
                            classes)
        if args.crf:
            if sub is None:
                save_palette_png(crf_path, pseudo, pal)
                finish((name, None if gt is None else confusion_matrix(
                    pseudo, gt, num_classes, IGNORE_INDEX), pseudo))
            else:
                job = (name, image, sub, allowed, gt, crf_path, pal,
                       crf_cfg, num_classes, want_panel)
                if pool is None:
                    finish(crf_job(*job))
                else:
                    pending.append(pool.apply_async(crf_job, job))
                    # bounded queue: memory stays flat, workers stay busy
                    while len(pending) > 2 * args.workers:
                        finish(pending.popleft().get())
        progress.update(computed=True)

    while pending:
        finish(pending.popleft().get())
    if pool is not None:
        pool.close()
        pool.join()

    if world_size > 1:
        for cm in (cm_pseudo, cm_crf):
            t = torch.from_numpy(cm)
            all_reduce(t)
            cm[...] = t.numpy()
    # The last collective is done: a live gloo group can abort at exit.
    shutdown_distributed()
    if rank != 0:
        return
    print(f'{prefix} done in {_hms(time.time() - start_time)}', flush=True)
    if not with_gt:
        print(f'{prefix} no ground truth for the {args.split} split: no '
              'metrics', flush=True)
        return
    report = dict(
        split=args.split,
        num_images=len(infos),
        config=args.config,
        checkpoint=args.checkpoint,
        infer_from=getattr(getattr(model, 'module', model), 'infer_from',
                           None),
        tta=args.tta,
        crf=crf_cfg if args.crf else None,
        pseudo=metrics_json(cm_pseudo, classes))
    if args.crf:
        report['pseudo_crf'] = metrics_json(cm_crf, classes)
    json_path = osp.join(out_dir, f'metrics_{args.split}.json')
    tmp = json_path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(report, f, indent=2)
    os.replace(tmp, json_path)
    line = f"mIoU pseudo (no CRF) {report['pseudo']['mIoU']}"
    if args.crf:
        line += f", with CRF {report['pseudo_crf']['mIoU']}"
    print(f'{prefix} {args.split}: {line} -> {json_path}', flush=True)
    if args.show_dir:
        _save_charts(args.show_dir, cm_pseudo,
                     cm_crf if args.crf else None, classes)


def _save_panel(show_dir: str, name: str, item: dict, pal: np.ndarray,
                classes: Sequence[str]) -> None:
    from wsss_mm.visualization.report import save_overlay_panel
    panels = {'pseudo': item['pseudo']}
    if 'pseudo + CRF' in item:
        panels['pseudo + CRF'] = item['pseudo + CRF']
    if item.get('gt') is not None:
        panels['ground truth'] = item['gt']
    save_overlay_panel(
        osp.join(show_dir, 'panels', f'{name}.png'), item['image'], panels,
        pal[:len(classes)].tolist(), classes, title=name)


def _save_charts(show_dir: str, cm_pseudo: np.ndarray,
                 cm_crf: Optional[np.ndarray],
                 classes: Sequence[str]) -> None:
    from wsss_mm.visualization.report import (save_confusion_matrix,
                                              save_iou_bar_chart)
    series = {'pseudo': metrics_from_confusion(cm_pseudo)['IoU']}
    save_confusion_matrix(
        osp.join(show_dir, 'confusion_pseudo.png'), cm_pseudo, classes,
        title='pseudo masks vs ground truth (row-normalised)')
    if cm_crf is not None:
        series['pseudo + CRF'] = metrics_from_confusion(cm_crf)['IoU']
        save_confusion_matrix(
            osp.join(show_dir, 'confusion_pseudo_crf.png'), cm_crf, classes,
            title='CRF pseudo masks vs ground truth (row-normalised)')
    save_iou_bar_chart(
        osp.join(show_dir, 'iou_per_class.png'), series, classes,
        title='pseudo-mask IoU per class')


if __name__ == '__main__':
    main()
