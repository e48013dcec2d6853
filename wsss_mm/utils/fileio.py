"""Crash-safe file writes: the one helper every writer of the project uses.

A file written through :func:`atomic_write` either does not exist or is
complete: the bytes go to a temporary file in the destination folder, are
flushed and fsynced, and the temporary file is renamed over the destination
(``os.replace`` is atomic on POSIX within one file system); the folder is
fsynced so the rename itself survives a power cut. A process killed at any
moment (``kill -9``) leaves at most a stray temporary file named
``.NAME.tmp-PID-RANDOM``, which :func:`remove_stale_temp_files` deletes.

Checkpoints, ``last_checkpoint``, label caches, reports, pseudo masks and
the generation store all go through these functions.
"""
import contextlib
import hashlib
import io
import json
import os
import os.path as osp
import tempfile
from typing import IO, Any, Callable, Iterator, List

TEMP_MARK = '.tmp-'
# mkstemp creates 0600 files; finished files get the usual 0666 & ~umask.
_UMASK = os.umask(0)
os.umask(_UMASK)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. folders that cannot be opened on this platform
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str,
                 mode: str = 'wb',
                 encoding: str = 'utf-8',
                 fsync: bool = True) -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` when the block ends.

    On an exception inside the block the temporary file is removed and
    ``path`` is left as it was.

    Example::

        with atomic_write('out/result.json', 'w') as f:
            json.dump(result, f)

    Args:
        path (str): Destination file. Its folder is created if needed.
        mode (str): ``'wb'`` (default) or ``'w'``.
        encoding (str): Text encoding for ``'w'``.
        fsync (bool): Flush to disk before the rename (default True).

    Yields:
        file object: The open temporary file.
    """
    if mode not in ('w', 'wb'):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode}")
    path = osp.abspath(path)
    folder = osp.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{osp.basename(path)}{TEMP_MARK}{os.getpid()}-', dir=folder)
    try:
        # mkstemp makes the file 0600; give it the mode open() would
        # (0666 minus the umask), so shared work dirs stay readable.
        os.fchmod(fd, 0o666 & ~_current_umask())
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, mode, **({} if 'b' in mode else dict(
                encoding=encoding))) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    if fsync:
        _fsync_dir(folder)


def write_bytes_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, 'wb') as f:
        f.write(data)


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_write(path, 'w') as f:
        f.write(text)


def dump_json_atomic(obj: Any, path: str, **kwargs) -> None:
    """``json.dump(obj)`` to ``path`` atomically (kwargs go to json.dump)."""
    with atomic_write(path, 'w') as f:
        json.dump(obj, f, **kwargs)


def save_atomic(path: str, writer: Callable[[IO], Any]) -> None:
    """Atomically write what ``writer(file_object)`` writes.

    For writers that take a binary file object, e.g. ``torch.save(obj, f)``
    or ``PIL.Image.save(f, format='PNG')``::

        save_atomic(path, lambda f: img.save(f, format='PNG'))
    """
    with atomic_write(path, 'wb') as f:
        writer(f)


def save_image_atomic(path: str, image, format: str = 'PNG') -> None:
    """Save a PIL image to ``path`` atomically (format given explicitly,
    since the temporary name has no meaningful suffix)."""
    buf = io.BytesIO()
    image.save(buf, format=format)
    write_bytes_atomic(path, buf.getvalue())


def sha256_file(path: str) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def is_temp_file(name: str) -> bool:
    """Whether a file name is a leftover temporary of :func:`atomic_write`."""
    base = osp.basename(name)
    return base.startswith('.') and TEMP_MARK in base


def remove_stale_temp_files(folder: str, recursive: bool = False
                            ) -> List[str]:
    """Delete temporaries left by writers killed mid-write.

    Only call this where no other process is writing into ``folder``.

    Returns:
        list[str]: Removed paths.
    """
    removed = []
    if not osp.isdir(folder):
        return removed
    walker = os.walk(folder) if recursive else [
        (folder, [], os.listdir(folder))
    ]
    for root, _, files in walker:
        for name in files:
            if is_temp_file(name):
                p = osp.join(root, name)
                with contextlib.suppress(OSError):
                    os.remove(p)
                    removed.append(p)
    return removed


def append_line_durable(path: str, line: str, fsync: bool = True) -> None:
    """Append one line of text (UTF-8, newline added) and fsync it.

    For append-only logs such as the generation store's JSONL manifests,
    where the unit of atomicity is one line: the bytes go out in
    ``os.write`` calls on an ``O_APPEND`` descriptor and are fsynced before
    the function returns, so a line that was reported written survives a
    kill or a power cut. A process killed inside the call can leave the
    last line torn (no trailing newline); readers detect that by the
    missing newline and drop it (see
    :func:`wsss_mm.generation.store.read_jsonl`).

    Args:
        path (str): The file (created if missing, with its folder).
        line (str): One line; must not contain a newline.
        fsync (bool): Flush to disk before returning (default True).
    """
    if '\n' in line.rstrip('\n'):
        raise ValueError('append_line_durable takes a single line; the text '
                         'contains a newline')
    data = memoryview((line.rstrip('\n') + '\n').encode('utf-8'))
    path = osp.abspath(path)
    folder = osp.dirname(path)
    os.makedirs(folder, exist_ok=True)
    created = not osp.exists(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        while data:
            data = data[os.write(fd, data):]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    if created and fsync:
        _fsync_dir(folder)
