"""IAA generation: prompts, ControlNet diffusion and the online filter.

The Image Augmentation Agent of the paper, as one function over a config
(:func:`run_iaa`, used by ``tools/generate_iaa.py``):

1. the source dataset (any registered wsss_mm dataset config under
   ``source``) gives the images and their image-level labels;
2. the prompt agent (``prompter``) writes refined background prompts per
   class, once per run (rank 0; the other ranks read them from the work
   dir);
3. every source image gets ``num_per_image`` work items; for each, the
   ControlNet generator (``generator``) turns the image's Canny edges (pose
   map for a person, if configured) plus a prompt into a new image, and
   the online filter (``filter``) accepts it or asks for another try with
   a new seed and prompt, up to ``filter.max_tries``;
4. accepted images go into the crash-safe store with the source's labels
   (``manifest.jsonl``), a source whose tries all fail gets a counted,
   logged shortfall; unreadable source images are skipped and counted.

The loop, sharding (``--launcher pytorch``), resume after ``kill -9`` and
the progress line are :func:`wsss_mm.generation.run_generation`'s.
"""
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from PIL import Image

from wsss_mm.registry import DATASETS, GENERATORS
from wsss_mm.utils.compat import shutdown_distributed
from .cli import generation_main
from .prompts.base import (DEFAULT_IMAGE_TEMPLATE, compose_prompt,
                           shared_prompt_bank)
from .runner import (GeneratedEntry, SkipItem, WorkItem, run_generation,
                     setup_distributed)
from .store import GenerationStore
from .utils import item_seed, safe_id

PROMPTS_FILE = 'prompts.json'


def build_source_dataset(source: dict):
    """The source dataset without a pipeline (data infos only)."""
    cfg = dict(source)
    cfg['pipeline'] = []
    cfg.setdefault('test_mode', False)
    return DATASETS.build(cfg)


def source_records(dataset) -> List[dict]:
    """``{'id', 'img_path', 'img_labels'}`` of every source image, sorted
    by id (the same list on every rank)."""
    records = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        name = osp.splitext(osp.basename(info['img_path']))[0]
        records.append(
            dict(
                id=name,
                img_path=info['img_path'],
                img_labels=[int(c) for c in info['img_labels']]))
    records.sort(key=lambda r: r['id'])
    ids = [r['id'] for r in records]
    if len(set(ids)) != len(ids):
        raise ValueError('source images must have distinct file names; '
                         'found duplicates')
    return records


def build_work_items(records: Sequence[dict],
                     num_per_image: int) -> List[WorkItem]:
    """``num_per_image`` items per source image, id ``NAME-K``."""
    if num_per_image < 1:
        raise ValueError(f'num_per_image must be >= 1, got {num_per_image}')
    return [
        WorkItem(safe_id(r['id'], k), dict(record=r, k=k)) for r in records
        for k in range(num_per_image)
    ]


def check_prompt_bank(bank: Dict[str, list],
                      class_names: Sequence[str]) -> Dict[str, List[str]]:
    """Background prompt texts per class; every class needs at least one.

    Raises:
        RuntimeError: a class got no prompt (names it).
    """
    out = {}
    for name in class_names:
        texts = [p['prompt'] for p in bank.get(name, [])]
        if not texts:
            raise RuntimeError(
                f'the prompter kept no background prompt for class '
                f'{name!r}: lower prompter.threshold or check its log')
        out[name] = texts
    return out


class IAAProducer:
    """Produces one accepted image per work item (or raises SkipItem).

    Args:
        generator: A :class:`ControlNetGenerator` (or any callable with the
            same signature and ``num_inference_steps``/``model_ids``).
        image_filter: A :class:`ClassifierFilter`, or None to accept every
            image (one try).
        class_names (list[str]): Names of the dataset's class ids.
        prompts (dict): Class name -> background prompts.
        seed (int): Base seed of the run.
        person_classes (tuple): Class names that select pose conditioning.
        prompt_template (str): See
            :func:`~wsss_mm.generation.prompts.base.compose_prompt`.
    """

    def __init__(self,
                 generator,
                 image_filter,
                 class_names: Sequence[str],
                 prompts: Dict[str, list],
                 seed: int = 0,
                 person_classes: Sequence[str] = ('person', ),
                 prompt_template: str = DEFAULT_IMAGE_TEMPLATE) -> None:
        self.generator = generator
        self.filter = image_filter
        self.class_names = list(class_names)
        self.prompts = prompts
        self.seed = int(seed)
        self.person_classes = set(person_classes)
        self.prompt_template = prompt_template
        self.early_stops = 0

    def prompt(self, labels: Sequence[int], k: int, t: int) -> str:
        """Prompt of repeat ``k``, try ``t``: the background prompts of the
        image's classes in turn, a new one for each repeat and try."""
        names = [self.class_names[c] for c in labels]
        # a prime stride spreads the repeats k over the background list;
        # each further try t moves to the next background
        turn = k * 7919 + t
        cls = names[turn % len(names)]
        backgrounds = self.prompts[cls]
        return compose_prompt(names, backgrounds[turn % len(backgrounds)],
                              self.prompt_template)

    def __call__(self, item: WorkItem) -> GeneratedEntry:
        record, k = item.data['record'], item.data['k']
        labels = record['img_labels']
        try:
            with Image.open(record['img_path']) as im:
                source = im.convert('RGB')
        except Exception as e:  # PIL raises several types
            raise SkipItem(
                f'unreadable source image {record["img_path"]}: '
                f'{type(e).__name__}: {e}', kind='bad_input')
        if not labels:
            raise SkipItem(f'source image {record["id"]} has no labels',
                           kind='bad_input')
        names = [self.class_names[c] for c in labels]
        has_person = bool(self.person_classes.intersection(names))
        max_tries = self.filter.max_tries if self.filter else 1
        check_at, check_fn = (None, None)
        if self.filter is not None:
            check_at, check_fn = self.filter.early_stopper(
                labels, self.generator.num_inference_steps)
        best, tries_log = None, []
        for t in range(max_tries):
            seed = item_seed(self.seed, item.id, t)
            prompt = self.prompt(labels, k, t)
            calls = self.generator.unet_calls
            sample = self.generator(
                source,
                prompt,
                seed,
                has_person=has_person,
                check_at=check_at,
                check_fn=check_fn)
            log = dict(seed=seed, steps=sample.steps,
                       unet_calls=self.generator.unet_calls - calls)
            tries_log.append(log)
            if sample.stopped_early:
                self.early_stops += 1
                log['early_score'] = round(sample.early_score, 6)
                continue
            if self.filter is None:
                accepted, score, class_scores = True, None, None
            else:
                class_scores = self.filter.score_image(sample.image)
                accepted, score = self.filter.accepts(class_scores, labels)
                log['score'] = round(score, 6)
                best = score if best is None else max(best, score)
            if accepted:
                fields = dict(
                    source_id=record['id'],
                    img_labels=labels,
                    class_names=names,
                    prompt=prompt,
                    seed=seed,
                    condition=sample.condition,
                    condition_notes=sample.notes,
                    label_score=score,
                    scores=(None if class_scores is None else
                            [round(float(s), 6) for s in class_scores]),
                    unet_calls=sum(x['unet_calls'] for x in tries_log),
                    try_log=tries_log,
                    model_ids=self.model_ids())
                return GeneratedEntry({'image': sample.image}, fields,
                                      tries=t + 1)
        thr = self.filter.threshold
        raise SkipItem(
            f'no image passed the filter in {max_tries} tries (best label '
            f'score {best if best is not None else "n/a"}, threshold {thr}; '
            f'{sum("early_score" in x for x in tries_log)} stopped early)',
            kind='shortfall',
            tries=max_tries,
            fields=dict(
                source_id=record['id'],
                best_score=best,
                unet_calls=sum(x['unet_calls'] for x in tries_log),
                try_log=tries_log))

    def model_ids(self) -> dict:
        ids = dict(self.generator.model_ids)
        if self.filter is not None:
            ids['filter'] = self.filter.model_id
        return ids


def run_iaa(cfg: Config, launcher: str = 'none') -> dict:
    """Generate the IAA set of ``cfg`` into ``cfg.work_dir``.

    Config keys: ``source`` (dataset config), ``num_per_image``,
    ``prompter``, ``generator``, ``filter`` (None for no filter), ``seed``,
    optional ``person_classes``, ``prompt_template``, ``log_interval``.

    Returns:
        dict: The run summary of :func:`run_generation`, plus
        ``early_stops`` (tries stopped by the early check, all ranks).
    """
    work_dir = cfg.work_dir
    dataset = build_source_dataset(cfg.source)
    class_names = list(dataset.metainfo['classes'])
    records = source_records(dataset)
    items = build_work_items(records, int(cfg.num_per_image))
    used = sorted({c for r in records for c in r['img_labels']})
    prompter = GENERATORS.build(_plain(cfg.prompter))
    setup_distributed(launcher)  # rank 0 asks the prompter, once
    names = [class_names[c] for c in used]
    bank = shared_prompt_bank(prompter, names,
                              osp.join(work_dir, PROMPTS_FILE))
    prompts = check_prompt_bank(bank, names)
    generator = GENERATORS.build(_plain(cfg.generator))
    filter_cfg = cfg.get('filter', None)
    image_filter = (GENERATORS.build(_plain(filter_cfg))
                    if filter_cfg is not None else None)
    if image_filter is None:
        print_log('no filter configured: every generated image is kept',
                  logger='current', level=logging.WARNING)
    producer = IAAProducer(
        generator,
        image_filter,
        class_names,
        prompts,
        seed=int(cfg.get('seed', 0)),
        person_classes=tuple(cfg.get('person_classes', ('person', ))),
        prompt_template=cfg.get('prompt_template', DEFAULT_IMAGE_TEMPLATE))
    summary = run_generation(
        items,
        producer,
        GenerationStore(work_dir),
        launcher=launcher,
        log_interval=float(cfg.get('log_interval', 10.)),
        prefix='iaa',
        shutdown=False)
    summary['early_stops'] = _sum_over_ranks(producer.early_stops)
    shutdown_distributed()
    return summary


def _sum_over_ranks(value: int) -> int:
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        return int(value)
    box = [None] * dist.get_world_size()
    dist.all_gather_object(box, int(value))
    return sum(box)


def _plain(cfg) -> dict:
    return cfg.to_dict() if isinstance(cfg, ConfigDict) else dict(cfg)



def main(argv: Optional[Sequence[str]] = None) -> dict:
    """``tools/generate_iaa.py``: parse ``argv`` and run :func:`run_iaa`."""
    return generation_main(
        argv, 'generate_iaa',
        'Generate IAA images (LLM prompts + ControlNet '
        'diffusion + online classifier filter) into a resumable store',
        'output folder (manifest.jsonl and images)', run_iaa)
