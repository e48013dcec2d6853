# The demo APC model with the plugin's pooling instead of adaptive-K.
_base_ = ['../../../configs/demo/wsss_demo_cpu.py']
custom_imports = dict(
    imports=['wsss_mm', 'example_plugin'], allow_failed_imports=False)
model = dict(cls_head=dict(pooling=dict(_delete_=True, type='LogSumExpPool',
                                        r=10.0)))
