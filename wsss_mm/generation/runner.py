"""A reusable generation loop: sharding, resume, skip accounting, merge.

Every generation tool (IAA, diffusion-synthetic, plugins) is the same loop
over a list of work items; only the producer differs::

    from wsss_mm.generation import (GeneratedEntry, GenerationStore,
                                    SkipItem, WorkItem, run_generation)

    items = [WorkItem(safe_id(name, k), dict(name=name, k=k))
             for name in source_names for k in range(num_per_image)]

    def produce(item):          # called only for items not done yet
        img = ...               # may raise SkipItem('unreadable', 'bad_input')
        return GeneratedEntry({'image': img},
                              dict(source_id=item.data['name'],
                                   img_labels=[...], seed=...), tries=2)

    summary = run_generation(items, produce, GenerationStore(work_dir),
                             launcher=args.launcher)

With ``launcher='pytorch'`` (torchrun), each rank takes ``items[rank::world
size]`` (a disjoint shard), appends to its own manifest shard, and rank 0
merges all shards into ``manifest.jsonl`` after a barrier. On a machine
without CUDA the process group is gloo
(:func:`wsss_mm.utils.compat.init_cpu_distributed`). The item list must be
the same on every rank (build it deterministically, e.g. sorted).

Resume: items whose entry verifies in the store (any shard, any earlier
world size) are skipped; items recorded as skipped earlier (shortfall,
unreadable input) are not retried unless ``retry_skipped``. A process
killed at any moment (``kill -9``) and started again completes the set
without duplicates (see :mod:`wsss_mm.generation.store`).
"""
import datetime
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log

from wsss_mm.utils.compat import init_cpu_distributed, shutdown_distributed
from wsss_mm.utils.fileio import dump_json_atomic
from .store import GenerationStore
from .utils.ids import check_entry_id
from .utils.progress import GenerationProgress

DEFAULT_DIST_TIMEOUT_S = 7 * 24 * 3600
SUMMARY_FILE = 'generation_summary.json'


@dataclass
class WorkItem:
    """One unit of generation work: one entry (or one skip) at most.

    Args:
        id (str): Deterministic entry id (names the files; see
            :func:`~wsss_mm.generation.utils.safe_id`).
        data (Any): Whatever the producer needs (source path, labels,
            prompt, repeat index, ...).
    """
    id: str
    data: Any = None


@dataclass
class GeneratedEntry:
    """What a producer returns for an accepted item.

    Args:
        files (dict): Role -> content for :meth:`GenerationStore.add`
            (e.g. ``{'image': pil_image}`` or ``{'image': ..., 'mask':
            ...}``).
        fields (dict): Manifest fields (``source_id``, ``img_labels``,
            ``prompt``, ``seed``, ``scores``, ``model_ids``, ...).
        tries (int): Tries spent, the accepted one included; stored as
            ``fields['tries']`` unless the producer set it.
    """
    files: Dict[str, Any]
    fields: Dict[str, Any] = field(default_factory=dict)
    tries: int = 1


class SkipItem(Exception):
    """Raised by a producer for an item that gives no entry.

    The item is counted and logged, recorded in ``skipped.rankR.jsonl``
    (so a resumed run does not spend the tries again) and the run goes on.

    Args:
        reason (str): Human-readable cause, logged and recorded.
        kind (str): Category for the counts, e.g. ``'shortfall'`` (the
            filter rejected every try) or ``'bad_input'``.
        tries (int): Tries spent on it.
        fields (dict, optional): Extra fields for the skip record.
    """

    def __init__(self, reason: str, kind: str = 'shortfall',
                 tries: int = 0, fields: Optional[dict] = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.tries = int(tries)
        self.fields = dict(fields or {})


def get_dist_info() -> Tuple[int, int]:
    """``(rank, world_size)`` of the current process group, else (0, 1)."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def setup_distributed(launcher: str = 'none',
                      timeout_s: int = DEFAULT_DIST_TIMEOUT_S) -> bool:
    """Create the process group for ``launcher`` unless one exists.

    ``'pytorch'`` (torchrun) uses gloo on a machine without CUDA and nccl
    (one GPU per rank, ``cuda:LOCAL_RANK``) with CUDA; ``'slurm'`` and
    ``'mpi'`` go through mmengine's ``init_dist``. The timeout is long by
    default because ranks finish their shards at different times and wait
    for each other in the final barrier.

    Returns:
        bool: True if this call created the group.
    """
    import torch.distributed as dist
    if launcher == 'none' or (dist.is_available() and dist.is_initialized()):
        return False
    if launcher not in ('pytorch', 'slurm', 'mpi'):
        raise ValueError(f'unknown launcher {launcher!r}: use none, '
                         'pytorch, slurm or mpi')
    if not torch.cuda.is_available():
        if launcher != 'pytorch':
            raise RuntimeError(
                f'launcher {launcher!r} needs CUDA here; on a CPU machine '
                'use torchrun with --launcher pytorch')
        return init_cpu_distributed(launcher, timeout_s=timeout_s)
    from mmengine.dist import init_dist
    init_dist(launcher, timeout=datetime.timedelta(seconds=timeout_s))
    return True


def resolve_device(device: str = 'auto') -> torch.device:
    """The device of this rank: ``'auto'`` picks ``cuda:LOCAL_RANK`` when
    CUDA is present, else the CPU; any other string is used as given."""
    if device != 'auto':
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)))
    return torch.device('cpu')


def log_line(msg: str, level: int = logging.INFO) -> None:
    """Log ``msg`` to the current mmengine logger; on ranks other than 0,
    whose console handler only shows errors, also print it."""
    print_log(msg, logger='current', level=level)
    rank, world = get_dist_info()
    if rank != 0 and level < logging.ERROR:
        print(f'[rank {rank}/{world}] {msg}', flush=True)


def _check_items(items: Sequence[WorkItem]) -> None:
    seen, dup = set(), []
    for item in items:
        check_entry_id(item.id)
        if item.id in seen:
            dup.append(item.id)
        seen.add(item.id)
    if dup:
        raise ValueError(f'{len(dup)} duplicate work item id(s), e.g. '
                         f'{dup[:5]}: every item needs its own id')


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist
        dist.barrier()


def run_generation(items: Sequence[WorkItem],
                   produce: Callable[[WorkItem], GeneratedEntry],
                   store: GenerationStore,
                   launcher: str = 'none',
                   log_interval: float = 10.,
                   retry_skipped: bool = False,
                   merge: bool = True,
                   shutdown: bool = True,
                   prefix: str = 'generate',
                   dist_timeout_s: int = DEFAULT_DIST_TIMEOUT_S) -> dict:
    """Produce an entry for every work item not done yet; resume; merge.

    Steps: set up the process group for ``launcher`` (if none exists);
    rank 0 removes stale temporaries, then every rank opens the store
    (``store.rank`` is set to this process's rank); each rank takes
    ``items[rank::world_size]``, skips items already done (or skipped
    earlier, unless ``retry_skipped``), calls ``produce(item)`` for the
    others and stores the result; :class:`SkipItem` from the producer is
    counted, logged and recorded; any other exception stops the run (what
    was stored stays, a restart resumes). At the end the per-rank counts
    are gathered, rank 0 merges the shards into ``manifest.jsonl`` and
    writes ``generation_summary.json``, and every rank gets the summary.

    Args:
        items (list[WorkItem]): All work, the same list on every rank.
        produce (callable): ``produce(item) -> GeneratedEntry``.
        store (GenerationStore): The output store.
        launcher (str): ``'none'`` or ``'pytorch'`` (torchrun), or
            ``'slurm'``/``'mpi'`` on GPUs.
        log_interval (float): Seconds between progress lines.
        retry_skipped (bool): Produce again items recorded as skipped.
        merge (bool): Merge the shards at the end (rank 0).
        shutdown (bool): Destroy the process group at the end (after a
            barrier) if one exists. Defaults to True.
        prefix (str): Name in the progress lines.
        dist_timeout_s (int): Process group timeout when this call creates
            the group.

    Returns:
        dict: Summary over all ranks: ``total`` items, ``entries`` (in the
        merged manifest, when merged), ``new``, ``resumed``, ``skipped``
        (this run), ``skipped_before`` (recorded by earlier runs),
        ``skipped_by_kind``, ``tries``, ``acceptance_rate`` (new / tries in
        this run, None without tries), ``seconds``, ``world_size``,
        ``merge`` (the merge report) and ``ranks`` (per-rank counts).
    """
    _check_items(items)
    start = time.time()
    setup_distributed(launcher, timeout_s=dist_timeout_s)
    rank, world = get_dist_info()
    store.rank = rank
    if rank == 0:
        store.clean_temporaries()
    _barrier(world)
    store.open()

    mine: List[WorkItem] = list(items[rank::world])
    name = f'[{prefix} {rank}/{world}]' if world > 1 else f'[{prefix}]'
    progress = GenerationProgress(len(mine), name, log_interval)
    skipped_by_kind: Dict[str, int] = {}
    skipped_before = 0
    for item in mine:
        if store.is_done(item.id):
            progress.update('resumed')
            continue
        earlier = store.skipped_record(item.id)
        if earlier is not None and not retry_skipped:
            skipped_before += 1
            kind = earlier.get('kind', 'shortfall')
            skipped_by_kind[kind] = skipped_by_kind.get(kind, 0) + 1
            progress.update('resumed')
            continue
        t0 = time.time()
        try:
            entry = produce(item)
        except SkipItem as e:
            store.add_skip(item.id, e.reason, e.kind, e.tries, e.fields)
            skipped_by_kind[e.kind] = skipped_by_kind.get(e.kind, 0) + 1
            log_line(f'{name} {item.id}: no entry ({e.kind}): {e.reason}',
                     logging.WARNING)
            progress.update('skipped', e.tries, time.time() - t0)
            continue
        if not isinstance(entry, GeneratedEntry):
            raise TypeError(
                f'the producer returned a {type(entry).__name__} for '
                f'{item.id}; it must return a GeneratedEntry or raise '
                'SkipItem')
        fields = dict(entry.fields)
        fields.setdefault('tries', entry.tries)
        store.add(item.id, entry.files, fields)
        progress.update('new', entry.tries, time.time() - t0)

    mine_summary = dict(
        rank=rank,
        total=len(mine),
        new=progress.new,
        resumed=progress.resumed - skipped_before,
        skipped=progress.skipped,
        skipped_before=skipped_before,
        skipped_by_kind=skipped_by_kind,
        tries=progress.tries,
        seconds=round(time.time() - start, 3))
    per_rank = [mine_summary]
    if world > 1:
        import torch.distributed as dist
        per_rank = [None] * world
        dist.all_gather_object(per_rank, mine_summary)
    summary = _combine(per_rank)
    summary['seconds'] = round(time.time() - start, 3)
    report = None
    if rank == 0:
        if merge:
            report = store.merge(order=[it.id for it in items])
            summary['entries'] = report['entries']
        summary['merge'] = report
        dump_json_atomic(summary, os.path.join(store.root, SUMMARY_FILE),
                         indent=2)
        log_line(_summary_line(summary, prefix))
    if world > 1:
        import torch.distributed as dist
        box = [summary]
        dist.broadcast_object_list(box, src=0)
        summary = box[0]
    if shutdown:
        shutdown_distributed()
    return summary


def _combine(per_rank: List[dict]) -> dict:
    out = dict(total=0, new=0, resumed=0, skipped=0, skipped_before=0,
               tries=0)
    kinds: Dict[str, int] = {}
    for r in per_rank:
        for k in out:
            out[k] += r[k]
        for k, v in r['skipped_by_kind'].items():
            kinds[k] = kinds.get(k, 0) + v
    out['skipped_by_kind'] = kinds
    out['acceptance_rate'] = (out['new'] / out['tries']
                              if out['tries'] else None)
    out['world_size'] = len(per_rank)
    out['ranks'] = per_rank
    out['entries'] = None
    return out


def _summary_line(s: dict, prefix: str) -> str:
    rate = s['acceptance_rate']
    acc = f'{100 * rate:.1f}%' if rate is not None else 'n/a'
    entries = s['entries'] if s['entries'] is not None else '?'
    return (f'[{prefix}] finished: {s["total"]} items on '
            f'{s["world_size"]} process(es): {s["new"]} new, '
            f'{s["resumed"]} resumed, {s["skipped"]} skipped now and '
            f'{s["skipped_before"]} earlier {s["skipped_by_kind"]}; '
            f'acceptance {acc} of {s["tries"]} tries; {entries} entries in '
            f'the manifest; {s["seconds"]:.1f} s')
