# default_runtime.py plus FSR's EMA teacher: TeacherEMAHook moves the
# teacher towards the student after every optimizer step (never in
# forward). FSR configs take this file instead of default_runtime.py
# (mmengine refuses a key defined by two bases side by side). A config
# that sets its own custom_hooks must keep TeacherEMAHook, or the teacher
# never moves (training still runs), and EvaluationResultHook.
_base_ = ['./default_runtime.py']
custom_hooks = [
    dict(type='EvaluationResultHook'),
    dict(type='TeacherEMAHook', base_momentum=0.9995, final_momentum=1.0)
]
