"""Registries of wsss_mm.

Every registry is a child of the matching mmseg registry with scope
``wsss_mm``: configs with ``default_scope='wsss_mm'`` resolve our parts first
and fall back to mmseg's (and, through mmseg, to mmengine's). mmpretrain
parts are reached with their scope prefix, e.g.
``type='mmpretrain.VisionTransformer'``.

Third-party packages register into these registries from their own code::

    from wsss_mm.registry import MODELS

    @MODELS.register_module()
    class MyPooling(nn.Module):
        ...

and load it through ``custom_imports`` in their config.
"""
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import Registry
from mmseg.registry import DATA_SAMPLERS as MMSEG_DATA_SAMPLERS
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import EVALUATOR as MMSEG_EVALUATOR
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import INFERENCERS as MMSEG_INFERENCERS
from mmseg.registry import LOG_PROCESSORS as MMSEG_LOG_PROCESSORS
from mmseg.registry import LOOPS as MMSEG_LOOPS
from mmseg.registry import METRICS as MMSEG_METRICS
from mmseg.registry import MODEL_WRAPPERS as MMSEG_MODEL_WRAPPERS
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.registry import OPTIM_WRAPPERS as MMSEG_OPTIM_WRAPPERS
from mmseg.registry import OPTIMIZERS as MMSEG_OPTIMIZERS
from mmseg.registry import PARAM_SCHEDULERS as MMSEG_PARAM_SCHEDULERS
from mmseg.registry import RUNNER_CONSTRUCTORS as MMSEG_RUNNER_CONSTRUCTORS
from mmseg.registry import TASK_UTILS as MMSEG_TASK_UTILS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISBACKENDS as MMSEG_VISBACKENDS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS
from mmseg.registry import WEIGHT_INITIALIZERS as MMSEG_WEIGHT_INITIALIZERS

SCOPE = 'wsss_mm'


class WSSSRegistry(Registry):
    """A registry that also imports its ancestors' ``locations``.

    mmengine's :meth:`Registry.get` imports the lazy ``locations`` of the
    registry it is called on, then looks the name up in the parents without
    importing theirs. A config with ``default_scope='wsss_mm'`` naming an
    mmseg part (``SegLocalVisualizer``, ``IoUMetric``, ``EncoderDecoder``)
    therefore failed unless the tool had called mmseg's
    ``register_all_modules()`` first, which mmseg's own ``tools/train.py``
    and ``tools/test.py`` do not. Importing our registry's locations here
    imports mmseg's too, so ``import wsss_mm`` (``custom_imports`` in
    ``configs/_base_/default_runtime.py``) is all a tool needs.
    """

    def import_from_location(self) -> None:
        first_time = not self._imported
        super().import_from_location()
        if first_time:
            parent = self.parent
            while parent is not None:
                parent.import_from_location()
                parent = parent.parent


# mmseg registers no runner; a direct child of mmengine's root RUNNERS lets
# the root resolve the scope-qualified 'wsss_mm.WSSSRunner' (mmengine's
# Registry.get only searches the root's direct children for a scope), which
# is how mmseg's stock tools/train.py and tools/test.py build runners.
RUNNERS = WSSSRegistry(
    'runner', parent=MMENGINE_RUNNERS, scope=SCOPE,
    locations=['wsss_mm.engine'])
RUNNER_CONSTRUCTORS = WSSSRegistry(
    'runner constructor', parent=MMSEG_RUNNER_CONSTRUCTORS, scope=SCOPE,
    locations=['wsss_mm.engine'])
LOOPS = WSSSRegistry(
    'loop', parent=MMSEG_LOOPS, scope=SCOPE, locations=['wsss_mm.engine'])
HOOKS = WSSSRegistry(
    'hook', parent=MMSEG_HOOKS, scope=SCOPE,
    locations=['wsss_mm.engine.hooks'])
DATASETS = WSSSRegistry(
    'dataset', parent=MMSEG_DATASETS, scope=SCOPE,
    locations=['wsss_mm.datasets'])
DATA_SAMPLERS = WSSSRegistry(
    'data sampler', parent=MMSEG_DATA_SAMPLERS, scope=SCOPE,
    locations=['wsss_mm.datasets'])
TRANSFORMS = WSSSRegistry(
    'transform', parent=MMSEG_TRANSFORMS, scope=SCOPE,
    locations=['wsss_mm.datasets.transforms'])
MODELS = WSSSRegistry(
    'model', parent=MMSEG_MODELS, scope=SCOPE, locations=['wsss_mm.models'])
MODEL_WRAPPERS = WSSSRegistry(
    'model_wrapper', parent=MMSEG_MODEL_WRAPPERS, scope=SCOPE,
    locations=['wsss_mm.engine'])
WEIGHT_INITIALIZERS = WSSSRegistry(
    'weight initializer', parent=MMSEG_WEIGHT_INITIALIZERS, scope=SCOPE,
    locations=['wsss_mm.models'])
OPTIMIZERS = WSSSRegistry(
    'optimizer', parent=MMSEG_OPTIMIZERS, scope=SCOPE,
    locations=['wsss_mm.engine'])
OPTIM_WRAPPERS = WSSSRegistry(
    'optim_wrapper', parent=MMSEG_OPTIM_WRAPPERS, scope=SCOPE,
    locations=['wsss_mm.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = WSSSRegistry(
    'optimizer wrapper constructor', parent=MMSEG_OPTIM_WRAPPER_CONSTRUCTORS,
    scope=SCOPE, locations=['wsss_mm.engine'])
PARAM_SCHEDULERS = WSSSRegistry(
    'parameter scheduler', parent=MMSEG_PARAM_SCHEDULERS, scope=SCOPE,
    locations=['wsss_mm.engine'])
METRICS = WSSSRegistry(
    'metric', parent=MMSEG_METRICS, scope=SCOPE,
    locations=['wsss_mm.evaluation'])
EVALUATOR = WSSSRegistry(
    'evaluator', parent=MMSEG_EVALUATOR, scope=SCOPE,
    locations=['wsss_mm.evaluation'])
TASK_UTILS = WSSSRegistry(
    'task util', parent=MMSEG_TASK_UTILS, scope=SCOPE,
    locations=['wsss_mm.models'])
VISUALIZERS = WSSSRegistry(
    'visualizer', parent=MMSEG_VISUALIZERS, scope=SCOPE,
    locations=['wsss_mm.visualization'])
VISBACKENDS = WSSSRegistry(
    'vis_backend', parent=MMSEG_VISBACKENDS, scope=SCOPE,
    locations=['wsss_mm.visualization'])
LOG_PROCESSORS = WSSSRegistry(
    'log_processor', parent=MMSEG_LOG_PROCESSORS, scope=SCOPE,
    locations=['wsss_mm.visualization'])
INFERENCERS = WSSSRegistry(
    'inferencer', parent=MMSEG_INFERENCERS, scope=SCOPE,
    locations=['wsss_mm.apis'])

# Generation parts (prompt backends, diffusion generators, online filters,
# stores): no OpenMMLab registry holds such parts, so this is a root
# registry of its own with scope 'wsss_mm'. A plugin package registers with
# ``@GENERATORS.register_module()`` and is loaded by ``custom_imports``;
# one that wants its own scope makes a child:
# ``Registry('generation part', parent=GENERATORS, scope='my_pkg')``.
GENERATORS = Registry(
    'generation part', scope=SCOPE, locations=['wsss_mm.generation'])
