"""A folder of images without labels (e.g. unlabelled target-domain
images for LoRA adaptation of Stable Diffusion)."""
import os
import os.path as osp
from typing import List, Sequence

from mmengine.dataset import BaseDataset

from wsss_mm.registry import DATASETS

IMG_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


@DATASETS.register_module()
class ImageFolderDataset(BaseDataset):
    """Every image under ``data_root`` (recursively), sorted by path.

    Data info: ``img_path`` only. Pipelines use the usual loading and
    resizing transforms and ``PackSegInputs`` (no ground truth needed).

    Args:
        data_root (str): The folder.
        suffixes (list[str]): Image suffixes (case-insensitive).
        recursive (bool): Search sub-folders (default True).
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments
            (``pipeline``, ``indices``, ``serialize_data``...).

    Raises:
        FileNotFoundError: The folder is missing or holds no image.
    """

    METAINFO = dict(classes=())

    def __init__(self,
                 data_root: str,
                 suffixes: Sequence[str] = IMG_SUFFIXES,
                 recursive: bool = True,
                 **kwargs) -> None:
        self.suffixes = tuple(s.lower() for s in suffixes)
        self.recursive = recursive
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        root = self.data_root
        if not osp.isdir(root):
            raise FileNotFoundError(
                f'image folder {root} does not exist: set '
                f'train_dataloader.dataset.data_root to a folder of images')
        paths = []
        for dirpath, dirnames, files in os.walk(root):
            dirnames.sort()
            paths += [
                osp.join(dirpath, f) for f in files
                if f.lower().endswith(self.suffixes) and not f.startswith('.')
            ]
            if not self.recursive:
                break
        if not paths:
            raise FileNotFoundError(
                f'no image ({", ".join(self.suffixes)}) in {root}')
        return [dict(img_path=p) for p in sorted(paths)]
