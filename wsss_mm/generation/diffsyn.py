"""The diffusion-synthetic generation run (``tools/generate_diffsyn.py``).

For every class of ``cfg.classes`` (class id = position + 1; 0 is the
background), ``cfg.prompts_per_class`` prompts come from the prompt
augmenter (``cfg.prompts``) and ``cfg.images_per_prompt`` images are
sampled per prompt by the generator (``cfg.generator``, a
:class:`~wsss_mm.generation.diffusion.DiffSynGenerator` by default). Each
entry of the store holds the image, its class-id mask (0 background, the
class id, 255 ignore) and a confidence map, and a manifest line with the
prompt, seed, class and mask statistics. The loop is the shared
:func:`~wsss_mm.generation.runner.run_generation`: atomic files, resume
after a kill, one shard per rank, a progress line.
"""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

from wsss_mm.registry import GENERATORS
from wsss_mm.utils.fileio import dump_json_atomic
from .cli import generation_main
from .runner import GeneratedEntry, WorkItem, get_dist_info, run_generation
from .store import GenerationStore
from .utils.ids import item_seed, safe_id
from .utils.masks import IGNORE_INDEX

CLASSES_FILE = 'classes.json'
LAYOUT = {
    'image': 'images/{id}.png',
    'mask': 'masks/{id}.png',
    'confidence': 'confidence/{id}.png'
}


def build_items(classes: List[str], prompt_bank: dict,
                images_per_prompt: int) -> List[WorkItem]:
    """One work item per (class, prompt, repeat), in a fixed order."""
    items = []
    for cid, name in enumerate(classes, 1):
        for p, rec in enumerate(prompt_bank[name]):
            for r in range(images_per_prompt):
                items.append(
                    WorkItem(
                        safe_id(name, f'p{p:03d}', f'r{r:02d}'),
                        dict(class_id=cid, class_name=name, record=rec,
                             prompt_index=p, repeat=r)))
    return items


def run_diffsyn(cfg, launcher: str = 'none') -> dict:
    """Generate images and masks into ``cfg.work_dir``.

    Args:
        cfg (Config): The generation config (see
            ``configs/diffsyn/generate_demo_cpu.py``).
        launcher (str): ``'none'`` or ``'pytorch'`` (one shard per rank).

    Returns:
        dict: The run summary of :func:`run_generation`.
    """
    classes = list(cfg.classes)
    if not classes or len(classes) > 254:
        raise ValueError(f'classes must list 1 to 254 names, got '
                         f'{len(classes)}')
    seed = int(cfg.get('seed', 0))
    augmenter = GENERATORS.build(
        cfg.get('prompts', dict(type='PromptAugmenter', seed=seed)))
    bank = augmenter(classes, int(cfg.prompts_per_class))
    items = build_items(classes, bank, int(cfg.images_per_prompt))
    generator = GENERATORS.build(cfg.generator)
    rank, _ = get_dist_info()
    if rank == 0 and launcher == 'none':
        _write_classes(cfg.work_dir, classes)

    def produce(item: WorkItem) -> GeneratedEntry:
        d = item.data
        rec = d['record']
        phrases = list(dict.fromkeys([rec['synonym'], d['class_name']]))
        s = item_seed(seed, item.id)
        out = generator(rec['prompt'], {d['class_id']: phrases}, s)
        n = out.mask.size
        conf = np.clip(np.rint(out.confidence * 255), 0,
                       255).astype(np.uint8)
        fg = int((out.mask == d['class_id']).sum())
        return GeneratedEntry(
            dict(image=out.image, mask=out.mask, confidence=conf),
            dict(
                source_id=d['class_name'],
                img_labels=[d['class_id']] if fg else [],
                class_id=d['class_id'],
                class_name=d['class_name'],
                prompt=rec['prompt'],
                class_phrase=rec['class_phrase'],
                seed=s,
                steps=out.steps,
                mask_rule=generator.extractor.rule,
                fg_fraction=round(fg / n, 4),
                ignore_fraction=round(
                    float((out.mask == IGNORE_INDEX).mean()), 4),
                model_ids=generator.model_ids))

    store = GenerationStore(cfg.work_dir, layout=LAYOUT)
    summary = run_generation(
        items, produce, store, launcher=launcher, prefix='diffsyn',
        log_interval=float(cfg.get('log_interval', 10.)), shutdown=False)
    rank, _ = get_dist_info()
    if rank == 0 and launcher != 'none':
        _write_classes(cfg.work_dir, classes)
    from wsss_mm.utils.compat import shutdown_distributed
    shutdown_distributed()
    return summary


def _write_classes(work_dir: str, classes: List[str]) -> None:
    dump_json_atomic(
        dict(classes=['background'] + list(classes), ignore_index=255),
        osp.join(work_dir, CLASSES_FILE), indent=2)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """``tools/generate_diffsyn.py``: parse ``argv``, run
    :func:`run_diffsyn`."""
    return generation_main(
        argv, 'generate_diffsyn',
        'Generate diffusion-synthetic images with '
        'cross-attention masks into a resumable store',
        'output folder (manifest.jsonl, images, masks)', run_diffsyn)
