"""Generated images (IAA, diffusion-synthetic) as a WSSS training set."""
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmengine.logging import print_log

from wsss_mm.registry import DATASETS
from .base_wsss import BaseWSSSDataset


@DATASETS.register_module()
class SyntheticWSSSDataset(BaseWSSSDataset):
    """Entries of a generation store (``tools/generate_iaa.py``,
    ``tools/generate_diffsyn.py``) with image-level labels.

    Reads ``ann_file`` (a manifest, relative to ``data_root``) or, when it
    is empty, the store's merged ``manifest.jsonl`` together with every
    rank shard ``manifest.rank*.jsonl`` (so an unmerged or resumed store
    reads too; per id the last record whose files verify wins). Each
    entry's files are verified (sha256 by default): a missing or corrupt
    file, missing or out-of-range ``img_labels`` or a missing mask (when
    masks are required) skips the entry; skips are counted by reason in
    ``self.skipped`` and logged with examples. Only a store with no usable
    entry at all is an error (ValueError with the counts).

    Data infos carry what the real datasets' do (``img_path``,
    ``img_name``, ``img_labels``, ``num_classes``, ``with_background``),
    ``seg_map_path`` when masks are used, and the manifest fields named in
    ``keep_fields``. Mix with a real set through mmengine's
    ``ConcatDataset`` (the metainfo must match: use ``metainfo_from``), see
    docs/generation.md.

    Args:
        data_root (str): The store folder.
        ann_file (str): A manifest file; ``''`` (default) for the merged
            manifest plus all shards.
        metainfo (dict, optional): ``classes`` (and ``palette``,
            ``with_background``) of the label space of ``img_labels``.
        metainfo_from (str, optional): Name of a registered dataset class
            whose ``METAINFO`` to use, e.g. ``'VOCWSSSDataset'``, so that
            the metainfo equals the real set's. ``metainfo`` wins.
        with_masks (bool | str): ``'auto'`` (default): use an entry's
            mask when it has one; True: require masks (entries without
            are skipped); False: ignore masks.
        image_role (str): Role of the image in ``files``. Default 'image'.
        mask_role (str): Role of the mask in ``files``. Default 'mask'.
        verify (str): ``'sha256'`` (default), ``'exists'`` or ``'none'``.
        keep_fields (tuple[str]): Manifest fields copied into the data
            infos. Defaults to ``('source_id', 'prompt')``.
        **kwargs: :class:`BaseWSSSDataset` arguments (``pipeline``,
            ``test_mode``, ``drop_empty``, ...).
    """
    converter_hint = ('write it with tools/generate_iaa.py or '
                      'tools/generate_diffsyn.py; the work dir is the store')

    def __init__(self,
                 data_root: Optional[str] = None,
                 ann_file: str = '',
                 metainfo: Optional[dict] = None,
                 metainfo_from: Optional[str] = None,
                 with_masks='auto',
                 image_role: str = 'image',
                 mask_role: str = 'mask',
                 verify: str = 'sha256',
                 keep_fields: Sequence[str] = ('source_id', 'prompt'),
                 **kwargs) -> None:
        if with_masks not in (True, False, 'auto'):
            raise ValueError(f"with_masks must be True, False or 'auto', "
                             f'got {with_masks!r}')
        if verify not in ('sha256', 'exists', 'none'):
            raise ValueError(f'unknown verify mode {verify!r}')
        if metainfo_from is not None:
            base = dict(DATASETS.get(metainfo_from).METAINFO)
            base.update(metainfo or {})
            metainfo = base
        if not metainfo or 'classes' not in metainfo:
            raise ValueError(
                'SyntheticWSSSDataset needs the class list of the labels: '
                "metainfo=dict(classes=...) or metainfo_from='"
                "VOCWSSSDataset' (any registered dataset)")
        self.with_masks = with_masks
        self.image_role = image_role
        self.mask_role = mask_role
        self.verify = verify
        self.keep_fields = tuple(keep_fields)
        self.skipped: Dict[str, int] = {}
        self._examples: List[str] = []
        kwargs.setdefault('check_files', False)  # verified here instead
        super().__init__(
            data_root=data_root, ann_file=ann_file, metainfo=metainfo,
            **kwargs)

    def _sources(self) -> List[str]:
        from wsss_mm.generation.store import manifest_sources
        if self.ann_file:
            if not osp.isfile(self.ann_file):
                raise FileNotFoundError(
                    f'SyntheticWSSSDataset: manifest {self.ann_file} not '
                    f'found ({self.converter_hint})')
            return [self.ann_file]
        sources = manifest_sources(self.data_root)
        if not sources:
            raise FileNotFoundError(
                f'SyntheticWSSSDataset: no manifest.jsonl or '
                f'manifest.rank*.jsonl in {self.data_root} '
                f'({self.converter_hint})')
        return sources

    def _check_labels(self, rec: dict) -> Optional[str]:
        labels = rec.get('img_labels')
        if not isinstance(labels, list) or not all(
                isinstance(i, int) and not isinstance(i, bool)
                for i in labels):
            return 'bad_labels'
        if any(not 0 <= i < self.num_classes and i != self.ignore_index
               for i in labels):
            return 'bad_labels'
        return None

    def load_data_list(self) -> List[dict]:
        """Verified entries of the store as data infos."""
        from wsss_mm.generation.store import check_entry_files, read_jsonl
        candidates: Dict[str, List[dict]] = {}
        for path in self._sources():
            records, torn, bad = read_jsonl(path)
            if torn or bad:
                self._count('unreadable_line', torn + len(bad), path)
            for rec in records:
                candidates.setdefault(rec['id'], []).append(rec)
        root = osp.dirname(self.ann_file) if self.ann_file else \
            self.data_root
        data_list = []
        for entry_id, recs in candidates.items():
            chosen, why = None, None
            for rec in reversed(recs):
                why = self._check_labels(rec)
                if why is None:
                    why = self._check_files(root, rec, check_entry_files)
                if why is None:
                    chosen = rec
                    break
            if chosen is None:
                self._count(why, 1, entry_id)
                continue
            data_list.append(self._info(root, chosen))
        if self.skipped:
            print_log(
                f'SyntheticWSSSDataset {self.data_root}: skipped '
                f'{sum(self.skipped.values())} entries {self.skipped} '
                f'(e.g. {self._examples[:3]}); {len(data_list)} kept',
                logger='current',
                level=logging.WARNING)
        if not data_list:
            raise ValueError(
                f'SyntheticWSSSDataset {self.data_root}: no usable entry '
                f'(skipped: {self.skipped or "none listed"}; e.g. '
                f'{self._examples[:3]})')
        return data_list

    def _count(self, reason: str, n: int, example: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n
        self._examples.append(f'{example}: {reason}')

    def _use_mask(self, rec: dict) -> bool:
        has = self.mask_role in (rec.get('files') or {})
        return bool(self.with_masks) and (has or self.with_masks is True)

    def _check_files(self, root: str, rec: dict, check) -> Optional[str]:
        files = rec.get('files') or {}
        if self.image_role not in files:
            return 'no_image'
        roles = [self.image_role]
        if self._use_mask(rec):
            if self.mask_role not in files:
                return 'no_mask'
            roles.append(self.mask_role)
        why = check(root, rec, self.verify, roles)
        if why is None:
            return None
        return 'missing_file' if 'missing' in why else 'corrupt_file'

    def _info(self, root: str, rec: dict) -> dict:
        info = dict(
            img_path=osp.join(root, rec['files'][self.image_role]),
            img_name=rec['id'],
            label_map=self.label_map,
            reduce_zero_label=self.reduce_zero_label,
            seg_fields=[])
        if self._use_mask(rec):
            info['seg_map_path'] = osp.join(root,
                                            rec['files'][self.mask_role])
        info.update(self._label_fields(self._finalize_labels(
            rec['img_labels'])))
        for key in self.keep_fields:
            if key in rec:
                info[key] = rec[key]
        return info
