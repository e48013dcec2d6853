"""Diffusion-synthetic images with pixel masks, read from a generation
store (``tools/generate_diffsyn.py``)."""
import json
import logging
import os.path as osp
from typing import Dict, List, Optional

from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset

from wsss_mm.registry import DATASETS


@DATASETS.register_module()
class DiffSynDataset(BaseSegDataset):
    """Images and class-id masks listed in a store's ``manifest.jsonl``.

    Masks hold 0 (background), the generation config's class ids and 255
    (pixels the generator was unsure of); pair the dataset with
    :class:`~wsss_mm.models.losses.ReliableCrossEntropyLoss` for robust
    training. Entries whose image or mask is missing or does not match its
    sha256 are skipped and counted (logged), not fatal.

    Args:
        data_root (str): The store folder (the generation work dir).
        manifest (str): Manifest file name in ``data_root``.
        verify (bool): Check the sha256 of every file (default True).
        id_map (dict, optional): Generated id -> training id, applied when
            the mask is loaded (e.g. ``{0: 255, 1: 0, ...}`` for a label
            set without background such as Cityscapes / CamVid).
        metainfo (dict, optional): ``classes`` (and ``palette``); default:
            the store's ``classes.json``.
        **kwargs: :class:`~mmseg.datasets.BaseSegDataset` arguments
            (``pipeline``, ``test_mode``, ...).
    """

    def __init__(self,
                 data_root: str,
                 manifest: str = 'manifest.jsonl',
                 verify: bool = True,
                 id_map: Optional[Dict[int, int]] = None,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        self.manifest = manifest
        self.verify = verify
        self.id_map = ({int(k): int(v)
                        for k, v in id_map.items()} if id_map else None)
        self.num_skipped = 0
        if metainfo is None:
            metainfo = dict(classes=tuple(self.read_classes(data_root)))
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(data_root=data_root, metainfo=metainfo, **kwargs)

    @staticmethod
    def read_classes(data_root: str) -> List[str]:
        """Class names of a store (``classes.json``, background first)."""
        path = osp.join(data_root, 'classes.json')
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{path} not found: data_root must be the work dir of '
                f'tools/generate_diffsyn.py, or give metainfo=dict(classes='
                f'...) in the config')
        with open(path, encoding='utf-8') as f:
            return list(json.load(f)['classes'])

    def load_data_list(self) -> List[dict]:
        from wsss_mm.generation.store import check_entry_files, read_jsonl
        path = osp.join(self.data_root, self.manifest)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{path} not found: generate the set with '
                f'`python tools/generate_diffsyn.py CONFIG --work-dir '
                f'{self.data_root}`')
        records, torn, bad = read_jsonl(path)
        data_list, skipped = [], []
        for rec in records:
            problem = check_entry_files(
                self.data_root, rec,
                verify='sha256' if self.verify else 'exists',
                roles=('image', 'mask'))
            if problem:
                skipped.append((rec['id'], problem))
                continue
            files = rec['files']
            paths = {r: osp.join(self.data_root, files[r])
                     for r in ('image', 'mask')}
            data_list.append(
                dict(
                    img_path=paths['image'],
                    seg_map_path=paths['mask'],
                    label_map=self.id_map or self.label_map,
                    reduce_zero_label=self.reduce_zero_label,
                    seg_fields=[],
                    entry_id=rec['id']))
        self.num_skipped = len(skipped) + len(bad) + torn
        if self.num_skipped:
            print_log(
                f'DiffSynDataset {self.data_root}: skipped '
                f'{self.num_skipped} entries (e.g. {skipped[:3]}, bad '
                f'lines {bad[:3]}, torn {torn})',
                logger='current',
                level=logging.WARNING)
        if not data_list:
            raise ValueError(f'{path} lists no usable entry')
        return data_list
