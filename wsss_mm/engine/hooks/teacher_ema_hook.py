"""Update an EMA teacher held by the model after each optimizer step."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from wsss_mm.models.utils.fsr import cosine_momentum
from wsss_mm.registry import HOOKS


@HOOKS.register_module()
class TeacherEMAHook(Hook):
    """Move the model's EMA teacher towards the student after each step.

    The model (unwrapped from DDP) must provide ``update_teacher(momentum)``
    where ``teacher = momentum * teacher + (1 - momentum) * student``
    (e.g. :class:`~wsss_mm.models.segmentors.FSR`, whose teacher is a
    submodule, so checkpoints and ``--resume`` carry it). The momentum
    follows FSR's cosine schedule
    (:func:`~wsss_mm.models.utils.fsr.cosine_momentum`) from
    ``base_momentum`` at iteration 0 to ``final_momentum`` at
    ``momentum_iters``, then ``final_momentum``. It is computed from
    ``runner.iter``, so a resumed run continues on schedule. The hook runs
    at ``NORMAL`` priority, before the checkpoint hook saves.

    The schedule's length is ``momentum_iters`` when given, else the
    model's ``fsr_iters`` when it has one that is not None (FSR's public
    code: cosine over ``--fsr_iters``, then 1.0), else the run's
    ``max_iters``.

    Args:
        base_momentum (float): Momentum at iteration 0. Defaults to 0.9995.
        final_momentum (float): Momentum at the end. Defaults to 1.0.
        momentum_iters (int, optional): Length of the cosine schedule
            (overrides the model's ``fsr_iters``).
    """

    priority = 'NORMAL'

    def __init__(self,
                 base_momentum: float = 0.9995,
                 final_momentum: float = 1.0,
                 momentum_iters: Optional[int] = None) -> None:
        self.base_momentum = base_momentum
        self.final_momentum = final_momentum
        self.momentum_iters = momentum_iters

    def momentum(self,
                 cur_iter: int,
                 max_iters: int,
                 fsr_iters: Optional[int] = None) -> float:
        """Teacher momentum of the 0-based iteration ``cur_iter`` in a run
        of ``max_iters`` whose model has ``fsr_iters``."""
        if self.momentum_iters is not None:
            total = self.momentum_iters
        elif fsr_iters is not None:
            total = fsr_iters
        else:
            total = max_iters
        return cosine_momentum(cur_iter, total, self.base_momentum,
                               self.final_momentum)

    def before_train(self, runner) -> None:
        """Check that the model has a teacher to update."""
        model = self._model(runner)
        if not callable(getattr(model, 'update_teacher', None)):
            raise TypeError(
                f'TeacherEMAHook needs a model with update_teacher(momentum)'
                f'; {type(model).__name__} has none')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """EMA update with the momentum of the iteration just done."""
        model = self._model(runner)
        momentum = self.momentum(runner.iter, runner.max_iters,
                                 getattr(model, 'fsr_iters', None))
        model.update_teacher(momentum)
        runner.message_hub.update_scalar('train/teacher_momentum', momentum)

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model
