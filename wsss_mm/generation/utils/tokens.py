"""Which prompt tokens name which class (pure functions).

A class name may be several tokens long (``'potted plant'``, ``'traffic
light'`` or a rare word split by BPE) and may appear anywhere in a prompt
template (``'a photo of a {} on a street'``). Its token span is found by
tokenizing the name alone (no special tokens) and searching that id
sequence in the tokenized prompt (with special tokens, as the text encoder
sees it), so the indices are positions in the cross-attention's key axis.
"""
from typing import Dict, List, Sequence, Union


def find_subsequence(seq: Sequence[int], sub: Sequence[int]) -> List[int]:
    """Start positions of every occurrence of ``sub`` in ``seq``.

    Occurrences do not overlap (the search resumes after a match).
    """
    seq, sub = list(seq), list(sub)
    n, m = len(seq), len(sub)
    if m == 0:
        return []
    starts, i = [], 0
    while i <= n - m:
        if seq[i:i + m] == sub:
            starts.append(i)
            i += m
        else:
            i += 1
    return starts


def token_span_indices(prompt_ids: Sequence[int],
                       phrase_ids: Sequence[int]) -> List[int]:
    """Positions of all tokens of every occurrence of a phrase.

    Args:
        prompt_ids (Sequence[int]): Token ids of the prompt as the text
            encoder sees it (special tokens included, truncated).
        phrase_ids (Sequence[int]): Token ids of the phrase alone, without
            special tokens.

    Returns:
        list[int]: Sorted token positions; empty if the phrase is absent
        (e.g. cut off by truncation).
    """
    out = []
    for s in find_subsequence(prompt_ids, phrase_ids):
        out.extend(range(s, s + len(phrase_ids)))
    return sorted(set(out))


def _ids(tokenizer, text: str, special: bool) -> List[int]:
    if special:
        return list(
            tokenizer(
                text,
                padding='max_length',
                max_length=tokenizer.model_max_length,
                truncation=True).input_ids)
    return list(tokenizer(text, add_special_tokens=False).input_ids)


def class_token_indices(
        tokenizer,
        prompt: str,
        class_phrases: Dict[int, Union[str, Sequence[str]]],
        strict: bool = True) -> Dict[int, List[int]]:
    """Map class ids to the prompt token positions that name them.

    Args:
        tokenizer: A Hugging Face tokenizer (the pipeline's CLIP tokenizer).
        prompt (str): The prompt given to the pipeline.
        class_phrases (dict): ``{class_id: phrase or [phrases]}``; every
            phrase is searched (e.g. the class name and the synonym a prompt
            augmentation put in its place) and their tokens are pooled.
        strict (bool): Raise if a class has no token in the prompt
            (default); otherwise the class maps to an empty list.

    Returns:
        dict[int, list[int]]: Token positions per class id.

    Raises:
        ValueError: A class phrase is not in the tokenized prompt.
    """
    prompt_ids = _ids(tokenizer, prompt, special=True)
    out = {}
    for cid, phrases in class_phrases.items():
        if isinstance(phrases, str):
            phrases = [phrases]
        idx = set()
        for phrase in phrases:
            idx.update(
                token_span_indices(prompt_ids,
                                   _ids(tokenizer, phrase, special=False)))
        if not idx and strict:
            raise ValueError(
                f'class {cid} ({list(phrases)}) is not among the tokens of '
                f'the prompt {prompt!r} (absent, spelt differently or cut '
                f'off at {tokenizer.model_max_length} tokens)')
        out[cid] = sorted(idx)
    return out
