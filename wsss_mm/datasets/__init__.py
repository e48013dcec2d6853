"""Datasets of wsss_mm (registered in ``wsss_mm.registry.DATASETS``)."""
from .base_wsss import (BaseWSSSDataset, default_cache_dir, labels_from_mask,
                        read_index_mask)
from .camvid_tiles import (CAMVID_CLASSES, CAMVID_PALETTE, CamVidTilesDataset,
                           tile_boxes, tile_labels)
from .coco import (COCO_CLASSES, COCO_PALETTE, COCOWSSSDataset,
                   image_labels_from_instances, read_classes_file)
from .demo_shapes import (DEMO_CLASSES, DemoShapesDataset,
                          demo_dataset_complete, generate_demo_dataset,
                          make_demo_sample)
from .diffsyn import DiffSynDataset
from .image_folder import ImageFolderDataset
from .imagenets import (ImageNetSDataset, LoadImageNetSAnnotations,
                        decode_imagenets_mask, encode_imagenets_mask)
from .synthetic import SyntheticWSSSDataset
from .transforms import (CropTile, ImageLoadError, LoadImageLevelLabels,
                         LoadWSSSImageFromFile, PackWSSSInputs)
from .voc import VOC_CLASSES, VOC_PALETTE, VOCWSSSDataset

__all__ = [
    'BaseWSSSDataset', 'VOCWSSSDataset', 'COCOWSSSDataset',
    'CamVidTilesDataset', 'DemoShapesDataset', 'generate_demo_dataset',
    'demo_dataset_complete', 'make_demo_sample', 'LoadWSSSImageFromFile',
    'LoadImageLevelLabels', 'PackWSSSInputs', 'CropTile', 'ImageLoadError',
    'read_index_mask', 'labels_from_mask', 'default_cache_dir',
    'image_labels_from_instances', 'read_classes_file', 'tile_boxes',
    'tile_labels', 'VOC_CLASSES', 'VOC_PALETTE', 'COCO_CLASSES',
    'COCO_PALETTE', 'CAMVID_CLASSES', 'CAMVID_PALETTE', 'DEMO_CLASSES',
    'SyntheticWSSSDataset', 'ImageFolderDataset', 'DiffSynDataset',
    'ImageNetSDataset', 'LoadImageNetSAnnotations', 'decode_imagenets_mask',
    'encode_imagenets_mask'
]
