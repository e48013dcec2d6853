"""Checkpoints that load with ``torch.load(weights_only=True)``.

mmengine 0.10.7 pickles its message hub as it is: ``HistoryBuffer``
objects holding numpy arrays, numpy scalars in the runtime info, and with
them the globals ``builtins.getattr``, ``numpy.dtype``,
``numpy._core.multiarray._reconstruct`` / ``scalar`` and ``numpy.ndarray``.
Loading such a file needs full unpickling, which runs whatever code a
crafted file names. :func:`encode_checkpoint` turns those objects into
tensors, numbers, strings and containers (tagged dicts), so the file holds
no global beyond torch's own tensor rebuilds; :func:`decode_checkpoint`
restores the original objects bit for bit on load. Every checkpoint is
loaded by :func:`load_checkpoint_file` with ``weights_only=True``; full
unpickling exists only as an explicit opt-in (``unsafe=True``, the
``--unsafe-load-checkpoint`` flag of the tools) and warns naming the file.
"""
import collections
import io
import os.path as osp
import pickle
import warnings
import zipfile
from typing import Any, Callable, Optional, Union

import numpy as np
import torch

from wsss_mm.utils.errors import WSSSInputError

TAG = '__wsss_mm_type__'
_PLAIN = (str, bytes, bool, int, float, complex, type(None), torch.Tensor,
          torch.Size, torch.dtype, torch.device)


class CheckpointError(WSSSInputError):
    """A checkpoint file that cannot be loaded; the message names it."""


def _encode(obj: Any, where: str) -> Any:
    from mmengine.logging import HistoryBuffer
    if isinstance(obj, np.generic):  # before _PLAIN: np.float64 is a float
        if obj.dtype.kind not in 'biuf':
            return _encode(obj.item(), where)
        return {TAG: 'np_scalar',
                'data': torch.from_numpy(np.asarray(obj).reshape(1))}
    if isinstance(obj, _PLAIN):
        if type(obj) not in _PLAIN and not isinstance(
                obj, (torch.Tensor, torch.dtype)):
            raise TypeError(
                f'{where}: {type(obj).__qualname__} (a subclass of '
                f'{type(obj).__mro__[1].__name__}) cannot be saved in a '
                'weights-only checkpoint')
        return obj
    if isinstance(obj, HistoryBuffer):
        return {
            TAG: 'HistoryBuffer',
            'log_history': _encode(obj._log_history, where),
            'count_history': _encode(obj._count_history, where),
            'max_length': int(obj.max_length),
        }
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in 'biuf':
            raise TypeError(f'{where}: numpy array of dtype {obj.dtype} '
                            'cannot be saved in a weights-only checkpoint')
        return {TAG: 'ndarray',
                'data': torch.from_numpy(np.ascontiguousarray(obj).copy())}
    if type(obj) is collections.Counter:  # MultiStepLR's milestones
        return {TAG: 'Counter',
                'items': {k: _encode(v, f'{where}.{k}')
                          for k, v in obj.items()}}
    if isinstance(obj, (dict, collections.OrderedDict)):
        if TAG in obj:
            raise TypeError(f'{where}: the key {TAG!r} is reserved')
        out = {k: _encode(v, f'{where}.{k}') for k, v in obj.items()}
        if type(obj) is collections.OrderedDict:
            return collections.OrderedDict(out)
        if type(obj) is not dict:
            raise TypeError(f'{where}: mapping type {type(obj).__name__} '
                            'cannot be saved in a weights-only checkpoint')
        return out
    if type(obj) in (list, tuple, set, frozenset):
        items = [_encode(v, f'{where}[{i}]') for i, v in enumerate(obj)]
        return type(obj)(items)
    raise TypeError(
        f'{where}: an object of type {type(obj).__module__}.'
        f'{type(obj).__qualname__} cannot be saved in a weights-only '
        'checkpoint; store it as tensors, numbers, strings or containers')


def encode_checkpoint(checkpoint: dict) -> dict:
    """A copy of ``checkpoint`` that ``weights_only=True`` can load.

    ``HistoryBuffer``, numpy arrays, numpy scalars and ``Counter`` (the
    milestones of step schedulers) become tagged dicts of tensors; tensors,
    numbers, strings, ``None`` and the builtin containers stay as they are.

    Raises:
        TypeError: an object of another type, naming where it sits.
    """
    return _encode(checkpoint, 'checkpoint')


def decode_checkpoint(obj: Any) -> Any:
    """Undo :func:`encode_checkpoint` (a no-op on plain checkpoints)."""
    if isinstance(obj, dict):
        kind = obj.get(TAG)
        if kind == 'HistoryBuffer':
            from mmengine.logging import HistoryBuffer
            buf = HistoryBuffer(max_length=obj['max_length'])
            buf._log_history = decode_checkpoint(obj['log_history'])
            buf._count_history = decode_checkpoint(obj['count_history'])
            return buf
        if kind == 'ndarray':
            return obj['data'].cpu().numpy().copy()
        if kind == 'np_scalar':
            return obj['data'].cpu().numpy()[0]
        if kind == 'Counter':
            return collections.Counter(decode_checkpoint(obj['items']))
        if kind is not None:
            raise CheckpointError(f'unknown encoded object {kind!r}')
        out = {k: decode_checkpoint(v) for k, v in obj.items()}
        return collections.OrderedDict(out) if type(
            obj) is collections.OrderedDict else out
    if type(obj) in (list, tuple, set, frozenset):
        return type(obj)(decode_checkpoint(v) for v in obj)
    return obj


def _unsafe_globals(path: str) -> str:
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # e.g. the legacy (non-zip) format
        return ''
    return ', '.join(names)


def _format_problem(path: str) -> Optional[str]:
    """What is wrong with the file's bytes, if the framing shows it."""
    size = osp.getsize(path)
    if size == 0:
        return f'{path}: empty file (0 bytes), not a checkpoint'
    with open(path, 'rb') as f:
        head = f.read(4)
    if head.startswith(b'PK'):
        if not zipfile.is_zipfile(path):
            return (f'{path}: truncated or corrupt checkpoint ({size} '
                    'bytes; the zip archive has no end record, e.g. a write '
                    'that was interrupted)')
        return None
    if not head.startswith(b'\x80'):  # torch's legacy format is a pickle
        return (f'{path}: not a PyTorch checkpoint ({size} bytes, starts '
                f'with {head!r})')
    return None


def _describe_unreadable(path: str, error: BaseException) -> str:
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    detail = [ln for ln in lines if 'Unpickler error' in ln]
    reason = (detail or lines or [type(error).__name__])[0]
    return (f'{path}: unreadable checkpoint ({osp.getsize(path)} bytes): '
            f'{reason}')


def load_checkpoint_file(path: str,
                         map_location: Union[str, Callable, None] = 'cpu',
                         unsafe: bool = False) -> dict:
    """Load a local checkpoint with ``weights_only=True``.

    Checkpoints that :class:`~wsss_mm.engine.WSSSRunner` writes hold only
    tensors and containers and load this way; their encoded message hub is
    decoded (:func:`decode_checkpoint`). Plain weight files load the same
    way. A file that needs full unpickling is refused unless ``unsafe`` is
    True (``--unsafe-load-checkpoint``), which unpickles it fully and warns
    naming the file. Whatever lies beside the file is never consulted.

    Args:
        path (str): The checkpoint file.
        map_location: As in ``torch.load``.
        unsafe (bool): Unpickle fully (runs code the file names). Only for
            files whose origin you trust.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: the file is empty, truncated, not a checkpoint, or
            holds Python objects beyond tensors (one line naming the file).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    if unsafe:
        msg = (f'UNSAFE: loading {path} with full unpickling '
               '(--unsafe-load-checkpoint); a crafted file can run any code '
               'on this machine')
        warnings.warn(msg, stacklevel=2)
        from mmengine.logging import print_log
        print_log(msg, logger='current', level=30)
    problem = _format_problem(path)
    if problem:
        raise CheckpointError(problem)
    try:
        checkpoint = torch.load(
            path, map_location=map_location, weights_only=not unsafe)
    except pickle.UnpicklingError as e:
        names = _unsafe_globals(path)
        if not names and 'Unsupported global' not in str(e):
            raise CheckpointError(_describe_unreadable(path, e)) from None
        raise CheckpointError(
            f'{path}: refused, the file holds Python objects beyond tensors '
            f'({names or "pickled Python globals"}) and loading them could '
            'run code; if you trust its origin, pass --unsafe-load-checkpoint '
            '(unpickles it fully)') from None
    except Exception as e:  # zip / EOF / format errors of a torn file
        raise CheckpointError(_describe_unreadable(path, e)) from None
    return decode_checkpoint(checkpoint)


def save_checkpoint_file(checkpoint: dict, path: str,
                         backend_args: Optional[dict] = None) -> None:
    """Encode ``checkpoint`` and write it atomically.

    Local paths go through :func:`wsss_mm.utils.fileio.save_atomic`
    (temporary file in the same folder, fsync, rename); other backends
    (``s3://`` ...) get the encoded bytes through mmengine's file backend.
    """
    encoded = encode_checkpoint(checkpoint)
    from mmengine.fileio import get_file_backend
    backend = get_file_backend(path, backend_args=backend_args)
    if type(backend).__name__ == 'LocalBackend':
        from wsss_mm.utils.fileio import save_atomic
        save_atomic(path, lambda f: torch.save(encoded, f))
        return
    buf = io.BytesIO()
    torch.save(encoded, buf)
    backend.put(buf.getvalue(), path)
