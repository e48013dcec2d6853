"""FSR's two global views of one image, packed together."""
import copy
from typing import List, Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform, Compose
from mmpretrain.datasets.transforms import ColorJitter
from PIL import Image

from wsss_mm.registry import TRANSFORMS
from .formatting import PackWSSSInputs


def fsr_global_view_pipeline(crop_size: int = 448,
                             scale: Tuple[float, float] = (0.32, 1.0),
                             flip_prob: float = 0.5,
                             color_jitter: Sequence[float] = (0.4, 0.4, 0.2,
                                                              0.1),
                             jitter_prob: float = 0.5) -> List[dict]:
    """FSR's global-view augmentation as a list of transform configs.

    RandomResizedCrop(``crop_size``, ``scale``, bicubic), horizontal flip
    with ``flip_prob``, colour jitter (brightness, contrast, saturation,
    hue) applied with ``jitter_prob``.
    """
    b, c, s, h = color_jitter
    return [
        dict(
            type='mmpretrain.RandomResizedCrop',
            scale=crop_size,
            crop_ratio_range=tuple(scale),
            interpolation='bicubic',
            backend='pillow'),
        dict(type='RandomFlip', prob=flip_prob, direction='horizontal'),
        dict(
            type='RandomApply',
            transforms=[
                dict(
                    type='WSSSColorJitter',
                    brightness=b,
                    contrast=c,
                    saturation=s,
                    hue=h)
            ],
            prob=jitter_prob),
    ]


def adjust_hue(img: np.ndarray, hue_factor: float) -> np.ndarray:
    """Shift the hue of a BGR uint8 image by ``hue_factor`` turns.

    torchvision's rule (PIL HSV, the hue channel shifted by
    ``int(hue_factor * 255)`` modulo 256). mmcv 2.1's ``adjust_hue`` adds
    ``np.uint8(hue_factor * 255)``, which raises under numpy 2 for a
    negative factor.
    """
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor {hue_factor} is not in [-0.5, 0.5]')
    h, s, v = Image.fromarray(img[..., ::-1], mode='RGB').convert(
        'HSV').split()
    shift = int(hue_factor * 255)
    np_h = ((np.asarray(h, dtype=np.int16) + shift) % 256).astype(np.uint8)
    out = Image.merge('HSV', (Image.fromarray(np_h, 'L'), s, v))
    return np.ascontiguousarray(np.asarray(out.convert('RGB'))[..., ::-1])


@TRANSFORMS.register_module()
class WSSSColorJitter(ColorJitter):
    """mmpretrain's ``ColorJitter`` (torchvision's rule, random order of
    brightness, contrast, saturation and hue) with a hue shift that works
    under numpy 2 (:func:`adjust_hue`). Same arguments as mmpretrain's.
    """

    def transform(self, results: dict) -> dict:
        """Jitter ``results['img']`` (BGR uint8)."""
        img = results['img']
        order, brightness, contrast, saturation, hue = self._rand_params()
        for index in order:
            if index == 0 and brightness is not None:
                img = mmcv.adjust_brightness(
                    img, brightness, backend=self.backend)
            elif index == 1 and contrast is not None:
                img = mmcv.adjust_contrast(img, contrast, backend=self.backend)
            elif index == 2 and saturation is not None:
                img = mmcv.adjust_color(
                    img, alpha=saturation, backend=self.backend)
            elif index == 3 and hue is not None:
                img = adjust_hue(img, hue)
        results['img'] = img
        return results


@TRANSFORMS.register_module()
class FSRTwoViews(BaseTransform):
    """Two independently augmented views of the loaded image.

    Each view runs ``view_pipeline`` (by default FSR's global view:
    :func:`fsr_global_view_pipeline` with the arguments below) on its own
    copy of ``results``. Afterwards ``results['img']`` is the list of views
    (view 1 first) and ``img_shape`` is view 1's; the image-level labels are
    untouched, so both views keep the same labels. Pack with
    :class:`PackMultiViewWSSSInputs`.

    Args:
        view_pipeline (list[dict], optional): Transforms of one view.
        num_views (int): Number of views. Defaults to 2.
        crop_size (int): Crop size of the default pipeline. Defaults to 448.
        scale (tuple[float, float]): Area range of the crop.
            Defaults to (0.32, 1.0).
        flip_prob (float): Horizontal flip probability. Defaults to 0.5.
        color_jitter (Sequence[float]): Brightness, contrast, saturation,
            hue. Defaults to (0.4, 0.4, 0.2, 0.1).
        jitter_prob (float): Colour jitter probability. Defaults to 0.5.
    """

    def __init__(self,
                 view_pipeline: Optional[List[dict]] = None,
                 num_views: int = 2,
                 crop_size: int = 448,
                 scale: Tuple[float, float] = (0.32, 1.0),
                 flip_prob: float = 0.5,
                 color_jitter: Sequence[float] = (0.4, 0.4, 0.2, 0.1),
                 jitter_prob: float = 0.5) -> None:
        if num_views < 1:
            raise ValueError(f'num_views must be >= 1, got {num_views}')
        if view_pipeline is None:
            view_pipeline = fsr_global_view_pipeline(
                crop_size, scale, flip_prob, color_jitter, jitter_prob)
        self.num_views = num_views
        self.pipeline = Compose(
            [TRANSFORMS.build(t) if isinstance(t, dict) else t
             for t in view_pipeline])

    def transform(self, results: dict) -> dict:
        """Make the views."""
        views = [self.pipeline(copy.deepcopy(results))
                 for _ in range(self.num_views)]
        out = views[0]
        imgs = [v['img'] for v in views]
        out['img'] = imgs
        out['img_shape'] = tuple(imgs[0].shape[:2])
        out['view_flips'] = [bool(v.get('flip', False)) for v in views]
        return out

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_views={self.num_views}, '
                f'pipeline={self.pipeline})')


@TRANSFORMS.register_module()
class PackMultiViewWSSSInputs(PackWSSSInputs):
    """:class:`PackWSSSInputs` for a list of views.

    ``inputs`` becomes a list of ``[3, H, W]`` uint8 tensors (view 1 first);
    batched, the data preprocessor
    (:class:`~wsss_mm.models.MultiViewSegDataPreProcessor`) gives the model
    one normalised batch per view. A single image is packed as usual.
    """

    @staticmethod
    def _to_tensor(img: np.ndarray) -> torch.Tensor:
        if img.ndim < 3:
            img = img[..., None]
        return torch.from_numpy(
            np.ascontiguousarray(img.transpose(2, 0, 1))).contiguous()

    def transform(self, results: dict) -> dict:
        """Pack ``results``."""
        imgs = results['img']
        if not isinstance(imgs, (list, tuple)):
            return super().transform(results)
        results = dict(results, img=imgs[0])
        packed = super().transform(results)
        packed['inputs'] = [packed['inputs']] + [
            self._to_tensor(img) for img in imgs[1:]
        ]
        return packed
