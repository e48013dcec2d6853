"""The generation store: files plus a JSONL manifest, crash safe and sharded.

Layout of a store folder (the generation tool's work dir)::

    ROOT/
      images/ID.png  masks/ID.png  ...   one file per role and entry
      manifest.rank0.jsonl               what rank 0 wrote (append only)
      manifest.rank1.jsonl               ... one shard per rank
      manifest.jsonl                     the merged set (written atomically)
      skipped.rank0.jsonl, skipped.jsonl items that gave no entry

A manifest line is one entry::

    {"id": "2007_000032-001", "source_id": "2007_000032",
     "img_labels": [12, 15], "prompt": "...", "seed": 123, "scores": [...],
     "tries": 2, "model_ids": {...}, ...any extra fields...,
     "files": {"image": "images/2007_000032-001.png"},
     "sha256": {"image": "9f2c..."}}

``id``, ``files`` and ``sha256`` are written by the store; every other
field is the producer's (names above are the convention the readers, e.g.
:class:`~wsss_mm.datasets.SyntheticWSSSDataset`, rely on: ``img_labels``
is required there). Paths in ``files`` are relative to the store folder.

Crash safety (the store is the unit of it):

- each file is written atomically (temporary file, fsync, rename) through
  :mod:`wsss_mm.utils.fileio`; only after all files of an entry are in
  place is its line appended to the rank's shard, flushed and fsynced.
  So an entry in a manifest always has complete files; a kill between the
  renames and the append leaves complete files without an entry, which
  the restart overwrites (ids are deterministic, so the same paths).
- a kill during the append leaves a torn last line (no newline): it is
  detected and dropped when the shard is reopened.
- a restart skips every entry whose files exist and match their sha256;
  an entry whose file is missing or corrupt is regenerated.
- each rank appends only to its own shard; :meth:`GenerationStore.merge`
  (rank 0, after every rank finished) writes one ``manifest.jsonl``
  atomically, keeping per id the last record whose files verify.
"""
import hashlib
import io
import json
import logging
import os
import os.path as osp
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

from wsss_mm.registry import GENERATORS
# the project's one file hash (1 MiB chunks), also used for checkpoints
from wsss_mm.utils.fileio import (append_line_durable, is_temp_file,
                                  remove_stale_temp_files, sha256_file,
                                  write_bytes_atomic, write_text_atomic)
from .utils.ids import check_entry_id

MANIFEST = 'manifest.jsonl'
SKIPPED = 'skipped.jsonl'
SHARD_RE = re.compile(r'^manifest\.rank(\d+)\.jsonl$')
SKIPPED_SHARD_RE = re.compile(r'^skipped\.rank(\d+)\.jsonl$')
RESERVED_FIELDS = ('id', 'files', 'sha256')
DEFAULT_LAYOUT = {'image': 'images/{id}.png', 'mask': 'masks/{id}.png'}


def shard_name(rank: int) -> str:
    """File name of rank ``rank``'s manifest shard."""
    return f'manifest.rank{int(rank)}.jsonl'


def skipped_shard_name(rank: int) -> str:
    """File name of rank ``rank``'s list of skipped items."""
    return f'skipped.rank{int(rank)}.jsonl'


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def read_jsonl(path: str) -> Tuple[List[dict], int, List[int]]:
    """Read a JSONL file written by appends, tolerating a crash.

    Args:
        path (str): The file.

    Returns:
        tuple: ``(records, torn, bad_lines)``: the records of the complete,
        valid lines in order; ``torn`` is 1 when the file ends with a line
        without a newline (the trace of a writer killed mid-append; that
        line is not returned) and 0 otherwise; ``bad_lines`` the 1-based
        numbers of complete lines that are not a JSON object.
    """
    with open(path, 'rb') as f:
        data = f.read()
    lines = data.split(b'\n')
    tail = lines.pop()  # b'' when the file ends with a newline
    torn = 1 if tail.strip() else 0
    records, bad = [], []
    for num, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode('utf-8'))
        except (UnicodeDecodeError, ValueError):
            bad.append(num)
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get('id'), str):
            bad.append(num)
            continue
        records.append(rec)
    return records, torn, bad


def list_shards(root: str, pattern: re.Pattern = SHARD_RE) -> List[str]:
    """Manifest shard files in ``root``, ordered by rank."""
    if not osp.isdir(root):
        return []
    found = []
    for name in os.listdir(root):
        m = pattern.match(name)
        if m:
            found.append((int(m.group(1)), osp.join(root, name)))
    return [p for _, p in sorted(found)]


def manifest_sources(root: str, pattern: re.Pattern = SHARD_RE,
                     merged: str = MANIFEST) -> List[str]:
    """The merged manifest (if any) followed by the shards, in the order in
    which later records override earlier ones."""
    out = []
    if osp.isfile(osp.join(root, merged)):
        out.append(osp.join(root, merged))
    return out + list_shards(root, pattern)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, 'tolist'):  # torch tensors
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f'manifest fields must be JSON values; got a '
                    f'{type(obj).__name__}')


def encode_file(value: Any, path: str) -> bytes:
    """Bytes of one entry file, in the format named by ``path``'s suffix.

    Accepted values:

    - a PIL image, or a numpy array (``uint8``/``uint16`` ``(H, W)`` or
      ``uint8`` ``(H, W, 3|4)``) converted with ``Image.fromarray``, for
      image suffixes (``.png``, ``.jpg``, ``.webp``, ...);
    - a numpy array for ``.npy`` (``np.save``, no pickle);
    - a dict or list for ``.json``;
    - ``str`` (UTF-8 text) or ``bytes`` for any suffix.

    Raises:
        TypeError: A value this function cannot write to that suffix.
    """
    from PIL import Image
    ext = osp.splitext(path)[1].lower()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode('utf-8')
    if ext == '.json' and isinstance(value, (dict, list)):
        return json.dumps(value, default=_json_default).encode('utf-8')
    if ext == '.npy' and isinstance(value, np.ndarray):
        buf = io.BytesIO()
        np.save(buf, value, allow_pickle=False)
        return buf.getvalue()
    if isinstance(value, np.ndarray):
        value = Image.fromarray(value)
    if isinstance(value, Image.Image):
        fmt = Image.registered_extensions().get(ext)
        if fmt is None:
            raise TypeError(f'cannot write an image to {path}: unknown '
                            f'image suffix {ext!r}')
        if fmt == 'JPEG' and value.mode not in ('RGB', 'L'):
            value = value.convert('RGB')
        buf = io.BytesIO()
        value.save(buf, format=fmt)
        return buf.getvalue()
    raise TypeError(f'cannot write a {type(value).__name__} to {path}; '
                    'give a PIL image, a numpy array, str, bytes, or a '
                    'dict/list for .json')


def check_entry_files(root: str,
                      record: dict,
                      verify: str = 'sha256',
                      roles: Optional[Sequence[str]] = None
                      ) -> Optional[str]:
    """Why a manifest record's files do not verify, or None when they do.

    Args:
        root (str): The store folder (``files`` paths are relative to it).
        record (dict): A manifest record.
        verify (str): ``'sha256'`` (content), ``'exists'`` (presence) or
            ``'none'``.
        roles (list[str], optional): Only these roles (default: all).

    Returns:
        str or None: e.g. ``'image file images/x.png is missing'``.
    """
    files = record.get('files')
    shas = record.get('sha256') or {}
    if not isinstance(files, dict) or not files:
        return 'no "files" mapping'
    if verify == 'none':
        return None
    for role in (files if roles is None else roles):
        rel = files.get(role)
        if not isinstance(rel, str):
            return f'no {role} file'
        path = osp.join(root, rel)
        if not osp.isfile(path):
            return f'{role} file {rel} is missing'
        if verify == 'sha256':
            expected = shas.get(role)
            if expected is None:
                return f'no sha256 for {role} file {rel}'
            if sha256_file(path) != expected:
                return f'{role} file {rel} does not match its sha256'
    return None


@GENERATORS.register_module()
class GenerationStore:
    """Files plus JSONL manifest shards, crash safe and resumable.

    One instance per process: it appends to its own rank's shard and reads
    every shard (and the merged ``manifest.jsonl``) to know which entries
    exist, so a run resumed with another number of processes still skips
    finished work. See the module docstring for the format and the
    guarantees.

    Usage::

        store = GenerationStore(work_dir, rank=rank)
        store.open()
        for item in my_items:
            if store.is_done(item.id):
                continue
            store.add(item.id, {'image': img, 'mask': mask},
                      dict(source_id=..., img_labels=[...], seed=...))
        # after every rank finished (rank 0 only):
        store.merge(order=[item.id for item in all_items])

    :func:`wsss_mm.generation.runner.run_generation` does all of this,
    plus the launcher, the progress line and the skip accounting.

    Args:
        root (str): The store folder (created if missing).
        rank (int): This process's rank; selects the shard written.
        layout (dict, optional): Role -> relative path template with
            ``{id}``, e.g. ``{'image': 'images/{id}.jpg'}``; the suffix
            picks the format. Merged over the default
            ``{'image': 'images/{id}.png', 'mask': 'masks/{id}.png'}``;
            other roles default to ``'{role}s/{id}.png'``.
        verify (str): How :meth:`is_done` and :meth:`merge` check an
            entry's files: ``'sha256'`` (default, reads every file once) or
            ``'exists'`` (presence only; for very large stores).
    """

    def __init__(self,
                 root: str,
                 rank: int = 0,
                 layout: Optional[Dict[str, str]] = None,
                 verify: str = 'sha256') -> None:
        if verify not in ('sha256', 'exists'):
            raise ValueError(f"verify must be 'sha256' or 'exists', got "
                             f'{verify!r}')
        self.root = osp.abspath(root)
        self.rank = int(rank)
        self.layout = dict(DEFAULT_LAYOUT)
        self.layout.update(layout or {})
        for role, tmpl in self.layout.items():
            self._check_template(role, tmpl)
        self.verify = verify
        self._candidates: Dict[str, List[dict]] = {}
        self._verified: Dict[str, Optional[dict]] = {}
        self._skipped: Dict[str, dict] = {}
        self._opened = False

    # ------------------------------------------------------------------
    # paths
    # ------------------------------------------------------------------
    @staticmethod
    def _check_template(role: str, tmpl: str) -> None:
        if '{id}' not in tmpl or osp.isabs(tmpl) or '..' in tmpl.split('/'):
            raise ValueError(
                f'layout[{role!r}] = {tmpl!r}: must be a relative path '
                'inside the store containing {id}')

    @property
    def shard_path(self) -> str:
        """This rank's manifest shard."""
        return osp.join(self.root, shard_name(self.rank))

    @property
    def manifest_path(self) -> str:
        """The merged manifest."""
        return osp.join(self.root, MANIFEST)

    def file_path(self, role: str, entry_id: str) -> str:
        """Relative path of ``entry_id``'s file of ``role``."""
        tmpl = self.layout.get(role, f'{role}s/{{id}}.png')
        self._check_template(role, tmpl)
        return tmpl.format(id=entry_id)

    def role_dirs(self) -> List[str]:
        """Folders (absolute) that hold the files of the layout's roles."""
        dirs = {
            osp.dirname(osp.join(self.root, t.format(id='x')))
            for t in self.layout.values()
        }
        return sorted(d for d in dirs if d != self.root)

    # ------------------------------------------------------------------
    # recovery
    # ------------------------------------------------------------------
    def clean_temporaries(self) -> List[str]:
        """Delete temporaries of writers killed mid-write, in the whole
        store folder. Call it only while no process writes into the store
        (the runner calls it on rank 0 before the others start).

        Returns:
            list[str]: Removed paths.
        """
        removed = remove_stale_temp_files(self.root, recursive=True)
        if removed:
            print_log(
                f'generation store {self.root}: removed {len(removed)} '
                'temporary file(s) left by an interrupted run',
                logger='current')
        return removed

    def _repair_own_shard(self) -> None:
        path = self.shard_path
        if not osp.isfile(path):
            return
        records, torn, bad = read_jsonl(path)
        if not torn and not bad:
            return
        what = []
        if torn:
            what.append('a torn last line (a run was killed while '
                        'appending)')
        if bad:
            what.append(f'{len(bad)} unreadable line(s) (numbers '
                        f'{bad[:5]})')
        print_log(
            f'generation store: {path}: dropping {" and ".join(what)}; '
            f'keeping {len(records)} entries (dropped ones are generated '
            'again)',
            logger='current',
            level=logging.WARNING)
        text = ''.join(
            json.dumps(r, default=_json_default) + '\n' for r in records)
        write_text_atomic(path, text)

    def open(self) -> 'GenerationStore':
        """Read what exists: the merged manifest and every shard.

        Repairs this rank's own shard (a torn last line or unreadable
        lines are dropped, with a log line), then indexes the records of
        all sources by id. Files are verified lazily by :meth:`is_done`.

        Returns:
            GenerationStore: self.
        """
        os.makedirs(self.root, exist_ok=True)
        self._repair_own_shard()
        self._candidates = self._read_sources(SHARD_RE, MANIFEST)
        self._skipped = {}
        for recs in self._read_sources(SKIPPED_SHARD_RE, SKIPPED).values():
            self._skipped[recs[-1]['id']] = recs[-1]
        self._verified = {}
        self._opened = True
        return self

    def _read_sources(self, pattern: re.Pattern,
                      merged: str) -> Dict[str, List[dict]]:
        out: Dict[str, List[dict]] = {}
        for path in manifest_sources(self.root, pattern, merged):
            records, torn, bad = read_jsonl(path)
            if (torn or bad) and path != self.shard_path:
                print_log(
                    f'generation store: {path}: ignoring '
                    f'{torn} torn and {len(bad)} unreadable line(s)',
                    logger='current',
                    level=logging.WARNING)
            for rec in records:
                out.setdefault(rec['id'], []).append(rec)
        return out

    # ------------------------------------------------------------------
    # queries
    # ------------------------------------------------------------------
    def check_record(self, record: dict) -> Optional[str]:
        """Why ``record``'s files do not verify, or None when they do."""
        return check_entry_files(self.root, record, self.verify)

    def verified_record(self, entry_id: str) -> Optional[dict]:
        """The last record of ``entry_id`` whose files verify, or None.

        Records that fail are logged once (missing or corrupt file) and
        their entry counts as not done, so it is generated again.
        """
        self._require_open()
        if entry_id in self._verified:
            return self._verified[entry_id]
        chosen = None
        problems = []
        for rec in reversed(self._candidates.get(entry_id, [])):
            why = self.check_record(rec)
            if why is None:
                chosen = rec
                break
            problems.append(why)
        if problems and chosen is None:
            print_log(
                f'generation store: entry {entry_id} is listed but '
                f'{problems[0]}; it will be generated again',
                logger='current',
                level=logging.WARNING)
        self._verified[entry_id] = chosen
        return chosen

    def is_done(self, entry_id: str) -> bool:
        """Whether ``entry_id`` has a record whose files verify."""
        return self.verified_record(entry_id) is not None

    def skipped_record(self, entry_id: str) -> Optional[dict]:
        """The record of an earlier :meth:`add_skip` of ``entry_id``."""
        self._require_open()
        return self._skipped.get(entry_id)

    def known_ids(self) -> List[str]:
        """Ids with at least one record in any source (unverified)."""
        self._require_open()
        return list(self._candidates)

    def _require_open(self) -> None:
        if not self._opened:
            raise RuntimeError('GenerationStore.open() must be called first')

    # ------------------------------------------------------------------
    # writes
    # ------------------------------------------------------------------
    def add(self,
            entry_id: str,
            files: Dict[str, Any],
            fields: Optional[Dict[str, Any]] = None) -> dict:
        """Write an entry's files, then append its manifest line.

        Args:
            entry_id (str): Deterministic id (see
                :func:`~wsss_mm.generation.utils.safe_id`); names the files.
            files (dict): Role -> content (see :func:`encode_file`), e.g.
                ``{'image': pil_image, 'mask': uint8_array}``. Paths come
                from the layout.
            fields (dict, optional): JSON-serialisable fields of the
                entry (numpy and torch values are converted); must not use
                the reserved keys ``id``, ``files``, ``sha256``.

        Returns:
            dict: The record as appended to the manifest.
        """
        self._require_open()
        check_entry_id(entry_id)
        fields = dict(fields or {})
        clash = [k for k in RESERVED_FIELDS if k in fields]
        if clash:
            raise ValueError(f'entry {entry_id}: fields {clash} are written '
                             'by the store and cannot be given')
        if not files:
            raise ValueError(f'entry {entry_id}: no files to store')
        rels, shas = {}, {}
        blobs = []
        for role, value in files.items():
            rel = self.file_path(role, entry_id)
            data = encode_file(value, rel)
            rels[role], shas[role] = rel, sha256_bytes(data)
            blobs.append((rel, data))
        record = dict(id=entry_id)
        record.update(fields)
        record['files'] = rels
        record['sha256'] = shas
        line = json.dumps(record, default=_json_default)
        for rel, data in blobs:
            write_bytes_atomic(osp.join(self.root, rel), data)
        self._append(self.shard_path, line)
        record = json.loads(line)
        self._candidates.setdefault(entry_id, []).append(record)
        self._verified[entry_id] = record
        return record

    def add_skip(self, entry_id: str, reason: str, kind: str = 'shortfall',
                 tries: int = 0, fields: Optional[dict] = None) -> dict:
        """Record that ``entry_id`` produced no entry (e.g. the filter
        rejected every try, or its source image is unreadable), so a resumed
        run does not spend the tries again and the shortfall stays counted.

        Returns:
            dict: The appended record.
        """
        self._require_open()
        check_entry_id(entry_id)
        record = dict(fields or {})
        record.update(id=entry_id, kind=kind, reason=reason, tries=tries)
        self._append(
            osp.join(self.root, skipped_shard_name(self.rank)),
            json.dumps(record, default=_json_default))
        self._skipped[entry_id] = record
        return record

    def _append(self, path: str, line: str) -> None:
        """Append one manifest line durably (the commit point of an
        entry)."""
        append_line_durable(path, line)

    # ------------------------------------------------------------------
    # merge
    # ------------------------------------------------------------------
    def merge(self,
              order: Optional[Sequence[str]] = None,
              remove_orphans: bool = True) -> dict:
        """Write ``manifest.jsonl`` (and ``skipped.jsonl``) from every
        source, atomically. Call on one process after all ranks finished.

        Per id the last record whose files verify is kept; ids without one
        are dropped and counted. Files in the layout's role folders that no
        kept record references (left by a kill between a file rename and
        the manifest append, for an id that was not generated again) are
        removed when ``remove_orphans``.

        Args:
            order (list[str], optional): Entry order of the output (the
                work items' order); ids not in it follow, sorted.
            remove_orphans (bool): Delete unreferenced files in the role
                folders. Defaults to True.

        Returns:
            dict: ``entries``, ``dropped`` (ids whose files did not
            verify), ``orphans_removed``, ``skipped`` (items without
            entry, excluding ids that now have one), ``path``.
        """
        self.open()
        rank = {k: i for i, k in enumerate(order or [])}

        def key(entry_id):
            return (0, rank[entry_id], '') if entry_id in rank else (
                1, 0, entry_id)

        kept, dropped = [], []
        for entry_id in sorted(self._candidates, key=key):
            rec = self.verified_record(entry_id)
            (kept if rec is not None else dropped).append(
                rec if rec is not None else entry_id)
        write_text_atomic(
            self.manifest_path,
            ''.join(json.dumps(r, default=_json_default) + '\n'
                    for r in kept))
        kept_ids = {r['id'] for r in kept}
        skipped = [
            self._skipped[k] for k in sorted(self._skipped, key=key)
            if k not in kept_ids
        ]
        if skipped or osp.isfile(osp.join(self.root, SKIPPED)):
            write_text_atomic(
                osp.join(self.root, SKIPPED),
                ''.join(json.dumps(r, default=_json_default) + '\n'
                        for r in skipped))
        orphans = self._orphans(kept) if remove_orphans else []
        for path in orphans:
            os.remove(path)
        if dropped or orphans:
            print_log(
                f'generation store {self.root}: merged {len(kept)} entries; '
                f'dropped {len(dropped)} whose files did not verify '
                f'{dropped[:5]}; removed {len(orphans)} unreferenced '
                'file(s)',
                logger='current',
                level=logging.WARNING if dropped else logging.INFO)
        return dict(
            entries=len(kept),
            dropped=len(dropped),
            orphans_removed=len(orphans),
            skipped=len(skipped),
            path=self.manifest_path)

    def _orphans(self, kept: Sequence[dict]) -> List[str]:
        referenced = {
            osp.normpath(osp.join(self.root, rel))
            for rec in kept for rel in rec['files'].values()
        }
        folders = set(self.role_dirs())
        folders.update(osp.dirname(p) for p in referenced)
        folders.discard(self.root)
        out = []
        for folder in sorted(folders):
            if not osp.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                path = osp.normpath(osp.join(folder, name))
                if osp.isfile(path) and not is_temp_file(name) \
                        and path not in referenced:
                    out.append(path)
        return out

    def records(self) -> List[dict]:
        """Every entry whose files verify (last record per id), in the
        order of first appearance."""
        self._require_open()
        out = []
        for entry_id in self._candidates:
            rec = self.verified_record(entry_id)
            if rec is not None:
                out.append(rec)
        return out
