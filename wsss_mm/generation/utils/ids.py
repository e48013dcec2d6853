"""Deterministic entry ids and seeds for generated data.

Entry ids name files and identify entries across restarts and ranks, so
they must be the same on every run of the same work: build them from the
work (source image name, prompt index, repeat index), never from time or
randomness. Seeds derived from ids make an entry's content independent of
which rank produces it, so 1 and N processes give the same set.
"""
import hashlib
import re

_UNSAFE = re.compile(r'[^A-Za-z0-9._-]+')
ID_PATTERN = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')
MAX_ID_LEN = 160


def safe_id(*parts) -> str:
    """Join ``parts`` into a file-name-safe entry id.

    Characters outside ``[A-Za-z0-9._-]`` (path separators, spaces) become
    ``_``; parts are joined with ``-``. Ids longer than 160 characters are
    shortened with a hash suffix so that they stay unique.

    Example:
        >>> safe_id('2007_000032', 3)
        '2007_000032-3'
        >>> safe_id('train/a b.jpg', 'x')
        'train_a_b.jpg-x'

    Args:
        *parts: Strings or numbers.

    Returns:
        str: An id matching :data:`ID_PATTERN`.
    """
    if not parts:
        raise ValueError('safe_id needs at least one part')
    text = '-'.join(_UNSAFE.sub('_', str(p)) for p in parts)
    text = text.lstrip('._-') or 'id'
    if len(text) > MAX_ID_LEN:
        digest = hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]
        text = text[:MAX_ID_LEN - 17] + '-' + digest
    return text


def check_entry_id(entry_id: str) -> str:
    """Return ``entry_id`` if it is a valid entry id, else raise.

    Raises:
        ValueError: The id is not a string matching :data:`ID_PATTERN` (no
            path separators, no leading dot) or is too long.
    """
    if not isinstance(entry_id, str) or not ID_PATTERN.match(entry_id) \
            or len(entry_id) > MAX_ID_LEN:
        raise ValueError(
            f'invalid entry id {entry_id!r}: ids name files, so they must '
            'match [A-Za-z0-9][A-Za-z0-9._-]* (at most '
            f'{MAX_ID_LEN} characters); build them with '
            'wsss_mm.generation.utils.safe_id(...)')
    return entry_id


def item_seed(base_seed: int, *parts) -> int:
    """A seed in ``[0, 2**31)`` derived from ``base_seed`` and ``parts``.

    The same arguments give the same seed on every machine and rank
    (sha256, not Python's salted ``hash``).

    Args:
        base_seed (int): The run's seed (a config value).
        *parts: What identifies the draw, e.g. the entry id and the try.

    Returns:
        int: The seed.
    """
    key = '\x1f'.join([str(int(base_seed))] + [str(p) for p in parts])
    digest = hashlib.sha256(key.encode('utf-8')).digest()
    return int.from_bytes(digest[:4], 'little') & 0x7FFFFFFF
