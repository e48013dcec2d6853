"""The evaluation protocol a number was measured under, and result files.

Every test run (``tools/test.py``) and pseudo-mask run
(``tools/make_pseudo_labels.py``) writes one JSON result::

    {"protocol": {...}, "metrics": {"mIoU": .., "per_class": {..}}, ...}

The protocol fields are documented in ``docs/evaluation.md``;
``tools/analysis/compare_runs.py`` reads these files and never puts rows
measured under different protocols in one column without a mark.
"""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from wsss_mm.utils.fileio import dump_json_atomic, sha256_file

RESULT_VERSION = 1
IMAGE_LABEL_MODES = ('none', 'predicted', 'gt')
# Columns that define "the same protocol" (compare_runs marks differences).
PROTOCOL_KEYS = ('split', 'prediction_source', 'image_labels', 'oracle',
                 'tta', 'crf')


def _walk_tta(pipeline: Sequence[dict]) -> Dict[str, list]:
    scales, flips = [], []
    for t in pipeline or []:
        if str(t.get('type', '')).split('.')[-1] != 'TestTimeAug':
            continue
        for group in t.get('transforms', []):
            for s in group if isinstance(group, (list, tuple)) else [group]:
                kind = str(s.get('type', '')).split('.')[-1]
                if kind in ('Resize', 'RandomResize'):
                    if s.get('scale_factor') is not None:
                        scales.append(float(s['scale_factor']))
                    elif s.get('scale') is not None:
                        scales.append(list(s['scale']))
                elif kind == 'RandomFlip':
                    flips.append(
                        bool(s.get('prob', 0) and s.get('prob') >= 1))
    return dict(scales=scales, flips=flips)


def tta_protocol(tta_pipeline: Optional[Sequence[dict]]) -> Optional[dict]:
    """``{'scales': [...], 'flips': [False, True]}`` of a TTA pipeline, or
    None without TTA."""
    if not tta_pipeline:
        return None
    return _walk_tta(tta_pipeline)


def prediction_source(model_cfg: dict) -> str:
    """'decoder', 'patch_classifier' or 'cam' for a model config.

    Segmentors predict from their decoder or, with
    ``infer_from='classifier'``, from what their class attribute
    ``classifier_source`` names (``PatchClassifierSegmentor``: the patch
    classifier; ``ToCo``: CAMs).
    """
    if model_cfg.get('type', '').split('.')[-1] == 'WSSSTTAModel' or \
            'module' in model_cfg:
        model_cfg = model_cfg.get('module', model_cfg)
    if model_cfg.get('infer_from') == 'classifier':
        from wsss_mm.registry import MODELS
        cls = MODELS.get(model_cfg['type']) if isinstance(
            model_cfg.get('type'), str) else model_cfg.get('type')
        return getattr(cls, 'classifier_source', 'patch_classifier')
    return 'decoder'


def checkpoint_info(path: Optional[str],
                    unsafe: bool = False) -> Dict[str, Any]:
    """Path, sha256 and training iteration of a checkpoint file.

    ``unsafe``: unpickle it fully (``--unsafe-load-checkpoint``), as the
    model was loaded; else a file that needs it is refused.
    """
    if path is None or not osp.isfile(path):  # none, or a URL
        return dict(path=path, sha256=None, iteration=None)
    iteration = None
    from wsss_mm.utils.checkpoint import load_checkpoint_file
    ckpt = load_checkpoint_file(path, map_location='cpu', unsafe=unsafe)
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    iteration = meta.get('iter')  # None for a plain state dict
    return dict(
        path=osp.abspath(path), sha256=sha256_file(path),
        iteration=iteration)


def build_protocol(*,
                   split: str,
                   source: str,
                   image_labels: str,
                   tta: Optional[dict],
                   crf: Optional[dict],
                   checkpoint: Optional[str],
                   config: Optional[str],
                   num_images: Optional[int] = None,
                   unsafe_load_checkpoint: bool = False) -> Dict[str, Any]:
    """The protocol record of one run.

    Args:
        split (str): Dataset split ('train', 'val', 'test').
        source (str): 'decoder', 'patch_classifier' or 'cam'.
        image_labels (str): Image labels used at inference: 'none',
            'predicted' or 'gt'. 'gt' off the train split is an oracle.
        tta (dict, optional): :func:`tta_protocol`; None without TTA.
        crf (dict, optional): CRF parameters; None without CRF.
        checkpoint (str, optional): Checkpoint file (hashed here).
        config (str, optional): Config file.
        num_images (int, optional): Images evaluated.
        unsafe_load_checkpoint (bool): Read a checkpoint that needs full
            unpickling (the config key of ``--unsafe-load-checkpoint``).
    """
    if image_labels not in IMAGE_LABEL_MODES:
        raise ValueError(f'image_labels must be one of {IMAGE_LABEL_MODES}, '
                         f'got {image_labels!r}')
    ckpt = checkpoint_info(checkpoint, unsafe=unsafe_load_checkpoint)
    return dict(
        split=split,
        prediction_source=source,
        image_labels=image_labels,
        oracle=image_labels == 'gt' and split != 'train',
        tta=tta,
        crf=dict(crf) if crf else None,
        checkpoint=ckpt['path'],
        checkpoint_sha256=ckpt['sha256'],
        iteration=ckpt['iteration'],
        config=osp.abspath(config) if config else None,
        num_images=num_images)


def protocol_label(protocol: Dict[str, Any]) -> str:
    """A short human-readable description, e.g. for printed metrics."""
    parts = [f"{protocol['split']} split", protocol['prediction_source']]
    labels = protocol['image_labels']
    parts.append('ORACLE gt image labels' if protocol.get('oracle') else
                 f'image labels: {labels}')
    tta = protocol.get('tta')
    parts.append('no TTA' if not tta else
                 f"TTA {len(tta['scales'])} scales x "
                 f"{max(len(tta['flips']), 1)} flips")
    crf = protocol.get('crf')
    parts.append('no CRF' if not crf else 'CRF ' + ','.join(
        f'{k}={v}' for k, v in sorted(crf.items())))
    return ', '.join(parts)


def metrics_dict(metrics: Dict[str, Any],
                 classes: Sequence[str]) -> Dict[str, Any]:
    """Metrics in percent (NaN as null) from
    :func:`wsss_mm.evaluation.functional.metrics_from_confusion`."""

    def pct(x):
        x = float(x)
        return None if np.isnan(x) else round(x * 100, 2)

    out = {
        k: pct(metrics[k])
        for k in ('mIoU', 'mPrecision', 'mRecall', 'aAcc', 'ignored_ratio')
        if k in metrics
    }
    if 'num_pixels' in metrics:
        out['num_pixels'] = int(metrics['num_pixels'])
    out['per_class'] = {
        name: {
            k: pct(metrics[k][i])
            for k in ('IoU', 'Precision', 'Recall') if k in metrics
        }
        for i, name in enumerate(classes)
    }
    return out


def write_result(path: str, protocol: Dict[str, Any],
                 metrics: Dict[str, Any], **extra) -> Dict[str, Any]:
    """Write one result file (atomically) and return its content."""
    result = dict(version=RESULT_VERSION, protocol=protocol,
                  metrics=metrics, **extra)
    dump_json_atomic(result, path, indent=2)
    return result


def find_results(work_dirs: Sequence[str]) -> List[str]:
    """Result files (``*.json`` holding a ``protocol``) under folders."""
    import glob
    import json
    found = []
    for d in work_dirs:
        files = [d] if osp.isfile(d) else sorted(
            glob.glob(osp.join(d, '**', '*.json'), recursive=True))
        for f in files:
            try:
                with open(f, encoding='utf-8') as fh:
                    data = json.load(fh)
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and 'protocol' in data and \
                    'metrics' in data:
                found.append(f)
    return found
