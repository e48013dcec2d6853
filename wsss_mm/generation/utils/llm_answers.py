"""Parsing LLM answers and the self-refinement selection (pure functions).

Answer format: the templates ask for JSON, ``{"prompts": [...]}`` when
generating or rewriting and ``{"scores": [...]}`` when scoring (one number
in [0, 1] per prompt, in order). A JSON object may be wrapped in a code
fence or surrounded by text. A numbered list (``1. ...`` or ``1) ...``) is
accepted too: one prompt per item, or one score per item (its last
number). Anything else (broken JSON, a refusal, an empty answer, a wrong
number of scores, a score outside [0, 1]) raises :class:`MalformedAnswer`.
"""
import json
import re
from typing import Any, List, Optional, Sequence

_FENCE = re.compile(r'```(?:json|JSON)?\s*(.*?)```', re.S)
_NUMBERED = re.compile(r'^\s*(\d+)\s*[.):]\s+(.*\S)\s*$')
_NUMBER = re.compile(r'[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?')


class MalformedAnswer(ValueError):
    """An LLM answer that does not follow the requested format."""


def _json_candidates(text: str) -> List[str]:
    out = [m.group(1) for m in _FENCE.finditer(text)]
    out.append(text)
    start, end = text.find('{'), text.rfind('}')
    if 0 <= start < end:
        out.append(text[start:end + 1])
    return out


def extract_json_object(text: str) -> Optional[dict]:
    """The first JSON object found in ``text`` (whole text, a code fence,
    or the span from the first ``{`` to the last ``}``), else None."""
    for cand in _json_candidates(text):
        try:
            obj = json.loads(cand.strip())
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def numbered_items(text: str) -> List[str]:
    """Items of a numbered list (``1. a``, ``2) b``), in order."""
    items = []
    for line in text.splitlines():
        m = _NUMBERED.match(line)
        if m:
            items.append(m.group(2).strip())
    return items


def _clean_prompt(p: str) -> str:
    p = p.strip().strip('"\'').strip()
    return re.sub(r'\s+', ' ', p)


def _preview(text: str, n: int = 80) -> str:
    text = ' '.join(str(text).split())
    return text if len(text) <= n else text[:n] + '...'


def parse_prompts(text: Optional[str], key: str = 'prompts') -> List[str]:
    """Prompts of an answer: ``{"prompts": [str, ...]}`` or a numbered list.

    Empty strings are dropped and duplicates removed (first kept).

    Raises:
        MalformedAnswer: Neither form, or no non-empty prompt.
    """
    if not text or not text.strip():
        raise MalformedAnswer('empty answer')
    obj = extract_json_object(text)
    if obj is not None:
        raw = obj.get(key)
        if not isinstance(raw, list) or not all(
                isinstance(p, str) for p in raw):
            raise MalformedAnswer(
                f'JSON answer has no list of strings under "{key}": '
                f'{_preview(text)!r}')
    else:
        raw = numbered_items(text)
        if not raw:
            raise MalformedAnswer(
                f'no JSON object with "{key}" and no numbered list in the '
                f'answer: {_preview(text)!r}')
    out, seen = [], set()
    for p in raw:
        p = _clean_prompt(p)
        if p and p.lower() not in seen:
            seen.add(p.lower())
            out.append(p)
    if not out:
        raise MalformedAnswer(f'the answer lists no non-empty prompt: '
                              f'{_preview(text)!r}')
    return out


def _as_score(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedAnswer(f'score {value!r} is not a number')
    value = float(value)
    if not 0. <= value <= 1.:
        raise MalformedAnswer(f'score {value} is outside [0, 1]')
    return value


def parse_scores(text: Optional[str], num: int,
                 key: str = 'scores') -> List[float]:
    """``num`` scores in [0, 1]: ``{"scores": [...]}`` or a numbered list
    whose items end with a number.

    Raises:
        MalformedAnswer: Neither form, a wrong count, a value that is not
            a number in [0, 1].
    """
    if not text or not text.strip():
        raise MalformedAnswer('empty answer')
    obj = extract_json_object(text)
    if obj is not None:
        raw = obj.get(key)
        if not isinstance(raw, list):
            raise MalformedAnswer(f'JSON answer has no list under "{key}": '
                                  f'{_preview(text)!r}')
        scores = [_as_score(v) for v in raw]
    else:
        items = numbered_items(text)
        if not items:
            raise MalformedAnswer(
                f'no JSON object with "{key}" and no numbered list in the '
                f'answer: {_preview(text)!r}')
        scores = []
        for item in items:
            nums = _NUMBER.findall(item)
            if not nums:
                raise MalformedAnswer(f'list item {item!r} has no score')
            scores.append(_as_score(float(nums[-1])))
    if len(scores) != num:
        raise MalformedAnswer(f'{len(scores)} scores for {num} prompts')
    return scores


def select_prompts(prompts: Sequence[str], scores: Sequence[float],
                   threshold: float, num: int) -> List[dict]:
    """The best ``num`` prompts scoring at least ``threshold``.

    Sorted by score (descending), ties in input order.

    Returns:
        list[dict]: ``{'prompt': str, 'score': float}`` items.
    """
    if len(prompts) != len(scores):
        raise ValueError(f'{len(prompts)} prompts but {len(scores)} scores')
    order = sorted(range(len(prompts)), key=lambda i: (-scores[i], i))
    return [
        dict(prompt=prompts[i], score=float(scores[i])) for i in order
        if scores[i] >= threshold
    ][:num]
