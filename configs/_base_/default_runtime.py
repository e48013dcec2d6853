default_scope = 'wsss_mm'
# Importing wsss_mm installs its compat shims and registers its parts, also
# when the config is run by mmseg's own tools.
custom_imports = dict(imports=['wsss_mm'], allow_failed_imports=False)
# CPU-only gloo DDP and safe checkpoint reload: wsss_mm/engine/runner.py
# Scope-qualified: mmseg's stock tools build it from mmengine's root RUNNERS.
runner_type = 'wsss_mm.WSSSRunner'
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; WSSSRunner switches to gloo when CUDA is absent.
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# Every test run writes result_test.json (metrics + protocol) into its log
# folder (docs/evaluation.md); configs that set custom_hooks keep it by
# listing it too.
custom_hooks = [dict(type='EvaluationResultHook')]
