"""Check a config's datasets before a long job (``tools/misc/
check_dataset.py``): every image decodes, every mask holds only class ids
of the dataset, every image-level label is valid."""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config
from mmengine.logging import print_log
from PIL import Image

from wsss_mm.datasets.labels import read_index_mask
from wsss_mm.datasets.transforms.loading import check_seg_map_ids

SPLITS = ('train', 'val', 'test')


def _dataset_cfg(cfg: Config, split: str) -> Optional[dict]:
    loader = cfg.get(f'{split}_dataloader')
    if not loader:
        return None
    dataset = loader.get('dataset')
    return None if dataset is None else dataset


def _check_image(path: str) -> Optional[str]:
    if not osp.isfile(path):
        return f'{path}: image file not found'
    try:
        with Image.open(path) as img:
            img.load()
    except Exception as e:  # PIL raises many types for corrupt files
        return f'{path}: cannot decode image ({type(e).__name__}: {e})'
    return None


def _check_mask(path: str, num_classes: int,
                ignore_index: int) -> Optional[str]:
    try:
        check_seg_map_ids(read_index_mask(path), num_classes, ignore_index,
                          path)
    except Exception as e:
        return str(e)
    return None


def check_dataset(cfg: Config,
                  splits: Sequence[str] = SPLITS,
                  progress: bool = True) -> Dict[str, dict]:
    """Check the datasets of ``cfg``'s dataloaders.

    Building a dataset already checks its list, its image-level labels
    against the class list and the empty-label policy; then every image is
    decoded and every mask is read and its ids checked.

    Returns:
        dict: ``{split: {'images': n, 'masks': n, 'samples': n,
        'problems': [one line each]}}``; a split whose dataset cannot be
        built has one problem saying why.
    """
    from wsss_mm.registry import DATASETS
    report: Dict[str, dict] = {}
    seen: List[str] = []
    for split in splits:
        ds_cfg = _dataset_cfg(cfg, split)
        if ds_cfg is None:
            continue
        key = json.dumps(ds_cfg.to_dict() if hasattr(ds_cfg, 'to_dict')
                         else ds_cfg, sort_keys=True, default=str)
        if key in seen:  # e.g. test_dataloader = val_dataloader
            continue
        seen.append(key)
        entry = dict(images=0, masks=0, samples=0, problems=[])
        report[split] = entry
        ds_cfg = dict(ds_cfg, pipeline=[], lazy_init=False)
        try:
            dataset = DATASETS.build(ds_cfg)
        except Exception as e:
            entry['problems'].append(f'cannot build the {split} dataset: '
                                     f'{type(e).__name__}: {e}')
            continue
        num_classes = len(dataset.metainfo['classes'])
        ignore = getattr(dataset, 'ignore_index', 255)
        images, masks = {}, {}
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            entry['samples'] += 1
            images.setdefault(info['img_path'], None)
            if info.get('seg_map_path'):
                masks.setdefault(info['seg_map_path'], None)
            bad = [int(c) for c in info.get('img_labels', [])
                   if not 0 <= int(c) < num_classes]
            if bad:
                entry['problems'].append(
                    f'{info["img_path"]}: image-level labels {bad} out of '
                    f'range 0..{num_classes - 1}')
        for n, path in enumerate(images, 1):
            problem = _check_image(path)
            if problem:
                entry['problems'].append(problem)
            if progress and n % 500 == 0:
                print_log(f'{split}: {n}/{len(images)} images checked',
                          logger='current')
        for path in masks:
            problem = _check_mask(path, num_classes, ignore)
            if problem:
                entry['problems'].append(problem)
        entry['images'], entry['masks'] = len(images), len(masks)
    return report


def format_report(report: Dict[str, dict]) -> str:
    """A summary (one line per split, then every problem)."""
    lines = []
    for split, r in report.items():
        lines.append(f'{split}: {r["samples"]} samples, {r["images"]} '
                     f'images, {r["masks"]} masks, {len(r["problems"])} '
                     'problem(s)')
    for split, r in report.items():
        lines += [f'  [{split}] {p}' for p in r['problems']]
    total = sum(len(r['problems']) for r in report.values())
    lines.append('OK' if total == 0 else f'{total} problem(s) found')
    return '\n'.join(lines)
