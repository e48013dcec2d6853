"""PNG reports: overlay panels, per-class IoU bars, confusion matrices.

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no global
backend switch), so they work on headless machines and inside workers.
"""
import os
import os.path as osp
from typing import Dict, Mapping, Optional, Sequence, Union

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from wsss_mm.utils.fileio import save_atomic

IGNORE_COLOUR = (255, 255, 255)
IGNORE_INDEX = 255


def _save(fig: Figure, path: str, dpi: int = 100) -> str:
    d = osp.dirname(osp.abspath(path))
    os.makedirs(d, exist_ok=True)
    FigureCanvasAgg(fig)
    # a report is never half-written
    save_atomic(
        path, lambda f: fig.savefig(
            f, format='png', dpi=dpi, bbox_inches='tight', pad_inches=0.1))
    return path


def colorize(label: np.ndarray,
             palette: Sequence[Sequence[int]],
             ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Paint a class-id map with a palette.

    Args:
        label (np.ndarray): ``(H, W)`` class ids.
        palette (list): RGB colour per class.
        ignore_index (int): Id painted white.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB.
    """
    lut = np.zeros((256, 3), np.uint8)
    pal = np.asarray(palette, np.uint8).reshape(-1, 3)[:256]
    lut[:len(pal)] = pal
    lut[ignore_index] = IGNORE_COLOUR
    return lut[np.asarray(label).astype(np.int64).clip(0, 255)]


def _as_label(label, shape) -> np.ndarray:
    label = np.asarray(label)
    if hasattr(label, 'numpy'):
        label = label.numpy()
    label = np.squeeze(label)
    if label.shape != tuple(shape):
        raise ValueError(f'label map of shape {label.shape} does not match '
                         f'the image {tuple(shape)}')
    return label


def save_overlay_panel(path: str,
                       image: np.ndarray,
                       panels: Mapping[str, np.ndarray],
                       palette: Sequence[Sequence[int]],
                       class_names: Sequence[str],
                       alpha: float = 0.65,
                       title: Optional[str] = None) -> str:
    """Save the image and label maps side by side with a class legend.

    Each label map is blended over the image (``alpha`` of the class colour)
    so object outlines stay visible; ignored pixels (255) show white. The
    legend lists the classes present in any panel.

    Args:
        path (str): Output PNG.
        image (np.ndarray): ``(H, W, 3)`` uint8 RGB image.
        panels (dict): Panel title -> ``(H, W)`` class-id map, e.g.
            ``{'pseudo': p, 'prediction': q, 'ground truth': gt}``.
        palette (list): RGB colour per class.
        class_names (list[str]): Class names.
        alpha (float): Opacity of the label colours.
        title (str, optional): Figure title (e.g. the image name).

    Returns:
        str: ``path``.
    """
    image = np.asarray(image, np.uint8)
    h, w = image.shape[:2]
    maps = {k: _as_label(v, (h, w)) for k, v in panels.items()}
    n = 1 + len(maps)
    panel_w = 3.2
    panel_h = panel_w * h / max(w, 1)
    fig_h = panel_h + 0.9  # + title and legend rows (inches)
    fig = Figure(figsize=(panel_w * n, fig_h))
    axes = fig.subplots(1, n, squeeze=False)[0]
    axes[0].imshow(image)
    axes[0].set_title('image', fontsize=10)
    present = set()
    for ax, (name, label) in zip(axes[1:], maps.items()):
        colour = colorize(label, palette).astype(np.float32)
        blend = alpha * colour + (1 - alpha) * image
        ignore = label == IGNORE_INDEX
        blend[ignore] = colour[ignore]
        ax.imshow(blend.clip(0, 255).astype(np.uint8))
        ax.set_title(name, fontsize=10)
        present.update(int(i) for i in np.unique(label))
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    handles = []
    pal = np.asarray(palette, np.float32).reshape(-1, 3) / 255
    for i in sorted(present):
        if i == IGNORE_INDEX:
            continue
        name = class_names[i] if i < len(class_names) else str(i)
        handles.append(Patch(facecolor=pal[i], edgecolor='black',
                             label=f'{i} {name}'))
    if IGNORE_INDEX in present:
        handles.append(Patch(facecolor='white', edgecolor='black',
                             label='ignored'))
    if handles:
        fig.legend(handles=handles, loc='lower center',
                   ncol=min(len(handles), 6), fontsize=9, frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.5 / fig_h,
                        bottom=0.35 / fig_h, wspace=0.03)
    return _save(fig, path)


def save_iou_bar_chart(path: str,
                       per_class_iou: Union[np.ndarray, Dict[str,
                                                             np.ndarray]],
                       class_names: Sequence[str],
                       title: str = 'per-class IoU') -> str:
    """Save horizontal per-class IoU bars (grouped for several series).

    Args:
        path (str): Output PNG.
        per_class_iou (np.ndarray | dict): IoU per class as fractions in
            [0, 1] (NaN = class absent), or ``{series name: array}`` to
            compare e.g. pseudo-labels with and without CRF.
        class_names (list[str]): Class names.
        title (str): Figure title.

    Returns:
        str: ``path``.
    """
    series = per_class_iou if isinstance(per_class_iou, Mapping) else {
        'IoU': per_class_iou
    }
    series = {k: np.asarray(v, np.float64) for k, v in series.items()}
    n = len(class_names)
    fontsize = 9 if n <= 30 else 7
    fig = Figure(figsize=(8, max(3.0, 0.28 * n * max(1, len(series)) ** 0.5
                                 + 1.5)))
    ax = fig.subplots()
    y = np.arange(n)
    height = 0.8 / len(series)
    colours = ['tab:blue', 'tab:orange', 'tab:green', 'tab:red']
    for k, (name, iou) in enumerate(series.items()):
        values = np.nan_to_num(iou * 100, nan=0.0)
        offset = (k - (len(series) - 1) / 2) * height
        miou = np.nanmean(iou) * 100 if np.isfinite(iou).any() else np.nan
        ax.barh(y + offset, values, height=height,
                color=colours[k % len(colours)],
                label=f'{name} (mIoU {miou:.1f})')
        if len(series) == 1:
            for yi, v, raw in zip(y, values, iou):
                ax.text(v + 0.5, yi, 'n/a' if np.isnan(raw) else f'{v:.1f}',
                        va='center', fontsize=fontsize - 1)
            ax.axvline(miou, color='black', lw=1, ls='--')
    if len(series) > 1:
        absent = np.all([np.isnan(v) for v in series.values()], axis=0)
        for yi in y[absent]:
            ax.text(0.5, yi, 'n/a', va='center', fontsize=fontsize - 1)
    ax.set_yticks(y)
    ax.set_yticklabels(class_names, fontsize=fontsize)
    ax.set_ylim(n - 0.5, -0.5)  # first class on top, no empty margins
    ax.set_xlim(0, 105)
    ax.set_xlabel('IoU (%)')
    ax.set_title(title, pad=24)
    ax.grid(axis='x', alpha=0.3)
    # above the bars, never over them
    ax.legend(loc='lower center', bbox_to_anchor=(0.5, 1.0),
              ncol=len(series), fontsize=8, frameon=False)
    fig.tight_layout()
    return _save(fig, path)


def save_confusion_matrix(path: str,
                          cm: np.ndarray,
                          class_names: Sequence[str],
                          title: str = 'confusion matrix (row-normalised)'
                          ) -> str:
    """Save a row-normalised confusion matrix as a heat map.

    Rows are ground truth, columns predictions; with a ``(C, C + 1)``
    matrix the last column shows the share predicted ignored. Figure size
    and font scale with the number of classes (readable with 21 and 81);
    cell values are written up to 25 classes.

    Args:
        path (str): Output PNG.
        cm (np.ndarray): ``(C, C)`` or ``(C, C + 1)`` counts.
        class_names (list[str]): Class names.
        title (str): Figure title.

    Returns:
        str: ``path``.
    """
    cm = np.asarray(cm, np.float64)
    n = cm.shape[0]
    cols = list(class_names) + (['ignored'] if cm.shape[1] > n else [])
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    size = max(6.0, 0.2 * n + 3)
    # about half of a row's height (points) in the axes
    fontsize = min(10.0, 0.5 * size * 72 * 0.8 / n)
    dpi = 100 if n <= 30 else 120
    fig = Figure(figsize=(size * cm.shape[1] / n + 1.0, size))
    ax = fig.subplots()
    # square-root colour scale: confusions of a few percent stay visible
    im = ax.imshow(norm, cmap='Blues', norm=PowerNorm(0.5, vmin=0, vmax=1),
                   aspect='auto', interpolation='nearest')
    ax.set_xticks(np.arange(len(cols)))
    ax.set_xticklabels(cols, rotation=90, fontsize=fontsize)
    ax.set_yticks(np.arange(n))
    ax.set_yticklabels(class_names, fontsize=fontsize)
    ax.set_xlabel('prediction')
    ax.set_ylabel('ground truth')
    ax.set_title(title)
    if n <= 25:
        for i in range(n):
            for j in range(cm.shape[1]):
                v = norm[i, j]
                if v >= 0.005:
                    ax.text(j, i, f'{v * 100:.0f}', ha='center',
                            va='center', fontsize=fontsize - 1,
                            color='white' if v > 0.3 else 'black')
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    fig.tight_layout()
    return _save(fig, path, dpi=dpi)
