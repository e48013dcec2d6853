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
from mmseg.registry import RUNNERS as MMSEG_RUNNERS
from mmseg.registry import TASK_UTILS as MMSEG_TASK_UTILS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISBACKENDS as MMSEG_VISBACKENDS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS
from mmseg.registry import WEIGHT_INITIALIZERS as MMSEG_WEIGHT_INITIALIZERS

SCOPE = 'wsss_mm'

RUNNERS = Registry(
    'runner', parent=MMSEG_RUNNERS, scope=SCOPE,
    locations=['wsss_mm.engine'])
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor', parent=MMSEG_RUNNER_CONSTRUCTORS, scope=SCOPE,
    locations=['wsss_mm.engine'])
LOOPS = Registry(
    'loop', parent=MMSEG_LOOPS, scope=SCOPE, locations=['wsss_mm.engine'])
HOOKS = Registry(
    'hook', parent=MMSEG_HOOKS, scope=SCOPE,
    locations=['wsss_mm.engine.hooks'])
DATASETS = Registry(
    'dataset', parent=MMSEG_DATASETS, scope=SCOPE,
    locations=['wsss_mm.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMSEG_DATA_SAMPLERS, scope=SCOPE,
    locations=['wsss_mm.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMSEG_TRANSFORMS, scope=SCOPE,
    locations=['wsss_mm.datasets.transforms'])
MODELS = Registry(
    'model', parent=MMSEG_MODELS, scope=SCOPE, locations=['wsss_mm.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMSEG_MODEL_WRAPPERS, scope=SCOPE,
    locations=['wsss_mm.engine'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMSEG_WEIGHT_INITIALIZERS, scope=SCOPE,
    locations=['wsss_mm.models'])
OPTIMIZERS = Registry(
    'optimizer', parent=MMSEG_OPTIMIZERS, scope=SCOPE,
    locations=['wsss_mm.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMSEG_OPTIM_WRAPPERS, scope=SCOPE,
    locations=['wsss_mm.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMSEG_OPTIM_WRAPPER_CONSTRUCTORS,
    scope=SCOPE, locations=['wsss_mm.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMSEG_PARAM_SCHEDULERS, scope=SCOPE,
    locations=['wsss_mm.engine'])
METRICS = Registry(
    'metric', parent=MMSEG_METRICS, scope=SCOPE,
    locations=['wsss_mm.evaluation'])
EVALUATOR = Registry(
    'evaluator', parent=MMSEG_EVALUATOR, scope=SCOPE,
    locations=['wsss_mm.evaluation'])
TASK_UTILS = Registry(
    'task util', parent=MMSEG_TASK_UTILS, scope=SCOPE,
    locations=['wsss_mm.models'])
VISUALIZERS = Registry(
    'visualizer', parent=MMSEG_VISUALIZERS, scope=SCOPE,
    locations=['wsss_mm.visualization'])
VISBACKENDS = Registry(
    'vis_backend', parent=MMSEG_VISBACKENDS, scope=SCOPE,
    locations=['wsss_mm.visualization'])
LOG_PROCESSORS = Registry(
    'log_processor', parent=MMSEG_LOG_PROCESSORS, scope=SCOPE,
    locations=['wsss_mm.visualization'])
INFERENCERS = Registry(
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
