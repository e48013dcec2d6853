from .hooks import *  # noqa: F401,F403
from .model_wrapper import WSSSDistributedDataParallel
from .runner import WSSSRunner

__all__ = ['WSSSRunner', 'WSSSDistributedDataParallel']
