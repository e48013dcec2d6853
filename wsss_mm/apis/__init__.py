"""High-level APIs, like ``mmseg.apis``: build a trained model, predict."""
from .inference import (WSSSInferencer, default_device, inference_model,
                        init_model)
from .pseudo_labels import generate_pseudo_labels

__all__ = ['init_model', 'inference_model', 'WSSSInferencer',
           'default_device', 'generate_pseudo_labels']
