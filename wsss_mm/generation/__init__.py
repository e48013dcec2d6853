"""Data generation: IAA and diffusion-synthetic images for WSSS.

Parts are registered in :data:`wsss_mm.registry.GENERATORS` (prompt
backends, diffusion generators, online filters, stores) and built from
configs with ``GENERATORS.build(cfg)``; a plugin package registers its own
with ``@GENERATORS.register_module()`` and is loaded by ``custom_imports``.

- :mod:`.store`: files + JSONL manifest shards, crash safe and resumable;
- :mod:`.runner`: the generation loop (sharding over ranks, resume, skip
  accounting, merge, progress line);
- :mod:`.prompts`: the prompt agent (offline and OpenAI-compatible
  backends, self-refinement, on-disk answer cache);
- :mod:`.utils`: ids, seeds, progress.

Heavy dependencies (diffusers, openai) are imported by the parts that use
them, not here.
"""
from .prompt_augment import PromptAugmenter
from .prompts import (BasePrompter, OfflinePrompter, OpenAIPrompter,
                      compose_prompt)
from .runner import (GeneratedEntry, SkipItem, WorkItem, get_dist_info,
                     resolve_device, run_generation, setup_distributed)
from .store import (MANIFEST, GenerationStore, check_entry_files, list_shards,
                    manifest_sources, read_jsonl, sha256_file, shard_name)
from .utils import item_seed, safe_id

__all__ = [
    'GenerationStore', 'read_jsonl', 'list_shards', 'shard_name',
    'sha256_file', 'MANIFEST', 'check_entry_files', 'manifest_sources',
    'WorkItem', 'GeneratedEntry', 'SkipItem',
    'run_generation', 'setup_distributed', 'get_dist_info', 'resolve_device',
    'safe_id', 'item_seed', 'BasePrompter', 'OfflinePrompter',
    'OpenAIPrompter', 'compose_prompt', 'PromptAugmenter'
]

# Registered parts (import-light: diffusers loads when a generator is built)
from . import diffusion, filters  # noqa: E402,F401,I001
