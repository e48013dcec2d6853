"""High-level APIs, like ``mmseg.apis``: build a trained model, predict."""
from .inference import (WSSSInferencer, default_device, inference_model,
                        init_model)

__all__ = ['init_model', 'inference_model', 'WSSSInferencer',
           'default_device']
