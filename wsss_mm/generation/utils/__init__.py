"""Pure helpers of the generation package (ids, seeds, progress)."""
from .ids import ID_PATTERN, check_entry_id, item_seed, safe_id
from .progress import GenerationProgress, format_hms

__all__ = [
    'safe_id', 'check_entry_id', 'item_seed', 'ID_PATTERN',
    'GenerationProgress', 'format_hms'
]
