"""Pseudo masks of a dataset split, with metrics under a stated protocol.

:func:`generate_pseudo_labels` predicts every image of a split, restricts
the prediction to a set of image-level labels (``image_labels``: the
ground truth on the train split, as the papers do for pseudo masks; the
model's own prediction elsewhere; or none), writes palette PNGs to
``OUT/pseudo/`` and, with a CRF, refined ones to ``OUT/pseudo_crf/`` (dense
CRF in worker processes, overlapping with inference). When the split has
ground-truth masks, it writes one result file per measurement
(``OUT/result_SPLIT.json``, ``OUT/result_SPLIT_crf.json``) carrying its
protocol (:mod:`wsss_mm.evaluation.protocol`). Ground-truth labels off the
train split are an oracle, and the result says so.

Resumable: images whose PNGs exist are skipped (they still count in the
metrics); every file is written atomically (:mod:`wsss_mm.utils.fileio`).
In a distributed run (``launcher='pytorch'``) rank r takes every
world_size-th image and the confusion matrices are summed.

``tools/make_pseudo_labels.py`` is the command line; ``tools/test.py
--crf`` calls the same routine with ``image_labels='none'``.
"""
import collections
import multiprocessing as mp
import os
import os.path as osp
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import Compose, LoadImageFromFile
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.dist import all_reduce, barrier, get_dist_info, init_dist
from mmengine.registry import init_default_scope
from mmseg.datasets.transforms import LoadAnnotations
from PIL import Image

from wsss_mm.evaluation.functional import (confusion_matrix,
                                           metrics_from_confusion)
from wsss_mm.evaluation.protocol import (IMAGE_LABEL_MODES, build_protocol,
                                         metrics_dict, prediction_source,
                                         protocol_label, tta_protocol,
                                         write_result)
from wsss_mm.models.segmentors.tta import (image_labels_over_views,
                                           outputs_probabilities)
from wsss_mm.models.utils.crf import CRF_PRESETS, dense_crf
from wsss_mm.registry import DATASETS, MODELS, TRANSFORMS
from wsss_mm.utils.compat import init_cpu_distributed, shutdown_distributed
from wsss_mm.utils.fileio import remove_stale_temp_files, save_image_atomic
from .inference import init_model

IGNORE_INDEX = 255
IGNORE_RGB = (224, 224, 192)  # VOC's boundary colour


# ---------------------------------------------------------------------------
# pipeline
# ---------------------------------------------------------------------------
def _transform_class(t: dict):
    cls = TRANSFORMS.get(t['type']) if isinstance(t.get('type'), str) \
        else t.get('type')
    if cls is None:
        raise KeyError(f"transform {t.get('type')!r} is not registered "
                       '(missing custom_imports of its package?)')
    return cls


def _kind(t: dict) -> str:
    """'image', 'gt', 'labels', 'tile' or 'model' for a transform config,
    by class (plugins' subclasses of the loaders count as loaders)."""
    from wsss_mm.datasets.transforms import CropTile, LoadImageLevelLabels
    cls = _transform_class(t)
    if not isinstance(cls, type):
        return 'model'
    for base, kind in ((LoadImageFromFile, 'image'),
                       (LoadAnnotations, 'gt'),
                       (LoadImageLevelLabels, 'labels'), (CropTile, 'tile')):
        if issubclass(cls, base):
            return kind
    return 'model'


def split_pipeline(pipeline: List[dict],
                   with_gt: bool) -> Tuple[List[dict], List[dict]]:
    """Cut a test pipeline into loading and model-input parts.

    The loading part reads the image (at its original size, cropped to the
    tile for tile datasets), the ground truth and the image-level labels;
    the rest (resize, flips, packing) makes the network input. Ground truth
    is thus never resized, and the original image is kept for the CRF.
    Transforms are classified by class, so a plugin's subclass of an image
    loader is kept as the loader.

    Args:
        pipeline (list[dict]): Test or TTA pipeline of the config.
        with_gt (bool): Load ground-truth masks.

    Returns:
        tuple: ``(load_cfgs, rest_cfgs)``.
    """
    kinds = [_kind(t) for t in pipeline]
    image_loader = next((dict(t) for t, k in zip(pipeline, kinds)
                         if k == 'image'), None)
    if image_loader is None:
        raise ValueError('the test pipeline has no image loader (a '
                         'LoadImageFromFile subclass)')
    gt_loader = next(
        (dict(t) for t, k in zip(pipeline, kinds) if k == 'gt'), None)
    for t in pipeline:  # TTA: LoadAnnotations inside TestTimeAug
        for group in t.get('transforms', []) or []:
            for s in group if isinstance(group, list) else [group]:
                if gt_loader is None and isinstance(s, dict) and _kind(
                        s) == 'gt':
                    gt_loader = dict(s)
    if gt_loader is None:
        # pillow reads palette PNGs as class ids
        gt_loader = dict(type='LoadAnnotations', imdecode_backend='pillow')
    load = [image_loader]
    if with_gt:
        load.append(gt_loader)
    load += [dict(t) for t, k in zip(pipeline, kinds) if k == 'tile']
    # images without foreground labels are kept (all background)
    load.append(dict(type='LoadImageLevelLabels', allow_empty=True))

    rest = []
    for t, k in zip(pipeline, kinds):
        if k != 'model':
            continue
        t = dict(t)
        if 'transforms' in t:  # TestTimeAug
            groups = []
            for group in t['transforms']:
                group = [s for s in group if _kind(s) == 'model']
                if group:
                    groups.append(group)
            t['transforms'] = groups
        rest.append(t)
    return load, rest


def image_name(info: dict) -> str:
    """Output file stem of a data info (``img_name`` for tiles)."""
    if info.get('img_name'):
        return str(info['img_name'])
    return osp.splitext(osp.basename(info['img_path']))[0]


# ---------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------
def palette_array(palette: Optional[Sequence]) -> np.ndarray:
    """``[256, 3]`` palette with the ignore index in VOC's boundary colour."""
    pal = np.zeros((256, 3), np.uint8)
    if palette is not None:
        p = np.asarray(palette, np.uint8).reshape(-1, 3)[:255]
        pal[:len(p)] = p
    pal[IGNORE_INDEX] = IGNORE_RGB
    return pal


def save_palette_png(path: str, label: np.ndarray, pal: np.ndarray) -> None:
    """Write class ids as a palette PNG, atomically."""
    img = Image.fromarray(label.astype(np.uint8))  # mode L
    img.putpalette(pal.ravel().tolist())  # -> mode P, ids unchanged
    save_image_atomic(path, img)


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
# model
# ---------------------------------------------------------------------------
def build_pseudo_label_model(cfg: Config,
                             checkpoint: str,
                             device: str,
                             tta: bool = False,
                             infer_from: Optional[str] = None
                             ) -> torch.nn.Module:
    """:func:`wsss_mm.apis.init_model`, optionally wrapped in the config's
    ``tta_model`` and with ``infer_from`` overridden."""
    cfg = cfg.copy()
    if infer_from is not None:
        if 'infer_from' not in cfg.model and cfg.model.get(
                'type') != 'PatchClassifierSegmentor':
            raise ValueError('infer_from needs a model with infer_from, '
                             f"got {cfg.model.get('type')}")
        cfg.model.infer_from = infer_from
    model = init_model(cfg, checkpoint, device=device)
    if tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise KeyError('--tta needs tta_model and tta_pipeline in the '
                           'config (see configs/_base_/tta/)')
        model = MODELS.build(dict(cfg.tta_model, module=model))
    return model.to(device).eval()


def _predicted_labels(model: torch.nn.Module, data: dict) -> np.ndarray:
    """Multi-hot image labels the model predicts for one packed sample;
    under TTA from the class scores of all views, averaged
    (:func:`~wsss_mm.models.segmentors.tta.image_labels_over_views`)."""
    batch = pseudo_collate([data])
    if not isinstance(data['inputs'], list):  # one view (no TestTimeAug)
        batch = {key: [value] for key, value in batch.items()}
    with torch.no_grad():
        labels = image_labels_over_views(getattr(model, 'module', model),
                                         batch)
    return labels[0].cpu().numpy()


# ---------------------------------------------------------------------------
# the routine
# ---------------------------------------------------------------------------
def default_image_labels(split: str) -> str:
    """Ground-truth image labels on the train split (weak supervision),
    the model's own prediction on the others."""
    return 'gt' if split == 'train' else 'predicted'


def generate_pseudo_labels(cfg: Config,
                           checkpoint: str,
                           out_dir: str,
                           split: str = 'train',
                           image_labels: Optional[str] = None,
                           crf: bool = False,
                           crf_cfg: Optional[dict] = None,
                           workers: int = 2,
                           tta: bool = False,
                           infer_from: Optional[str] = None,
                           show_dir: Optional[str] = None,
                           num_show: int = 8,
                           log_interval: float = 10.,
                           device: Optional[str] = None,
                           threads: int = 0,
                           launcher: str = 'none',
                           config_path: Optional[str] = None,
                           result_name: Optional[str] = None
                           ) -> Optional[Dict[str, Any]]:
    """Write (CRF-refined) masks of a split and their metrics.

    Args:
        cfg (Config): Model and dataset config. Its key
            ``unsafe_load_checkpoint`` (``--unsafe-load-checkpoint``) lets
            a checkpoint that needs full unpickling load.
        checkpoint (str): Checkpoint file.
        out_dir (str): Output folder (``pseudo/``, ``pseudo_crf/`` and the
            result files).
        split (str): Dataset of ``{split}_dataloader``.
        image_labels (str, optional): 'gt', 'predicted' or 'none' (see
            :func:`default_image_labels` for the default).
        crf (bool): Also write CRF-refined masks and their metrics.
        crf_cfg (dict, optional): CRF parameters; default the config's
            ``crf_cfg``, else the ViT-PCM preset.
        workers (int): CRF processes per rank (0: in this process).
        tta (bool): Use the config's ``tta_model`` and ``tta_pipeline``.
        infer_from (str, optional): Override ``model.infer_from``.
        show_dir (str, optional): Overlay panels and IoU/confusion charts.
        num_show (int): Overlay panels to write.
        log_interval (float): Seconds between progress lines.
        device (str, optional): Torch device (default: GPU of the local
            rank if any, else CPU).
        threads (int): Torch threads on CPU (0: the cores per rank not
            taken by CRF workers).
        launcher (str): 'none' or a distributed launcher ('pytorch').
        config_path (str, optional): Config file, for the result files.
        result_name (str, optional): Stem of the result files (default
            ``result_SPLIT``).

    Returns:
        dict | None: On rank 0 with ground truth, ``{'pseudo': result,
        'pseudo_crf': result}`` (the latter with ``crf``); else None.
    """
    image_labels = image_labels or default_image_labels(split)
    if image_labels not in IMAGE_LABEL_MODES:
        raise ValueError(f'image_labels must be one of {IMAGE_LABEL_MODES}')
    start_time = time.time()
    # Fork the CRF workers before the model's thread pools start.
    pool = None
    if crf and workers > 0:
        method = 'fork' if 'fork' in mp.get_all_start_methods() else 'spawn'
        pool = mp.get_context(method).Pool(workers)
    try:
        return _generate(
            cfg=cfg, checkpoint=checkpoint, out_dir=out_dir, split=split,
            image_labels=image_labels, crf=crf, crf_cfg=crf_cfg,
            workers=workers, tta=tta, infer_from=infer_from,
            show_dir=show_dir, num_show=num_show, log_interval=log_interval,
            device=device, threads=threads, launcher=launcher,
            config_path=config_path, result_name=result_name,
            start_time=start_time, pool=pool)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()


def _generate(cfg, checkpoint, out_dir, split, image_labels, crf, crf_cfg,
              workers, tta, infer_from, show_dir, num_show, log_interval,
              device, threads, launcher, config_path, result_name,
              start_time, pool):
    # Pipelines and the model resolve names in the config's scope.
    init_default_scope(cfg.get('default_scope', 'wsss_mm'))
    if launcher != 'none':
        if not init_cpu_distributed(launcher):
            init_dist(launcher)
    rank, world_size = get_dist_info()
    if device is None:
        device = (f"cuda:{os.environ.get('LOCAL_RANK', 0)}"
                  if torch.cuda.is_available() else 'cpu')
    if threads:
        torch.set_num_threads(threads)
    elif device == 'cpu' and 'OMP_NUM_THREADS' not in os.environ:
        # Leave the CRF workers their cores: idle OpenMP threads of the
        # model spin and would take CPU time from them.
        busy = workers if pool is not None else 0
        torch.set_num_threads(
            max(1, (os.cpu_count() or 1) // world_size - busy))

    pseudo_dir = osp.join(out_dir, 'pseudo')
    crf_dir = osp.join(out_dir, 'pseudo_crf')
    for d in (pseudo_dir, crf_dir) if crf else (pseudo_dir, ):
        os.makedirs(d, exist_ok=True)
        if rank == 0:  # leftovers of a killed run; no rank writes yet
            remove_stale_temp_files(d)
    if world_size > 1:
        barrier()

    crf_cfg = dict(crf_cfg or cfg.get('crf_cfg', None)
                   or CRF_PRESETS['vitpcm'])
    ds_key = f'{split}_dataloader'
    if ds_key not in cfg or 'dataset' not in cfg[ds_key]:
        raise KeyError(f'the config has no {ds_key}.dataset')
    dataset = DATASETS.build(dict(cfg[ds_key]['dataset'], pipeline=[]))
    classes = list(dataset.metainfo['classes'])
    num_classes = len(classes)
    pal = palette_array(dataset.metainfo.get('palette'))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    with_gt = bool(infos) and all(
        osp.isfile(str(info.get('seg_map_path', ''))) for info in infos)
    if tta:
        pipeline_cfg = list(cfg.tta_pipeline)
    else:
        pipeline_cfg = list(cfg.test_dataloader.dataset.get(
            'pipeline', cfg.get('test_pipeline', [])))
    load_cfgs, rest_cfgs = split_pipeline(pipeline_cfg, with_gt)
    load_pipe, rest_pipe = Compose(load_cfgs), Compose(rest_cfgs)

    model = build_pseudo_label_model(cfg, checkpoint, device, tta,
                                     infer_from)
    are_probs = outputs_probabilities(model)
    model_cfg = dict(cfg.model)
    if infer_from is not None:
        model_cfg['infer_from'] = infer_from
    protocol_args = dict(
        split=split, source=prediction_source(model_cfg),
        image_labels=image_labels,
        tta=tta_protocol(cfg.tta_pipeline) if tta else None,
        config=config_path, num_images=len(infos),
        unsafe_load_checkpoint=bool(cfg.get('unsafe_load_checkpoint',
                                            False)))

    my_indices = list(range(rank, len(infos), world_size))
    prefix = f'[rank {rank}/{world_size}]' if world_size > 1 else '[pseudo]'
    oracle = image_labels == 'gt' and split != 'train'
    print(f'{prefix} {len(my_indices)} of {len(infos)} {split} images '
          f'-> {out_dir} (crf={crf}, gt={with_gt}, tta={tta}, image '
          f"labels={image_labels}{' (ORACLE)' if oracle else ''})",
          flush=True)
    progress = Progress(len(my_indices), prefix, log_interval)
    cm_pseudo = np.zeros((num_classes, num_classes + 1), np.int64)
    cm_crf = np.zeros_like(cm_pseudo)
    pending = collections.deque()
    panels: Dict[str, dict] = {}
    show = show_dir is not None and rank == 0
    num_panels = 0

    def finish(result) -> None:
        name, cm, label = result
        if cm is not None:
            cm_crf[...] += cm
        if name in panels:
            panels[name]['pseudo + CRF'] = label
            _save_panel(show_dir, name, panels.pop(name), pal, classes)

    for idx in my_indices:
        info = infos[idx]
        name = image_name(info)
        pseudo_path = osp.join(pseudo_dir, name + '.png')
        crf_path = osp.join(crf_dir, name + '.png')
        if osp.isfile(pseudo_path) and (not crf or osp.isfile(crf_path)):
            if with_gt:  # completed earlier: still part of the metrics
                gt = load_pipe(dict(info))['gt_seg_map']
                cm_pseudo += confusion_matrix(read_png(pseudo_path), gt,
                                              num_classes, IGNORE_INDEX)
                if crf:
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
        gt_labels = results.pop('gt_image_labels')
        if image_labels == 'gt':
            results['gt_image_labels'] = gt_labels  # the model sees them
        data = rest_pipe(results)
        if image_labels == 'gt':
            allowed = np.flatnonzero(gt_labels)
        elif image_labels == 'predicted':
            predicted = _predicted_labels(model, data)
            if info.get('with_background'):
                predicted[0] = 1
            allowed = np.flatnonzero(predicted)
        else:
            allowed = np.arange(num_classes)
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
        want_panel = show and num_panels < num_show
        if want_panel:
            num_panels += 1
            panels[name] = dict(image=image, pseudo=pseudo, gt=gt)
            if not crf:
                _save_panel(show_dir, name, panels.pop(name), pal, classes)
        if crf:
            if sub is None:
                save_palette_png(crf_path, pseudo, pal)
                finish((name, None if gt is None else confusion_matrix(
                    pseudo, gt, num_classes, IGNORE_INDEX), pseudo))
            else:
                job = (name, image, sub, allowed, gt, crf_path, pal, crf_cfg,
                       num_classes, want_panel)
                if pool is None:
                    finish(crf_job(*job))
                else:
                    pending.append(pool.apply_async(crf_job, job))
                    # bounded queue: memory stays flat, workers stay busy
                    while len(pending) > 2 * workers:
                        finish(pending.popleft().get())
        progress.update(computed=True)

    while pending:
        finish(pending.popleft().get())

    if world_size > 1:
        for cm in (cm_pseudo, cm_crf):
            t = torch.from_numpy(cm)
            all_reduce(t)
            cm[...] = t.numpy()
    # The last collective is done: a live gloo group can abort at exit.
    shutdown_distributed()
    if rank != 0:
        return None
    print(f'{prefix} done in {_hms(time.time() - start_time)}', flush=True)
    if not with_gt:
        print(f'{prefix} no ground truth for the {split} split: no '
              'metrics', flush=True)
        return None
    stem = result_name or f'result_{split}'
    out = {}
    for key, cm, crf_params in (('pseudo', cm_pseudo, None),
                                ('pseudo_crf', cm_crf, crf_cfg)):
        if key == 'pseudo_crf' and not crf:
            continue
        protocol = build_protocol(
            crf=crf_params, checkpoint=checkpoint, **protocol_args)
        path = osp.join(out_dir, stem + ('_crf' if crf_params else '') +
                        '.json')
        out[key] = write_result(
            path, protocol, metrics_dict(metrics_from_confusion(cm),
                                         classes),
            masks=crf_dir if crf_params else pseudo_dir)
        print(f"{prefix} mIoU {out[key]['metrics']['mIoU']} "
              f'[{protocol_label(protocol)}] -> {path}', flush=True)
    if show_dir:
        _save_charts(show_dir, cm_pseudo, cm_crf if crf else None, classes)
    return out


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
