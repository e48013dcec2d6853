"""A frozen backbone whose features are computed once per input image."""
import atexit
import hashlib
import os.path as osp
from collections import OrderedDict
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor

from wsss_mm.registry import MODELS
from wsss_mm.utils.fileio import save_atomic


def input_digest(image: Tensor) -> str:
    """Content key of one preprocessed input image ``[C, H, W]``."""
    data = image.detach().to('cpu', torch.float32).contiguous()
    digest = hashlib.sha1(data.numpy().tobytes())
    digest.update(str(tuple(data.shape)).encode())
    return digest.hexdigest()


@MODELS.register_module()
class FrozenFeatureCache(BaseModule):
    """Run a frozen backbone once per distinct input and reuse its output.

    The first stage of a pretrained recipe on CPU (ViT-PCM trains its first
    epoch with the backbone frozen): the backbone's parameters are frozen,
    it always runs in eval mode without gradient, and its multi-level
    outputs are kept per input image, keyed by a hash of the preprocessed
    pixels, so a second epoch over the same (deterministically
    preprocessed) images costs only the heads. Random photometric
    augmentation makes every input new: use a deterministic train pipeline
    (resize, optionally flip: two entries per image).

    Args:
        backbone (dict): The backbone config (e.g. a DINOv2 ViT with
            ``init_cfg=dict(type='Pretrained', ...)``).
        input_size (tuple[int, int], optional): Resize the input batch
            (bilinear) to this size before the backbone, e.g. to put a
            120 px tile on a 12x12 grid of 14 px patches at 168 px. The
            heads are unaffected: they resize to the image size.
        max_items (int): Most images kept; later ones are computed every
            time (a warning says so once). Defaults to 20000.
        cache_dtype (str): Storage dtype of the cache, ``'float16'``
            (half the memory) or ``'float32'``. Defaults to 'float16'.
        cache_file (str, optional): Keep the cache on disk as well: loaded
            (``weights_only``) at the first forward when it exists, and
            rewritten atomically after every ``save_every`` new images and
            when the process exits, so that another process (evaluation
            after training) reuses the features. The key covers the
            pixels only: delete the file when the backbone weights or
            ``input_size`` change.
        save_every (int): New images between two writes of
            ``cache_file``. Defaults to 256.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 input_size: Optional[Sequence[int]] = None,
                 max_items: int = 20000,
                 cache_dtype: str = 'float16',
                 cache_file: Optional[str] = None,
                 save_every: int = 256,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if cache_dtype not in ('float16', 'float32'):
            raise ValueError("cache_dtype must be 'float16' or 'float32', "
                             f'got {cache_dtype!r}')
        self.backbone = MODELS.build(backbone)
        for param in self.backbone.parameters():
            param.requires_grad = False
        self.input_size = tuple(input_size) if input_size else None
        self.max_items = int(max_items)
        self.cache_dtype = getattr(torch, cache_dtype)
        self._cache: 'OrderedDict[str, Tuple[Tensor, ...]]' = OrderedDict()
        self._warned_full = False
        self.hits = 0
        self.misses = 0
        self.cache_file = cache_file
        self.save_every = int(save_every)
        self._loaded = cache_file is None
        self._unsaved = 0
        if cache_file is not None:
            atexit.register(self._save_at_exit)

    def train(self, mode: bool = True) -> 'FrozenFeatureCache':
        """Set the mode of this module; the backbone stays in eval."""
        super().train(mode)
        self.backbone.eval()
        return self

    def clear_cache(self) -> None:
        """Forget every cached output (e.g. after loading new weights)."""
        self._cache.clear()

    def _load_file(self) -> None:
        self._loaded = True
        if not osp.isfile(self.cache_file):
            return
        data = torch.load(self.cache_file, map_location='cpu',
                          weights_only=True)
        for key, entry in data.items():
            if len(self._cache) >= self.max_items:
                break
            self._cache[key] = tuple(entry)
        print_log(
            f'FrozenFeatureCache: {len(self._cache)} images loaded from '
            f'{self.cache_file}', 'current')

    def _save_at_exit(self) -> None:
        if self._unsaved == 0:
            return
        try:
            self.save_cache()
        except OSError as e:  # e.g. its folder is gone
            print(f'FrozenFeatureCache: could not write {self.cache_file} '
                  f'at exit: {e}')

    def save_cache(self) -> None:
        """Write the cache to ``cache_file`` (atomically)."""
        if self.cache_file is None:
            raise ValueError('FrozenFeatureCache has no cache_file')
        data = {k: list(v) for k, v in self._cache.items()}
        save_atomic(self.cache_file, lambda f: torch.save(data, f))
        self._unsaved = 0

    def _run(self, x: Tensor) -> Tuple[Tensor, ...]:
        if self.input_size is not None and tuple(x.shape[-2:]) != \
                self.input_size:
            x = F.interpolate(
                x, size=self.input_size, mode='bilinear',
                align_corners=False)
        self.backbone.eval()  # also when nobody called train()/eval()
        with torch.no_grad():
            return tuple(self.backbone(x))

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Backbone outputs for ``x`` ``[B, 3, H, W]``, from the cache for
        images seen before."""
        if not self._loaded:
            self._load_file()
        keys: List[str] = [input_digest(img) for img in x]
        todo = [i for i, k in enumerate(keys) if k not in self._cache]
        self.hits += len(keys) - len(todo)
        self.misses += len(todo)
        fresh = {}
        if todo:
            outs = self._run(x[todo])
            for j, i in enumerate(todo):
                entry = tuple(o[j].to(self.cache_dtype) for o in outs)
                fresh[keys[i]] = entry
                if len(self._cache) < self.max_items:
                    self._cache[keys[i]] = entry
                    self._unsaved += 1
                elif not self._warned_full:
                    self._warned_full = True
                    print_log(
                        f'FrozenFeatureCache: {self.max_items} images '
                        'cached (max_items); further images are computed '
                        'every time', 'current')
        if self.cache_file is not None and \
                self._unsaved >= self.save_every:
            self.save_cache()
        entries = [
            self._cache[k] if k in self._cache else fresh[k] for k in keys
        ]
        levels = len(entries[0])
        return tuple(
            torch.stack([e[lvl] for e in entries]).to(x.dtype)
            for lvl in range(levels))
