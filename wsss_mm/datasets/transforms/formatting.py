"""Packing with image-level labels."""
import numpy as np
import torch
from mmseg.datasets.transforms import PackSegInputs

from wsss_mm.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackWSSSInputs(PackSegInputs):
    """mmseg ``PackSegInputs`` plus the image-level labels.

    ``gt_image_labels`` (from :class:`LoadImageLevelLabels`) becomes a float
    tensor data field of the ``SegDataSample``
    (``data_sample.gt_image_labels``, shape ``(num_classes,)``). Pixel ground
    truth (``gt_sem_seg``) is packed only when the pipeline loaded it with
    ``LoadAnnotations`` (val/test pipelines); train pipelines do not load
    it, so no mask reaches a training sample.

    Args:
        meta_keys (Sequence[str]): Keys packed into the metainfo (when
            present in the results): mmseg's defaults plus ``'img_labels'``
            and ``'tile_box'`` (tile datasets; reports crop the source
            image with it).
    """

    def __init__(self,
                 meta_keys=('img_path', 'seg_map_path', 'ori_shape',
                            'img_shape', 'pad_shape', 'scale_factor', 'flip',
                            'flip_direction', 'reduce_zero_label',
                            'img_labels', 'tile_box')):
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack ``results`` into ``inputs`` and ``data_samples``."""
        packed = super().transform(results)
        if 'gt_image_labels' in results:
            value = np.asarray(results['gt_image_labels'], dtype=np.float32)
            packed['data_samples'].set_field(
                torch.from_numpy(value.copy()),
                'gt_image_labels',
                dtype=torch.Tensor)
        return packed
