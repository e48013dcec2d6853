"""The prompt agent's self-refinement loop, shared by every backend.

Per class (IAA, Algorithm 1): generate ``num_candidates`` background
prompts, score each prompt's plausibility for the class, rewrite those
under ``threshold`` (or drop them when ``rewrite=False``) and score the
rewrites, for ``refine_rounds`` rounds; keep the best ``num_prompts``
prompts scoring at least ``threshold``.

A backend implements three operations: :meth:`BasePrompter.generate`,
:meth:`BasePrompter.score` and :meth:`BasePrompter.rewrite`. Register it in
:data:`wsss_mm.registry.GENERATORS` and select it by ``prompter.type``.
"""
import logging
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence

from mmengine.logging import print_log

from wsss_mm.utils.fileio import dump_json_atomic
from ..utils.llm_answers import select_prompts

PromptBank = Dict[str, List[dict]]
DEFAULT_IMAGE_TEMPLATE = 'a photo of {classes}, {background}'


class BasePrompter:
    """Self-refining background prompt agent (backend independent).

    Args:
        num_candidates (int): Prompts generated per class. Defaults to 8.
        num_prompts (int): Best prompts kept per class (N). Defaults to 4.
        threshold (float): Minimum plausibility score in [0, 1] for a
            prompt to be kept. Defaults to 0.7.
        refine_rounds (int): Rewrite-and-rescore rounds for prompts under
            the threshold. Defaults to 1.
        rewrite (bool): Rewrite prompts under the threshold (True) or only
            drop them (False). Defaults to True.
        seed (int): Seed of the backend's sampling. Defaults to 0.
    """

    #: name recorded in each prompt's ``source`` field
    source = 'base'

    def __init__(self,
                 num_candidates: int = 8,
                 num_prompts: int = 4,
                 threshold: float = 0.7,
                 refine_rounds: int = 1,
                 rewrite: bool = True,
                 seed: int = 0) -> None:
        if num_candidates < 1 or num_prompts < 1:
            raise ValueError('num_candidates and num_prompts must be >= 1')
        if not 0. <= threshold <= 1.:
            raise ValueError(f'threshold must be in [0, 1], got {threshold}')
        self.num_candidates = int(num_candidates)
        self.num_prompts = int(num_prompts)
        self.threshold = float(threshold)
        self.refine_rounds = int(refine_rounds)
        self.rewrite_enabled = bool(rewrite)
        self.seed = int(seed)
        self.stats: Dict[str, dict] = {}

    # ------------------------------------------------------------------
    # backend operations
    # ------------------------------------------------------------------
    def generate(self, class_name: str, num: int) -> List[str]:
        """``num`` (or fewer) background prompts for ``class_name``."""
        raise NotImplementedError

    def score(self, class_name: str, prompts: Sequence[str]) -> List[float]:
        """A plausibility score in [0, 1] per prompt, in order."""
        raise NotImplementedError

    def rewrite(self, class_name: str,
                prompts: Sequence[str]) -> List[str]:
        """Plausible rewrites of implausible prompts (any number)."""
        raise NotImplementedError

    # ------------------------------------------------------------------
    # the agent
    # ------------------------------------------------------------------
    def prompts_for_class(self, class_name: str) -> List[dict]:
        """Generate, score, refine and select prompts for one class.

        Returns:
            list[dict]: At most ``num_prompts`` items ``{'prompt', 'score',
            'round', 'source'}`` (``round`` 0 = generated, k = rewritten in
            round k), best first. Fewer when fewer pass the threshold
            (logged). Statistics go to ``self.stats[class_name]``.
        """
        t0 = time.time()
        cands = self.generate(class_name, self.num_candidates)
        cands = list(dict.fromkeys(cands))[:self.num_candidates]
        pool: Dict[str, float] = {}
        rounds: Dict[str, int] = {}
        for p, s in zip(cands, self.score(class_name, cands)):
            pool[p], rounds[p] = s, 0
        rewritten = 0
        below = [p for p in cands if pool[p] < self.threshold]
        initial_above = len(cands) - len(below)
        for r in range(1, self.refine_rounds + 1):
            if not below or not self.rewrite_enabled:
                break
            new = [
                p for p in dict.fromkeys(self.rewrite(class_name, below))
                if p not in pool
            ]
            if not new:
                break
            rewritten += len(new)
            for p, s in zip(new, self.score(class_name, new)):
                pool[p], rounds[p] = s, r
            below = [p for p in new if pool[p] < self.threshold]
        kept = select_prompts(list(pool), list(pool.values()),
                              self.threshold, self.num_prompts)
        for k in kept:
            k.update(round=rounds[k['prompt']], source=self.source)
        above = sum(s >= self.threshold for s in pool.values())
        self.stats[class_name] = dict(
            generated=len(cands),
            initial_above=initial_above,
            rewritten=rewritten,
            above_threshold=above,
            kept=len(kept),
            seconds=round(time.time() - t0, 3),
            source=self.source)
        if len(kept) < self.num_prompts:
            print_log(
                f'prompts for {class_name!r}: only {len(kept)} of '
                f'{self.num_prompts} prompts reach the threshold '
                f'{self.threshold} ({len(cands)} generated, {rewritten} '
                'rewritten)',
                logger='current',
                level=logging.WARNING)
        return kept

    def build_bank(self, class_names: Sequence[str]) -> PromptBank:
        """:meth:`prompts_for_class` for every class, with a log line each.

        Returns:
            dict: ``{class_name: [prompt items]}``.
        """
        bank = {}
        for i, name in enumerate(class_names, 1):
            bank[name] = self.prompts_for_class(name)
            st = self.stats.get(name, {})
            print_log(
                f'[prompts] {i}/{len(class_names)} {name!r}: '
                f'{st.get("generated", 0)} generated, '
                f'{st.get("rewritten", 0)} rewritten, '
                f'{st.get("above_threshold", 0)} >= {self.threshold}, '
                f'kept {len(bank[name])} ({st.get("source", self.source)}, '
                f'{st.get("seconds", 0.):.2f} s)',
                logger='current')
        return bank


def compose_prompt(class_names: Sequence[str], background: str,
                   template: str = DEFAULT_IMAGE_TEMPLATE) -> str:
    """The text-to-image prompt: class names plus a background prompt.

    Example:
        >>> compose_prompt(['dog', 'person'], 'in a sunny city park')
        'a photo of a dog and a person, in a sunny city park'
    """
    named = [f'a {c}' for c in class_names]
    if len(named) > 1:
        classes = ', '.join(named[:-1]) + ' and ' + named[-1]
    else:
        classes = named[0] if named else 'a scene'
    return template.format(classes=classes, background=background)


def save_prompt_bank(path: str, bank: PromptBank,
                     meta: Optional[dict] = None) -> None:
    """Write a prompt bank as JSON (atomically): ``{"classes": {...},
    "meta": {...}}``. ``meta`` must hold no secret (it is written as is)."""
    dump_json_atomic(dict(classes=bank, meta=dict(meta or {})), path,
                     indent=2)


def load_prompt_bank(path: str) -> PromptBank:
    """Read a prompt bank written by :func:`save_prompt_bank`."""
    import json
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get('classes'),
                                                    dict):
        raise ValueError(f'{path} is not a prompt bank (no "classes")')
    return data['classes']


def shared_prompt_bank(prompter: BasePrompter, class_names: Sequence[str],
                       path: str) -> PromptBank:
    """One prompt bank for all ranks: rank 0 builds it (or reuses
    ``path`` when it holds the same classes), writes ``path``, and the
    other ranks read it after a barrier, so an LLM is asked once."""
    from ..runner import get_dist_info
    rank, world = get_dist_info()
    if rank == 0:
        bank = None
        if osp.isfile(path):
            try:
                bank = load_prompt_bank(path)
            except (OSError, ValueError):
                bank = None
            if bank is not None and list(bank) != list(class_names):
                bank = None
        if bank is None:
            bank = prompter.build_bank(class_names)
            os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
            save_prompt_bank(path, bank, dict(stats=prompter.stats))
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
        if rank != 0:
            bank = load_prompt_bank(path)
    return bank
