"""CamVid cut into tiles with tile-level image labels (no background)."""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

from wsss_mm.registry import DATASETS
from .base_wsss import BaseWSSSDataset
from .labels import labels_from_mask, read_index_mask, tile_labels

CAMVID_CLASSES = ('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree',
                  'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist')

CAMVID_PALETTE = [[128, 128, 128], [128, 0, 0], [192, 192,
                                                 128], [128, 64, 128],
                  [60, 40, 222], [128, 128, 0], [192, 128, 128], [64, 64, 128],
                  [64, 0, 128], [64, 64, 0], [0, 128, 192]]


def tile_boxes(width: int, height: int,
               grid: Tuple[int, int]) -> List[Tuple[int, int, int, int]]:
    """Boxes ``(x0, y0, x1, y1)`` of a ``cols x rows`` grid, row-major.

    Tile edges are at ``round(k * size / n)`` so that the tiles cover the
    image exactly even when the size is not a multiple of the grid.
    """
    cols, rows = grid
    if cols < 1 or rows < 1:
        raise ValueError(f'grid must be positive (cols, rows), got {grid}')
    xs = [int(round(k * width / cols)) for k in range(cols + 1)]
    ys = [int(round(k * height / rows)) for k in range(rows + 1)]
    return [(xs[c], ys[r], xs[c + 1], ys[r + 1]) for r in range(rows)
            for c in range(cols)]


@DATASETS.register_module()
class CamVidTilesDataset(BaseWSSSDataset):
    """CamVid tiles for the WSSS development benchmark.

    Each image of the split is cut into a ``grid = (cols, rows)`` grid of
    tiles (4x3 of a 480x360 image gives 120x120 tiles; the tile size is
    computed from each mask's actual size). A tile's ``img_labels`` are the
    classes covering at least ``min_label_fraction`` of its labelled
    (non-255) pixels. 11 classes, no background (``with_background=False``).
    Tiles without labelled pixels are dropped (their number is logged);
    every other tile has at least one label, so no tile is empty. Tile
    labels are always computed from the masks (a few seconds; no label
    file or cache is used).

    Layout::

        camvid/
          train.txt  val.txt                 image names
          images/{split}/NAME.jpg
          labels/{split}/NAME.png            uint8 ids 0..10, 255 void

    Each data info has ``tile_box = (x0, y0, x1, y1)``, ``tile_index`` and
    ``img_name`` (``NAME_rRcC``); pipelines put
    :class:`~wsss_mm.datasets.transforms.CropTile` right after loading the
    image (and after ``LoadAnnotations`` in test pipelines).

    The default config uses ``data_root='data/camvid'``; point it at
    another copy with ``--cfg-options
    train_dataloader.dataset.data_root=PATH
    val_dataloader.dataset.data_root=PATH
    test_dataloader.dataset.data_root=PATH``.

    Args:
        data_root (str): CamVid root.
        split (str): ``'train'`` or ``'val'`` (any ``{split}.txt``).
        grid (tuple[int, int]): ``(cols, rows)``. Defaults to (4, 3).
        min_label_fraction (float): Defaults to 0.01.
        **kwargs: See :class:`BaseWSSSDataset`.
    """
    METAINFO = dict(
        classes=CAMVID_CLASSES, palette=CAMVID_PALETTE, with_background=False)
    with_background = False
    empty_labels = 'drop'
    converter_hint = ('CamVid needs {split}.txt, images/{split}/ and '
                      'labels/{split}/ (see ../shared/data/README.md)')

    def __init__(self,
                 data_root: Optional[str] = None,
                 split: str = 'train',
                 grid: Sequence[int] = (4, 3),
                 min_label_fraction: float = 0.01,
                 ann_file: Optional[str] = None,
                 data_prefix: Optional[dict] = None,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        if len(grid) != 2:
            raise ValueError(f'grid must be (cols, rows), got {grid}')
        self.split = split
        self.grid = (int(grid[0]), int(grid[1]))
        self.min_label_fraction = float(min_label_fraction)
        self._class_pixel_counts: Optional[np.ndarray] = None
        if ann_file is None:
            ann_file = f'{split}.txt'
        if data_prefix is None:
            data_prefix = dict(
                img_path=f'images/{split}', seg_map_path=f'labels/{split}')
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            data_prefix=data_prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """One data info per tile with labelled pixels."""
        names = self.read_names()
        img_dir = self.data_prefix['img_path']
        ann_dir = self.data_prefix['seg_map_path']
        img_paths = [osp.join(img_dir, n + self.img_suffix) for n in names]
        self._check_images_exist(img_paths)
        totals = np.zeros(self.num_classes, dtype=np.int64)
        data_list = []
        dropped = 0
        for name, img_path in zip(names, img_paths):
            seg_path = osp.join(ann_dir, name + self.seg_map_suffix)
            mask = read_index_mask(seg_path)
            # raises on ids out of range, naming the mask
            labels_from_mask(
                mask,
                self.num_classes,
                with_background=False,
                ignore_index=self.ignore_index,
                path=seg_path)
            totals += np.bincount(
                mask.ravel(), minlength=256)[:self.num_classes]
            h, w = mask.shape
            for k, box in enumerate(tile_boxes(w, h, self.grid)):
                x0, y0, x1, y1 = box
                ids, labelled = tile_labels(mask[y0:y1,
                                                 x0:x1], self.num_classes,
                                            self.min_label_fraction,
                                            self.ignore_index)
                if labelled == 0:
                    dropped += 1
                    continue
                r, c = divmod(k, self.grid[0])
                info = dict(
                    img_path=img_path,
                    seg_map_path=seg_path,
                    img_name=f'{name}_r{r}c{c}',
                    tile_box=box,
                    tile_index=k,
                    label_map=self.label_map,
                    reduce_zero_label=self.reduce_zero_label,
                    seg_fields=[])
                info.update(self._label_fields(ids))
                data_list.append(info)
        self._class_pixel_counts = totals
        print_log(
            f'CamVidTilesDataset({self.split}): {len(names)} images -> '
            f'{len(data_list)} tiles; dropped {dropped} tiles without '
            'labelled pixels',
            logger='current')
        return data_list

    def class_pixel_counts(self) -> np.ndarray:
        """Labelled pixels per class over the whole split.

        Returns:
            np.ndarray: ``(num_classes,)`` int64 totals (void excluded).
        """
        if self._class_pixel_counts is None:
            self.load_data_list()  # computes the totals
        return self._class_pixel_counts.copy()
