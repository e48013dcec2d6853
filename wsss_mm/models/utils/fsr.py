"""Pure functions of FSR (feature self-reinforcement).

Masking of uncertain patch blocks, the self-distillation losses and the
schedules FSR's public reference code uses (Jessie459/feature-self-
reinforcement; DESIGN.md, section FSR). Registered classes
(:class:`~wsss_mm.models.losses.FSRLoss`, the FSR segmentor and the teacher
hook) are thin wrappers around these.
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def is_random_mask_phase(cur_iter: int,
                         max_iters: int,
                         random_ratio: float = 0.2) -> bool:
    """Whether iteration ``cur_iter`` (0-based) masks at random.

    FSR masks random blocks while ``cur_iter + 1 <= int(max_iters *
    random_ratio)`` (the first fifth of training by default) and uncertain
    blocks first afterwards.

    Args:
        cur_iter (int): The 0-based training iteration.
        max_iters (int): The total number of training iterations.
        random_ratio (float): The fraction of training with random masking.
            Defaults to 0.2.

    Returns:
        bool: True in the random phase.
    """
    return cur_iter + 1 <= int(max_iters * random_ratio)


def uncertain_block_mask(aux_cam: Optional[Tensor],
                         cls_label: Optional[Tensor],
                         grid_size: Tuple[int, int],
                         patch_size: int = 16,
                         block_size: int = 64,
                         mask_ratio: float = 0.4,
                         low_thr: float = 0.2,
                         high_thr: float = 0.7,
                         random_phase: bool = False,
                         batch_size: Optional[int] = None,
                         generator: Optional[torch.Generator] = None,
                         device: Optional[torch.device] = None) -> Tensor:
    """FSR's block mask over the patch grid, uncertain blocks first.

    The patch grid is divided into blocks of ``block_size`` pixels
    (``block_size // patch_size`` patches a side; the last row/column of
    blocks may be cut by the grid border). Every block draws a uniform noise
    in [0, 1); outside the random phase, a block whose (nearest-resized)
    uncertainty is set gets ``+ 1``, where a location is uncertain when
    ``low_thr < max_c(aux_cam * cls_label) < high_thr``. The
    ``ceil(num_blocks * mask_ratio)`` blocks with the largest noise are
    masked, so uncertain blocks are masked first and the rest of the budget
    is filled at random.

    Args:
        aux_cam (Tensor | None): ``[B, C, h, w]`` CAM in [0, 1] (any
            resolution; FSR uses the aux CAM of the view to mask). May be
            None in the random phase.
        cls_label (Tensor | None): ``[B, C]`` multi-hot image labels (no
            background).
        grid_size (tuple[int, int]): The patch grid ``(Hp, Wp)``.
        patch_size (int): Patch size in pixels. Defaults to 16.
        block_size (int): Block size in pixels. Defaults to 64.
        mask_ratio (float): Fraction of blocks masked. Defaults to 0.4.
        low_thr (float): Lower uncertainty threshold. Defaults to 0.2.
        high_thr (float): Upper uncertainty threshold. Defaults to 0.7.
        random_phase (bool): Mask at random (ignore the CAM).
        batch_size (int, optional): Needed when ``aux_cam`` is None.
        generator (torch.Generator, optional): Generator of the noise (a CPU
            generator; the noise is moved to ``device`` afterwards).
        device (torch.device, optional): Device of the returned mask;
            defaults to the CAM's.

    Returns:
        Tensor: ``[B, Hp * Wp]`` bool, True for masked patches.
    """
    if block_size % patch_size != 0:
        raise ValueError(f'block_size ({block_size}) must be a multiple of '
                         f'patch_size ({patch_size})')
    if not 0.0 <= mask_ratio <= 1.0:
        raise ValueError(f'mask_ratio must be in [0, 1], got {mask_ratio}')
    hp, wp = grid_size
    scale = block_size // patch_size
    bh, bw = math.ceil(hp / scale), math.ceil(wp / scale)
    num_blocks = bh * bw
    if aux_cam is not None:
        batch_size = aux_cam.shape[0]
        device = aux_cam.device if device is None else device
    if batch_size is None:
        raise ValueError('batch_size is required when aux_cam is None')
    noise = torch.rand(batch_size, num_blocks, generator=generator)
    noise = noise.to(device if device is not None else 'cpu')
    if not random_phase:
        if aux_cam is None or cls_label is None:
            raise ValueError('uncertain masking needs aux_cam and cls_label')
        cam = aux_cam * cls_label[:, :, None, None].to(aux_cam.dtype)
        cam = cam.max(dim=1)[0]
        roi = (cam > low_thr) & (cam < high_thr)
        roi = F.interpolate(
            roi[:, None].float(), size=(bh, bw), mode='nearest')
        noise = noise + roi.reshape(batch_size, -1).to(noise)
    num_masked = int(math.ceil(num_blocks * mask_ratio))
    block_mask = torch.zeros_like(noise, dtype=torch.bool)
    if num_masked > 0:
        idx = noise.topk(num_masked, dim=1).indices
        block_mask.scatter_(1, idx, True)
    block_mask = block_mask.reshape(batch_size, bh, bw)
    mask = block_mask.repeat_interleave(scale, dim=1).repeat_interleave(
        scale, dim=2)[:, :hp, :wp]
    return mask.reshape(batch_size, hp * wp)


def fsr_teacher_probs(teacher_logits: Tensor, center: Tensor,
                      temperature: float) -> Tensor:
    """Centred, sharpened teacher distribution.

    ``softmax((t - center) / temperature)`` over the last dimension,
    computed without gradient.
    """
    with torch.no_grad():
        return F.softmax(
            (teacher_logits.detach() - center) / temperature, dim=-1)


def fsr_class_loss(student_logits: Tensor,
                   teacher_logits: Tensor,
                   center: Tensor,
                   teacher_temp: float,
                   student_temp: float = 0.1) -> Tensor:
    """FSR's certain (aggregated class token) loss.

    ``mean_b sum_k -p_t log softmax(s / student_temp)`` with
    ``p_t = softmax((t - center) / teacher_temp)``.

    Args:
        student_logits (Tensor): ``[B, K]`` projected student tokens
            (FSR: view 2, masked).
        teacher_logits (Tensor): ``[B, K]`` projected teacher tokens
            (FSR: view 1).
        center (Tensor): ``[K]`` or ``[1, K]`` class centre.
        teacher_temp (float): Teacher temperature.
        student_temp (float): Student temperature. Defaults to 0.1.

    Returns:
        Tensor: The scalar loss.
    """
    t = fsr_teacher_probs(teacher_logits, center, teacher_temp)
    log_s = F.log_softmax(student_logits / student_temp, dim=-1)
    return torch.sum(-t * log_s, dim=-1).mean()


def fsr_patch_loss(student_logits: Tensor,
                   teacher_logits: Tensor,
                   mask: Tensor,
                   center: Tensor,
                   teacher_temp: float,
                   student_temp: float = 0.1) -> Tensor:
    """FSR's uncertain (masked patch token) loss.

    Per image, the cross-entropy of every masked patch between the teacher
    and the student distributions, summed over masked positions and divided
    by their count (at least 1); averaged over the batch.

    Args:
        student_logits (Tensor): ``[B, N, K]`` projected student patch
            tokens of the masked view.
        teacher_logits (Tensor): ``[B, N, K]`` projected teacher patch tokens
            of the same view, unmasked.
        mask (Tensor): ``[B, N]`` bool/float, 1 for masked patches.
        center (Tensor): ``[K]`` or ``[1, 1, K]`` patch centre.
        teacher_temp (float): Teacher temperature.
        student_temp (float): Student temperature. Defaults to 0.1.

    Returns:
        Tensor: The scalar loss.
    """
    t = fsr_teacher_probs(teacher_logits, center, teacher_temp)
    log_s = F.log_softmax(student_logits / student_temp, dim=-1)
    per_patch = torch.sum(-t * log_s, dim=-1)
    mask = mask.to(per_patch.dtype)
    per_image = (per_patch * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
    return per_image.mean()


def ema_center(center: Tensor, batch_center: Tensor,
               momentum: float = 0.9) -> Tensor:
    """``center * momentum + batch_center * (1 - momentum)``."""
    return center * momentum + batch_center * (1.0 - momentum)


def teacher_temperature(cur_iter: int,
                        max_iters: int,
                        warmup_temp: float = 0.04,
                        temp: float = 0.07,
                        warmup_ratio: float = 0.125) -> float:
    """FSR's teacher temperature at ``cur_iter`` (0-based).

    Linear from ``warmup_temp`` to ``temp`` over the first
    ``int(max_iters * warmup_ratio)`` iterations (``numpy.linspace``
    endpoints: the last warm-up iteration already has ``temp``), then
    constant.
    """
    warmup = int(max_iters * warmup_ratio)
    if cur_iter >= warmup:
        return float(temp)
    if warmup == 1:
        return float(warmup_temp)
    return float(warmup_temp + (temp - warmup_temp) * cur_iter /
                 (warmup - 1))


def cosine_momentum(cur_iter: int,
                    total_iters: int,
                    base: float = 0.9995,
                    final: float = 1.0) -> float:
    """Teacher EMA momentum at ``cur_iter`` (0-based), cosine schedule.

    ``final + 0.5 (base - final) (1 + cos(pi cur_iter / total_iters))``
    for ``cur_iter < total_iters`` (DINO's schedule: ``base`` at 0, close to
    ``final`` at the end), ``final`` afterwards. The momentum weighs the
    teacher: ``teacher = m teacher + (1 - m) student``.
    """
    if cur_iter >= total_iters:
        return float(final)
    return float(final + 0.5 * (base - final) *
                 (1.0 + math.cos(math.pi * cur_iter / total_iters)))
