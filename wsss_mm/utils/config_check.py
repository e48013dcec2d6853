"""Warn about misspelled top-level config keys.

mmengine ignores top-level keys it does not read, so ``default_hook = ...``
(for ``default_hooks``) silently keeps the defaults. A top-level key that
is not read by the Runner but lies within edit distance 2 of a key that is
gets a warning naming the likely intended key. Ordinary config variables
(``num_classes``, ``crop_size``, ...) are far from every Runner key and stay
silent.
"""
import warnings
from typing import Iterable, List, Optional

# Keys that mmengine's Runner.from_cfg, WSSSRunner, mmseg's tools and
# wsss_mm's tools read from the top level of a config.
RUNNER_KEYS = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader',
    'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr',
    'optim_wrapper', 'param_scheduler', 'val_evaluator', 'test_evaluator',
    'default_hooks', 'custom_hooks', 'data_preprocessor', 'load_from',
    'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level',
    'visualizer', 'default_scope', 'randomness', 'experiment_name',
    'runner_type', 'model_wrapper_cfg', 'compile', 'find_unused_parameters',
    'tta_model', 'tta_pipeline', 'custom_imports', 'vis_backends',
    'unsafe_load_checkpoint', 'train_pipeline', 'test_pipeline'
})


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Levenshtein distance of ``a`` and ``b`` (capped at ``limit``)."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1,
                           prev[j - 1] + (ca != cb)))
        prev = cur
        if min(prev) >= limit:
            return limit
    return min(prev[-1], limit)


def near_miss(key: str,
              known: Iterable[str] = RUNNER_KEYS) -> Optional[str]:
    """The known key ``key`` is probably a misspelling of, or None.

    Within edit distance 2 (1 for keys of 5 characters or fewer, where
    distance 2 matches unrelated short words).
    """
    if key in known or key.startswith('_'):
        return None
    best, best_d = None, 3
    for k in sorted(known):
        d = edit_distance(key, k)
        allowed = 1 if min(len(key), len(k)) <= 5 else 2
        if d <= allowed and d < best_d:
            best, best_d = k, d
    return best


def check_top_level_keys(cfg, warn: bool = True) -> List[str]:
    """Warn for each top-level key of ``cfg`` that looks misspelled.

    Returns:
        list[str]: The warning messages.
    """
    messages = []
    for key in cfg.keys():
        intended = near_miss(str(key))
        if intended is not None:
            msg = (f'config key {key!r} is not read by the Runner; did you '
                   f'mean {intended!r}? (misspelled keys are ignored)')
            messages.append(msg)
            if warn:
                warnings.warn(msg, stacklevel=2)
    return messages
