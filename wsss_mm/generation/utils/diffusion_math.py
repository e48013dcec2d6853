"""Pure functions of the diffusion generator and the online filter.

Kept free of model objects so that each has a known-answer unit test.
"""
from typing import Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor


def canny_condition(image: np.ndarray,
                    low_threshold: int = 100,
                    high_threshold: int = 200) -> np.ndarray:
    """Canny edges of an RGB image as a 3-channel ControlNet condition.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 RGB image.
        low_threshold (int): Hysteresis low threshold of ``cv2.Canny``.
        high_threshold (int): Hysteresis high threshold.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8, 255 on edges and 0 elsewhere (the
        layout the Canny ControlNets were trained on).
    """
    import cv2
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError('canny_condition expects an (H, W, 3) uint8 RGB '
                         f'image, got {image.shape} {image.dtype}')
    if not 0 <= low_threshold <= high_threshold:
        raise ValueError('Canny thresholds must satisfy 0 <= low <= high, '
                         f'got {low_threshold}, {high_threshold}')
    edges = cv2.Canny(image, low_threshold, high_threshold)
    return np.repeat(edges[:, :, None], 3, axis=2)


def diffusion_size(size: Union[int, Sequence[int]],
                   multiple: int = 8) -> Tuple[int, int]:
    """``(height, width)`` of the generated image, each a multiple of
    ``multiple`` (the VAE factor): an int is a square side.

    Raises:
        ValueError: a side is not a positive multiple of ``multiple``.
    """
    if isinstance(size, int):
        size = (size, size)
    h, w = (int(s) for s in size)
    for s in (h, w):
        if s <= 0 or s % multiple:
            raise ValueError(f'generation resolution {size} must be '
                             f'positive multiples of {multiple}')
    return h, w


def predict_x0(model_output: Tensor,
               timestep: Union[int, Tensor],
               sample: Tensor,
               alphas_cumprod: Tensor,
               prediction_type: str = 'epsilon') -> Tensor:
    """The clean sample a DDPM-family model predicts from ``x_t``.

    With ``a = alphas_cumprod[t]``:
    ``epsilon``: ``x0 = (x_t - sqrt(1 - a) eps) / sqrt(a)``;
    ``v_prediction``: ``x0 = sqrt(a) x_t - sqrt(1 - a) v``;
    ``sample``: the output is ``x0``.

    Args:
        model_output (Tensor): UNet output (after guidance).
        timestep (int | Tensor): Discrete timestep ``t``.
        sample (Tensor): ``x_t``.
        alphas_cumprod (Tensor): The scheduler's cumulative alphas.
        prediction_type (str): The scheduler's ``prediction_type``.

    Returns:
        Tensor: ``x0`` in the dtype of ``sample``.
    """
    t = int(timestep)
    a = alphas_cumprod[t].to(torch.float32)
    x, out = sample.to(torch.float32), model_output.to(torch.float32)
    if prediction_type == 'epsilon':
        x0 = (x - (1 - a).sqrt() * out) / a.sqrt()
    elif prediction_type == 'v_prediction':
        x0 = a.sqrt() * x - (1 - a).sqrt() * out
    elif prediction_type == 'sample':
        x0 = out
    else:
        raise ValueError(f'unknown prediction_type {prediction_type!r}')
    return x0.to(sample.dtype)


def label_score(class_scores: Union[np.ndarray, Sequence[float]],
                labels: Sequence[int]) -> float:
    """How well an image shows all of ``labels``: the lowest score among
    them (an image passes a threshold only if every label does).

    Args:
        class_scores (array): Per-class image scores in [0, 1].
        labels (Sequence[int]): Class ids that must be present.

    Returns:
        float: ``min(class_scores[labels])``.

    Raises:
        ValueError: no labels, or a label out of range.
    """
    scores = np.asarray(class_scores, dtype=np.float64).reshape(-1)
    labels = [int(c) for c in labels]
    if not labels:
        raise ValueError('label_score needs at least one label')
    bad = [c for c in labels if not 0 <= c < scores.size]
    if bad:
        raise ValueError(f'label(s) {bad} out of range for {scores.size} '
                         'class scores')
    return float(scores[labels].min())


def check_step(num_steps: int, at: float) -> int:
    """Index of the denoising step after which the early check runs.

    Args:
        num_steps (int): Denoising steps.
        at (float): Fraction of the steps in (0, 1).

    Returns:
        int: ``round(at * num_steps) - 1`` clipped to
        ``[0, num_steps - 2]`` (never the last step: a check there saves
        nothing).
    """
    if not 0 < at < 1:
        raise ValueError(f'early check position must be in (0, 1), got {at}')
    if num_steps < 2:
        raise ValueError('an early check needs at least 2 steps')
    return int(min(max(round(at * num_steps) - 1, 0), num_steps - 2))
