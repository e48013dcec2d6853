"""The prompt agent: background prompts with self-refinement.

Backends (registered in :data:`wsss_mm.registry.GENERATORS`, chosen by
``prompter.type``): :class:`OfflinePrompter` (default; word lists, no
network) and :class:`OpenAIPrompter` (any OpenAI-compatible endpoint). A
plugin adds a backend by subclassing :class:`BasePrompter` and registering
it.
"""
from .base import (DEFAULT_IMAGE_TEMPLATE, BasePrompter, PromptBank,
                   compose_prompt, load_prompt_bank, save_prompt_bank,
                   shared_prompt_bank)
from .cache import AnswerCache, request_key
from .offline import OfflinePrompter, offline_score
from .openai_prompter import LLMFailure, OpenAIPrompter

__all__ = [
    'BasePrompter', 'OfflinePrompter', 'OpenAIPrompter', 'LLMFailure',
    'AnswerCache', 'request_key', 'compose_prompt', 'save_prompt_bank',
    'load_prompt_bank', 'shared_prompt_bank', 'offline_score', 'PromptBank',
    'DEFAULT_IMAGE_TEMPLATE'
]
