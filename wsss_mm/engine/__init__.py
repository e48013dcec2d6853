from .hooks import *  # noqa: F401,F403
from .model_wrapper import WSSSDistributedDataParallel
from .optim_constructor import NoDecayOptimWrapperConstructor
from .runner import WSSSRunner

__all__ = [
    'WSSSRunner', 'WSSSDistributedDataParallel',
    'NoDecayOptimWrapperConstructor'
]
