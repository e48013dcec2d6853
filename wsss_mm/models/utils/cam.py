"""Class activation maps and CAM pseudo-labels as ToCo computes them.

ToCo (Ru et al., CVPR 2023; rulixiang/ToCo ``utils/camutils.py``) and FSR
(built on it) make every pseudo-label of training from CAMs of two
bias-free 1x1 classifiers. These are the pure functions; the ``ToCo``
segmentor wires them together.

Conventions: ``cam`` is ``[B, C, H, W]`` with ``C`` foreground classes (no
background channel), ``cls_label`` is ``[B, C]`` multi-hot without
background, and labels are ``0`` for background, ``c + 1`` for class ``c``
and ``ignore_index`` for uncertain pixels.
"""
from typing import Callable, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'multi_scale_cam', 'minmax_normalize_cam', 'cam_to_label',
    'cam_to_roi_mask', 'box_mask', 'refine_cams_with_background'
]

CamOutput = Union[Tensor, Tuple[Tensor, ...]]


def minmax_normalize_cam(cam: Tensor, eps: float = 1e-5) -> Tensor:
    """Per-image, per-channel min-max normalisation to ``[0, 1)``.

    ``(cam - min) / (max - min + eps)`` over the spatial dimensions, as
    ToCo writes it (``cam + max_pool(-cam)``, then ``/ (max_pool + eps)``).
    """
    cam = cam - cam.flatten(2).min(dim=-1)[0][..., None, None]
    return cam / (cam.flatten(2).max(dim=-1)[0][..., None, None] + eps)


def multi_scale_cam(cam_fn: Callable[[Tensor], CamOutput],
                    inputs: Tensor,
                    scales: Sequence[float] = (1.0, 0.5, 1.5),
                    eps: float = 1e-5) -> CamOutput:
    """Multi-scale, flip-augmented CAMs (ToCo's ``multi_scale_cam2``).

    For every scale ``s`` the batch is resized (bilinear) to
    ``(int(s * H), int(s * W))`` and run together with its horizontal flip;
    each map is resized back to ``(H, W)`` (bilinear), the flip pair is
    combined by an element-wise max (after un-flipping), ReLU is applied,
    the scales are summed and the sum is min-max normalised per image and
    channel (:func:`minmax_normalize_cam`). The input size is always used
    first, whether or not ``1.0`` is in ``scales`` (as ToCo does).

    Args:
        cam_fn (callable): Maps images ``[2B, 3, h, w]`` to one CAM tensor
            ``[2B, C, h', w']`` or a tuple of them (e.g. ToCo's final and
            aux CAMs); called under ``torch.no_grad``.
        inputs (Tensor): Images ``[B, 3, H, W]``.
        scales (Sequence[float]): Scales; 1.0 is not repeated.
        eps (float): Added to the normaliser.

    Returns:
        Tensor | tuple[Tensor]: ``[B, C, H, W]`` maps in ``[0, 1)``, one
        per output of ``cam_fn`` (a tuple when ``cam_fn`` returns one).
    """
    b, _, h, w = inputs.shape
    as_tuple = []

    def one_scale(x: Tensor) -> Tuple[Tensor, ...]:
        out = cam_fn(torch.cat([x, x.flip(-1)], dim=0))
        as_tuple.append(isinstance(out, (tuple, list)))
        outs = out if as_tuple[-1] else (out, )
        maps = []
        for cam in outs:
            cam = F.interpolate(
                cam, size=(h, w), mode='bilinear', align_corners=False)
            maps.append(F.relu(torch.max(cam[:b], cam[b:].flip(-1))))
        return tuple(maps)

    with torch.no_grad():
        total = list(one_scale(inputs))
        for s in scales:
            if s == 1.0:
                continue
            x = F.interpolate(
                inputs, size=(int(s * h), int(s * w)), mode='bilinear',
                align_corners=False)
            for i, cam in enumerate(one_scale(x)):
                total[i] = total[i] + cam
        result = tuple(minmax_normalize_cam(c, eps) for c in total)
    return result if as_tuple[0] else result[0]


def box_mask(img_box: Tensor, size: Tuple[int, int]) -> Tensor:
    """``[B, H, W]`` bool, True inside each row ``[y0, y1, x0, x1]``."""
    h, w = size
    ys = torch.arange(h, device=img_box.device)
    xs = torch.arange(w, device=img_box.device)
    box = img_box.to(torch.long)
    in_y = (ys[None] >= box[:, 0:1]) & (ys[None] < box[:, 1:2])
    in_x = (xs[None] >= box[:, 2:3]) & (xs[None] < box[:, 3:4])
    return in_y[:, :, None] & in_x[:, None, :]


def cam_to_label(cam: Tensor,
                 cls_label: Tensor,
                 bkg_thr: Optional[float],
                 high_thr: Optional[float] = None,
                 low_thr: Optional[float] = None,
                 ignore_mid: bool = False,
                 ignore_index: int = 255,
                 img_box: Optional[Tensor] = None,
                 with_background: bool = True) -> Tensor:
    """Pseudo-labels from CAMs (ToCo's ``cam_to_label``).

    ``valid = cam * cls_label``; ``value, idx = max over classes``;
    ``label = idx + 1`` and ``label = 0`` where ``value <= bkg_thr``. Only
    when ``img_box`` is given (ToCo returns early otherwise): with
    ``ignore_mid``, ``value <= high_thr`` becomes ``ignore_index`` and then
    ``value <= low_thr`` becomes 0; pixels outside the box become
    ``ignore_index``.

    Without a background class (``with_background=False``, e.g. CamVid)
    every pixel gets its best present class ``idx`` (no ``+ 1``, no
    background threshold); ``ignore_mid`` then marks ``value <= high_thr``
    as ignored, and the box still applies.

    Args:
        cam (Tensor): ``[B, C, H, W]`` CAMs in ``[0, 1]``.
        cls_label (Tensor): ``[B, C]`` multi-hot image labels.
        bkg_thr (float, optional): Background threshold (unused without a
            background class).
        high_thr, low_thr (float, optional): Thresholds of ``ignore_mid``.
        ignore_mid (bool): Ignore the uncertain band (needs ``img_box``).
        ignore_index (int): Label of ignored pixels.
        img_box (Tensor, optional): ``[B, 4]`` rows ``[y0, y1, x0, x1]`` of
            the valid image region (end-exclusive).
        with_background (bool): Whether label 0 is background.

    Returns:
        Tensor: ``[B, H, W]`` long labels.
    """
    valid = cam * cls_label[:, :, None, None].to(cam.dtype)
    value, idx = valid.max(dim=1)
    label = idx.long()
    if with_background:
        label = label + 1
        label[value <= bkg_thr] = 0
    if img_box is None:
        return label
    if ignore_mid:
        label[value <= high_thr] = ignore_index
        if with_background:
            label[value <= low_thr] = 0
    inside = box_mask(img_box, tuple(label.shape[-2:]))
    return torch.where(inside, label, torch.full_like(label, ignore_index))


def cam_to_roi_mask(cam: Tensor, cls_label: Tensor, high_thr: float,
                    low_thr: float) -> Tensor:
    """Certainty map of ToCo's CTC crops (``cam_to_roi_mask2``).

    Returns:
        Tensor: ``[B, H, W]`` long: 0 where the best present-class CAM is
        ``<= low_thr`` (certain background), 2 where it is ``>= high_thr``
        (certain foreground), 1 in between (uncertain).
    """
    valid = cam * cls_label[:, :, None, None].to(cam.dtype)
    value = valid.max(dim=1)[0]
    roi = torch.ones_like(value, dtype=torch.long)
    roi[value <= low_thr] = 0
    roi[value >= high_thr] = 2
    return roi


def _refine_present(refine_fn, images: Tensor, maps: Tensor,
                    present: Tensor, size: Tuple[int, int],
                    ignore_index: int) -> Tensor:
    """Per image: softmax of its present classes' maps, ``refine_fn``,
    resize to ``size`` (bilinear), arg-max -> class index.

    One ``refine_fn`` call for the whole batch: each image's present
    classes come first (ascending), followed by all-zero maps up to the
    largest number of present classes (softmax with ``-inf``; a
    refinement that treats channels independently, as PAR does, keeps
    them 0, and they never win the arg-max). Images without a present
    class are all ``ignore_index``.

    Args:
        images (Tensor): ``[B, 3, h, w]``.
        maps (Tensor): ``[B, K, h, w]``.
        present (Tensor): ``[B, K]`` bool.

    Returns:
        Tensor: ``[B, *size]`` long.
    """
    b = maps.shape[0]
    out = maps.new_full((b, ) + tuple(size), ignore_index, dtype=torch.long)
    counts = present.sum(dim=1)
    idx = torch.nonzero(counts > 0)[:, 0]
    if idx.numel() == 0:
        return out
    num = int(counts.max())
    # present classes first, each group in ascending order
    keys = torch.sort((~present[idx]).to(torch.uint8), dim=1,
                      stable=True)[1][:, :num]
    pad = (torch.arange(num, device=keys.device)[None] >=
           counts[idx, None])[:, :, None, None]
    small = maps[idx[:, None], keys].masked_fill(pad, float('-inf'))
    refined = refine_fn(images[idx], small.softmax(dim=1))
    refined = F.interpolate(
        refined, size=size, mode='bilinear', align_corners=False)
    best = refined.masked_fill(pad, float('-inf')).argmax(dim=1)
    out[idx] = keys.gather(1, best.flatten(1)).view(-1, *size)
    return out


def _refine_without_background(refine_fn, images: Tensor, cams: Tensor,
                               cls_label: Tensor, ignore_index: int,
                               img_box: Optional[Tensor],
                               size: Tuple[int, int]) -> Tensor:
    small = tuple(images.shape[-2:])
    cams = F.interpolate(cams, size=small, mode='bilinear',
                         align_corners=False)
    out = _refine_present(refine_fn, images, cams, cls_label != 0, size,
                          ignore_index)
    if img_box is None:
        return out
    inside = box_mask(img_box, size)
    return torch.where(inside, out, torch.full_like(out, ignore_index))


def refine_cams_with_background(refine_fn: Callable[[Tensor, Tensor],
                                                    Tensor],
                                images: Tensor,
                                cams: Tensor,
                                cls_label: Tensor,
                                high_thr: float,
                                low_thr: float,
                                ignore_index: int = 255,
                                img_box: Optional[Tensor] = None,
                                down_scale: int = 2,
                                with_background: bool = True) -> Tensor:
    """PAR-refined pseudo-labels (ToCo's ``refine_cams_with_bkg_v2``).

    A constant background map is put in front of the CAMs twice, once at
    ``high_thr`` and once at ``low_thr``. For each image, the maps of the
    background and its present classes are resized to half the image size,
    soft-maxed over those classes, refined by ``refine_fn`` on the
    half-size image, resized back and arg-maxed (all images go through
    ``refine_fn`` together, padded with zero maps). A pixel is background
    where both refinements say background, ignored where only the high one
    does, and the high refinement's class elsewhere; outside ``img_box``
    it is ignored.

    Args:
        refine_fn (callable): ``(images [n, 3, h, w], probs [n, K, h, w])
            -> [n, K, h, w]``, each image and channel refined on its own
            (e.g. :func:`pixel_adaptive_refine`); called once (per
            threshold) with the images that have a present class, ``K``
            the largest number of present classes (background included),
            images with fewer padded with zero maps.
        images (Tensor): ``[B, 3, H, W]`` images scaled to ``[0, 1]``.
        cams (Tensor): ``[B, C, H, W]`` CAMs (ToCo passes ``cam *
            cls_label``).
        cls_label (Tensor): ``[B, C]`` multi-hot labels without background.
        high_thr, low_thr (float): Background scores.
        ignore_index (int): Label of ignored pixels.
        img_box (Tensor, optional): ``[B, 4]`` valid regions; None: all.
        down_scale (int): Refinement at ``1 / down_scale`` of the size.
        with_background (bool): False (no background class): one
            refinement of the present classes' soft-maxed CAMs, every pixel
            in the box labelled with its refined best class ``c``.

    Returns:
        Tensor: ``[B, H, W]`` long labels (0 background, ``c + 1`` class c;
        ``c`` without background).
    """
    b, _, h, w = images.shape
    small = (h // down_scale, w // down_scale)
    _images = F.interpolate(
        images, size=small, mode='bilinear', align_corners=False)
    if not with_background:
        return _refine_without_background(refine_fn, _images, cams,
                                          cls_label, ignore_index, img_box,
                                          (h, w))
    labels = torch.cat([cls_label.new_ones(b, 1), cls_label], dim=1)
    bkg = cams.new_ones(b, 1, h, w)
    cams_h = F.interpolate(
        torch.cat([bkg * high_thr, cams], dim=1), size=small,
        mode='bilinear', align_corners=False)
    cams_l = F.interpolate(
        torch.cat([bkg * low_thr, cams], dim=1), size=small,
        mode='bilinear', align_corners=False)
    present = labels != 0
    label_h = _refine_present(refine_fn, _images, cams_h, present, (h, w),
                              ignore_index)
    label_l = _refine_present(refine_fn, _images, cams_l, present, (h, w),
                              ignore_index)
    if img_box is not None:
        inside = box_mask(img_box, (h, w))
        label_h = torch.where(inside, label_h,
                              torch.full_like(label_h, ignore_index))
        label_l = torch.where(inside, label_l,
                              torch.full_like(label_l, ignore_index))
    refined = label_h.clone()
    refined[label_h == 0] = ignore_index
    refined[(label_h + label_l) == 0] = 0
    return refined
