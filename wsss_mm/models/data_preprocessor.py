"""Data preprocessor for multi-view training batches."""
from typing import Any, Dict

from mmseg.models import SegDataPreProcessor

from wsss_mm.registry import MODELS


@MODELS.register_module()
class MultiViewSegDataPreProcessor(SegDataPreProcessor):
    """mmseg's ``SegDataPreProcessor`` that also takes several views.

    When every sample holds a list of views (packed by
    :class:`~wsss_mm.datasets.transforms.PackMultiViewWSSSInputs`; the
    collate function turns them into one list per view), each view is
    converted, normalised and stacked like a single-view batch and
    ``inputs`` becomes the list of per-view batches ``[B, 3, H, W]``.
    Single-view batches (validation, test) are processed exactly as by the
    parent class.
    """

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Preprocess one batch."""
        inputs = data['inputs']
        if not (isinstance(inputs, (list, tuple)) and len(inputs) > 0
                and isinstance(inputs[0], (list, tuple))):
            return super().forward(data, training)
        data_samples = data.get('data_samples', None)
        views = []
        for view in inputs:
            out = super().forward(
                dict(inputs=list(view), data_samples=data_samples), training)
            views.append(out['inputs'])
            data_samples = out['data_samples']
        return dict(inputs=views, data_samples=data_samples)
