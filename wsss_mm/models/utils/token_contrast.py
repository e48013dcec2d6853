"""ToCo's token contrast: patch token contrast (PTC) and class token
contrast (CTC), pure functions (rulixiang/ToCo ``model/losses.py`` and
``utils/camutils.py``)."""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'labels_to_affinity', 'token_contrast_loss', 'crop_from_uncertain',
    'class_token_contrast_loss', 'balanced_cross_entropy',
    'random_resized_views', 'random_hflip'
]


def labels_to_affinity(token_labels: Tensor,
                       ignore_index: int = 255) -> Tensor:
    """Pairwise affinity targets (ToCo's ``label_to_aff_mask``).

    Args:
        token_labels (Tensor): ``[B, N]`` token labels.
        ignore_index (int): Label of ignored tokens.

    Returns:
        Tensor: ``[B, N, N]`` long: 1 same label, 0 different,
        ``ignore_index`` where either token is ignored and on the diagonal.
    """
    aff = (token_labels[:, :, None] == token_labels[:, None, :]).long()
    ignored = token_labels == ignore_index
    aff[ignored[:, :, None].expand_as(aff)] = ignore_index
    aff[ignored[:, None, :].expand_as(aff)] = ignore_index
    n = token_labels.shape[1]
    idx = torch.arange(n, device=token_labels.device)
    aff[:, idx, idx] = ignore_index
    return aff


def token_contrast_loss(tokens: Tensor,
                        token_labels: Tensor,
                        ignore_index: int = 255) -> Tensor:
    """Patch token contrast (ToCo's ``get_masked_ptc_loss``).

    ``cos = |normalize(f_i) . normalize(f_j)|`` for every pair of tokens of
    an image; with the affinity targets of :func:`labels_to_affinity`
    summed over the whole batch::

        L = 0.5 * (1 - sum_pos cos / (N_pos + 1))
            + 0.5 * sum_neg cos / (N_neg + 1)

    Args:
        tokens (Tensor): ``[B, N, D]`` final patch tokens.
        token_labels (Tensor): ``[B, N]`` labels (from the aux CAM).
        ignore_index (int): Label of ignored tokens.

    Returns:
        Tensor: Scalar loss.
    """
    aff = labels_to_affinity(token_labels, ignore_index)
    x = F.normalize(tokens, p=2, dim=-1, eps=1e-8)
    cos = torch.matmul(x, x.transpose(1, 2)).abs()
    pos = (aff == 1).to(cos.dtype)
    neg = (aff == 0).to(cos.dtype)
    return 0.5 * (1 - (pos * cos).sum() / (pos.sum() + 1)) + \
        0.5 * (neg * cos).sum() / (neg.sum() + 1)


def crop_from_uncertain(images: Tensor,
                        roi_mask: Tensor,
                        crop_num: int = 8,
                        crop_size: int = 96,
                        neg_ratio: float = 0.2,
                        generator: Optional[torch.Generator] = None
                        ) -> Tuple[List[Tensor], Tensor]:
    """Local crops for CTC (ToCo's ``crop_from_roi_neg``).

    Crop corners are drawn (without replacement) among the positions of
    ``roi_mask[margin:H - margin, margin:W - margin]`` (``margin =
    crop_size // 2``) that are not certain foreground (``<= 1``); with fewer
    such positions than ``crop_num`` any position is used. The crop at
    corner ``(y, x)`` is ``images[:, y:y + crop_size, x:x + crop_size]``. A
    crop is a negative (flag 0) when the sum of its ``roi_mask`` values
    (0 background, 1 uncertain, 2 foreground) over its area is at most
    ``neg_ratio``; the two global views (flags 0 and 1) are positives.

    Args:
        images (Tensor): ``[B, C, H, W]`` source images of the crops.
        roi_mask (Tensor): ``[B, H, W]`` from :func:`cam_to_roi_mask`.
        crop_num (int): Local crops per image.
        crop_size (int): Crop side in pixels (``H, W >= crop_size``).
        neg_ratio (float): Negative-crop threshold.
        generator (torch.Generator, optional): Random source.

    Returns:
        tuple: ``crops`` (``crop_num`` tensors ``[B, C, s, s]``) and
        ``flags`` ``[B, crop_num + 2]`` (1 positive, 0 negative).
    """
    b, c, h, w = images.shape
    if h < crop_size or w < crop_size:
        raise ValueError(f'local crops of {crop_size} px need images at '
                         f'least that large, got {h}x{w}')
    margin = crop_size // 2
    crops = images.new_zeros(b, crop_num, c, crop_size, crop_size)
    flags = images.new_ones(b, crop_num + 2)
    area = crop_size * crop_size
    for i in range(b):
        inner = roi_mask[i, margin:h - margin, margin:w - margin]
        index = (inner <= 1).nonzero()
        if index.shape[0] < crop_num:
            index = (inner >= 0).nonzero()
        perm = torch.randperm(
            index.shape[0], generator=generator,
            device=generator.device if generator is not None else 'cpu')
        chosen = index[perm[:crop_num].to(index.device)]
        for j in range(chosen.shape[0]):
            y, x = int(chosen[j, 0]), int(chosen[j, 1])
            crops[i, j] = images[i, :, y:y + crop_size, x:x + crop_size]
            window = roi_mask[i, y:y + crop_size, x:x + crop_size]
            if float(window.sum()) / area <= neg_ratio:
                flags[i, j + 2] = 0
    return [crops[:, j] for j in range(crop_num)], flags


def class_token_contrast_loss(student: Tensor,
                              teacher: Tensor,
                              flags: Tensor,
                              temperature: float = 0.5) -> Tensor:
    """Class token contrast (ToCo's ``CTCLoss_neg``).

    With ``l_tj = t_t . s_j / temperature`` between teacher view ``t`` (2
    global views) and student view ``j`` (the 2 global views then the local
    crops), per image::

        L = sum_t [ sum_{j pos} -log(e^l_tj / (e^l_tj + sum_neg e^l_tn
                                                + 1e-4))
                    - log(1 / (1 + sum_neg e^l_tn + 1e-4)) ]
            / 2 / (N_pos + 1e-4)

    averaged over the batch (the second log term is added once per teacher
    view, as ToCo's ``for ... else`` does). Computed in log space
    (log-sum-exp), so large logits do not overflow.

    Args:
        student (Tensor): ``[V * B, D]`` projected class tokens, view-major
            (``V = flags.shape[1]``).
        teacher (Tensor): ``[2 * B, D]`` momentum-projected class tokens of
            the 2 global views, view-major.
        flags (Tensor): ``[B, V]`` 1 positive, 0 negative.
        temperature (float): Softmax temperature.

    Returns:
        Tensor: Scalar loss.
    """
    b, v = flags.shape
    s = student.reshape(v, b, -1).permute(1, 0, 2)
    t = teacher.reshape(2, b, -1).permute(1, 0, 2)
    logits = torch.matmul(t, s.transpose(1, 2)) / temperature  # [B, 2, V]
    log_eps = torch.log(logits.new_tensor(1e-4))
    total = logits.new_zeros(())
    for i in range(b):
        neg = logits[i][:, flags[i] == 0]  # [2, n_neg]
        pos_idx = torch.nonzero(flags[i])[:, 0]
        eps = log_eps.expand(2, 1)
        loss = logits.new_zeros(2)
        for j in pos_idx:
            pos = logits[i, :, j:j + 1]
            denom = torch.logsumexp(torch.cat([pos, neg, eps], dim=1), dim=1)
            loss = loss + denom - pos[:, 0]
        zero = logits.new_zeros(2, 1)
        loss = loss + torch.logsumexp(torch.cat([zero, neg, eps], dim=1),
                                      dim=1)
        total = total + loss.sum() / 2 / (pos_idx.shape[0] + 1e-4)
    return total / b


def balanced_cross_entropy(logits: Tensor,
                           labels: Tensor,
                           ignore_index: int = 255,
                           background_index: Optional[int] = 0) -> Tensor:
    """ToCo's segmentation loss (``get_seg_loss``): the mean of the cross
    entropy over background pixels only and over foreground pixels only.

    A part without any pixel contributes 0 (where ToCo's
    ``F.cross_entropy`` of all-ignored targets would give NaN). With
    ``background_index=None`` (no background class) it is the plain cross
    entropy.

    Args:
        logits (Tensor): ``[B, K, H, W]``.
        labels (Tensor): ``[B, H, W]`` long.
        ignore_index (int): Ignored label.
        background_index (int, optional): The background label.

    Returns:
        Tensor: Scalar loss.
    """
    def ce(target: Tensor) -> Tensor:
        valid = target != ignore_index
        if not bool(valid.any()):
            return logits.sum() * 0
        return F.cross_entropy(logits, target, ignore_index=ignore_index)

    if background_index is None:
        return ce(labels)
    bg = labels.masked_fill(labels != background_index, ignore_index)
    fg = labels.masked_fill(labels == background_index, ignore_index)
    return 0.5 * (ce(bg) + ce(fg))


def random_hflip(images: Tensor,
                 prob: float = 0.5,
                 generator: Optional[torch.Generator] = None) -> Tensor:
    """Flip each image of ``[B, C, H, W]`` horizontally with ``prob``."""
    flip = torch.rand(images.shape[0], generator=generator) < prob
    flip = flip.to(images.device)[:, None, None, None]
    return torch.where(flip, images.flip(-1), images)


def random_resized_views(images: Tensor,
                         scale: Tuple[float, float] = (0.4, 1.0),
                         ratio: Tuple[float, float] = (3 / 4, 4 / 3),
                         flip_prob: float = 0.5,
                         generator: Optional[torch.Generator] = None
                         ) -> Tensor:
    """A random resized crop of every image, resized back to its size
    (bilinear) and flipped with ``flip_prob`` (torchvision's
    ``RandomResizedCrop`` sampling: area fraction in ``scale``, log-uniform
    aspect ``ratio``, 10 tries, else the whole image).

    Args:
        images (Tensor): ``[B, C, H, W]``.
        scale, ratio (tuple): Area-fraction and aspect ranges.
        flip_prob (float): Horizontal flip probability.
        generator (torch.Generator, optional): Random source (CPU).

    Returns:
        Tensor: ``[B, C, H, W]`` views.
    """
    b, _, h, w = images.shape
    log_r = torch.log(torch.tensor(ratio))
    views = []
    for i in range(b):
        y0, x0, ch, cw = 0, 0, h, w
        for _ in range(10):
            u = torch.rand(2, generator=generator)
            area = h * w * (scale[0] + (scale[1] - scale[0]) * float(u[0]))
            r = float(torch.exp(log_r[0] + (log_r[1] - log_r[0]) * u[1]))
            tw = int(round((area * r)**0.5))
            th = int(round((area / r)**0.5))
            if 0 < tw <= w and 0 < th <= h:
                y0 = int(torch.randint(0, h - th + 1, (1, ),
                                       generator=generator))
                x0 = int(torch.randint(0, w - tw + 1, (1, ),
                                       generator=generator))
                ch, cw = th, tw
                break
        crop = images[i:i + 1, :, y0:y0 + ch, x0:x0 + cw]
        views.append(
            F.interpolate(crop, size=(h, w), mode='bilinear',
                          align_corners=False))
    return random_hflip(torch.cat(views), flip_prob, generator)
