"""Tile cropping for tile datasets (CamVid tiles)."""
from mmcv.transforms import BaseTransform

from wsss_mm.registry import TRANSFORMS


@TRANSFORMS.register_module()
class CropTile(BaseTransform):
    """Crop the image and every segmentation field to ``tile_box``.

    Required keys: ``img``, ``tile_box = (x0, y0, x1, y1)`` (pixels, end
    exclusive), optionally ``seg_fields``. Modified keys: ``img``, every key
    in ``seg_fields``, ``img_shape`` and ``ori_shape`` (set to the tile
    size, so that predictions are evaluated at tile size).

    Place it right after ``LoadWSSSImageFromFile`` (and after
    ``LoadAnnotations`` in test pipelines), before any resize.
    """

    def transform(self, results: dict) -> dict:
        """Crop ``results`` to its tile."""
        if 'tile_box' not in results:
            raise KeyError(
                f'CropTile: results of {results.get("img_path")} have no '
                '"tile_box"; use it with a tile dataset such as '
                'CamVidTilesDataset')
        x0, y0, x1, y1 = (int(v) for v in results['tile_box'])
        img = results['img']
        h, w = img.shape[:2]
        if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
            raise ValueError(
                f'CropTile: tile_box {(x0, y0, x1, y1)} is outside image '
                f'{results.get("img_path")} of size {w}x{h}')
        results['img'] = img[y0:y1, x0:x1]
        for key in results.get('seg_fields', []):
            seg = results[key]
            if seg.shape[:2] != (h, w):
                raise ValueError(
                    f'CropTile: {key} of {results.get("img_path")} has shape '
                    f'{seg.shape[:2]}, the image {(h, w)}')
            results[key] = seg[y0:y1, x0:x1]
        results['img_shape'] = (y1 - y0, x1 - x0)
        results['ori_shape'] = (y1 - y0, x1 - x0)
        return results
