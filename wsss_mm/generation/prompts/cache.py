"""On-disk cache of LLM answers keyed by the request (atomic writes)."""
import hashlib
import json
import os.path as osp
from typing import Optional

from wsss_mm.utils.fileio import dump_json_atomic


def request_key(request: dict) -> str:
    """sha256 of the canonical JSON of a request (model, messages, sampling
    parameters; never a credential)."""
    text = json.dumps(request, sort_keys=True, ensure_ascii=False,
                      separators=(',', ':'))
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


class AnswerCache:
    """One JSON file per request: ``DIR/ab/abcdef....json`` holding
    ``{"request": ..., "answer": "..."}``. Files are written atomically, so
    a killed run leaves no half answer; a file that cannot be read is
    treated as a miss.

    Args:
        cache_dir (str): The folder (created on first write).
    """

    def __init__(self, cache_dir: str) -> None:
        self.cache_dir = cache_dir
        self.hits = self.misses = 0

    def path(self, request: dict) -> str:
        key = request_key(request)
        return osp.join(self.cache_dir, key[:2], key + '.json')

    def get(self, request: dict) -> Optional[str]:
        """The cached answer text of ``request``, or None."""
        path = self.path(request)
        try:
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
        except (OSError, ValueError):
            self.misses += 1
            return None
        answer = data.get('answer') if isinstance(data, dict) else None
        if not isinstance(answer, str) or data.get('request') != request:
            self.misses += 1
            return None
        self.hits += 1
        return answer

    def put(self, request: dict, answer: str) -> None:
        """Store ``answer`` for ``request``."""
        dump_json_atomic(dict(request=request, answer=answer),
                         self.path(request), ensure_ascii=False)
