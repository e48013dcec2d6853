"""Build a trained segmentor and run it on images, as ``mmseg.apis`` does.

``mmseg.apis.init_model`` / ``inference_model`` work on wsss_mm models once
``wsss_mm`` is imported; these wrappers add what a notebook needs on top:
the registries imported, a device chosen when none is given, and errors
that name a missing config or checkpoint file.

Example::

    from wsss_mm.apis import inference_model, init_model
    model = init_model('configs/demo/wsss_demo_cpu.py', 'iter_800.pth')
    result = inference_model(model, 'demo.jpg')
    mask = result.pred_sem_seg.data[0]  # [H, W] class indices
"""
import os.path as osp
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from mmcv.transforms import LoadImageFromFile
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from mmseg.apis import MMSegInferencer
from mmseg.apis import inference_model as mmseg_inference_model
from mmseg.apis import init_model as mmseg_init_model

from wsss_mm.registry import DATASETS, INFERENCERS, TRANSFORMS
from wsss_mm.utils.checkpoint import load_checkpoint_file
from wsss_mm.utils.setup_env import register_all_modules

ImageType = Union[str, np.ndarray]


def default_device() -> str:
    """``'cuda:0'`` when a GPU is visible, else ``'cpu'``."""
    return 'cuda:0' if torch.cuda.is_available() else 'cpu'


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: Optional[str] = None,
               cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build the segmentor of ``config`` and load ``checkpoint`` into it.

    Args:
        config (str | Path | Config): Config file or object.
        checkpoint (str, optional): Checkpoint file (a checkpoint written by
            our runner, or a plain state dict). None: random weights.
            Loaded weights-only; a file that needs full unpickling (an old
            mmengine checkpoint) is refused unless the config key
            ``unsafe_load_checkpoint`` is True (the tools'
            ``--unsafe-load-checkpoint``, or
            ``cfg_options=dict(unsafe_load_checkpoint=True)``), as in
            :class:`~wsss_mm.engine.WSSSRunner`.
        device (str, optional): Torch device; default :func:`default_device`.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        nn.Module: The model in eval mode, with ``dataset_meta`` and ``cfg``.

    Raises:
        FileNotFoundError: The config or the checkpoint file is missing.
        CheckpointError: The checkpoint is unreadable, or refused (see
            ``checkpoint``).
    """
    register_all_modules(init_default_scope=False)
    if isinstance(config, (str, Path)) and not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'checkpoint file not found: {checkpoint} (train one with '
            'tools/train.py CONFIG; checkpoints are saved in its work dir)')
    model = mmseg_init_model(
        config, None, device=device or default_device(),
        cfg_options=cfg_options)
    if checkpoint is not None:
        # Weights only unless the config opts in, as the runner loads;
        # plain state dicts without 'meta' load too, unlike mmseg's.
        ckpt = load_checkpoint_file(
            checkpoint, 'cpu',
            unsafe=bool(model.cfg.get('unsafe_load_checkpoint', False)))
        _load_checkpoint_to_model(model, ckpt)
        meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
        if meta.get('dataset_meta'):
            model.dataset_meta = meta['dataset_meta']
    if not getattr(model, 'dataset_meta', None) or \
            'classes' not in model.dataset_meta:
        model.dataset_meta = _dataset_meta_of(model.cfg)
    return model


def _dataset_meta_of(cfg: Config) -> dict:
    """Class names and palette of the config's test dataset class."""
    ds = cfg.get('test_dataloader', {}).get('dataset', {})
    cls = DATASETS.get(ds.get('type')) if ds.get('type') else None
    meta = dict(getattr(cls, 'METAINFO', {}) or {})
    meta.update(ds.get('metainfo') or {})
    return meta


def inference_model(model: torch.nn.Module, img: Union[ImageType, list]):
    """Predict image(s) with ``model`` (``mmseg.apis.inference_model``).

    Args:
        model (nn.Module): A model from :func:`init_model`.
        img (str | np.ndarray | list): Image file(s) or BGR array(s).

    Returns:
        SegDataSample | list[SegDataSample]: ``pred_sem_seg`` holds the
        ``[1, H, W]`` class map at the image's size, ``seg_logits`` the
        scores.
    """
    return mmseg_inference_model(model, img)


@INFERENCERS.register_module()
class WSSSInferencer(MMSegInferencer):
    """``MMSegInferencer`` for wsss_mm configs.

    mmseg's inferencer defaults to the ``mmseg`` scope and finds the image
    loader of the test pipeline by the type name ``'LoadImageFromFile'``.
    Our configs name their loader so (in the ``wsss_mm`` scope that name
    builds ``LoadWSSSImageFromFile``), and ``MMSegInferencer(...,
    scope='wsss_mm')`` runs them. This one defaults to the ``wsss_mm``
    scope and takes the first loader that is a ``LoadImageFromFile``
    subclass under any name (``LoadWSSSImageFromFile``, a plugin's).

    Example::

        inferencer = WSSSInferencer('configs/demo/wsss_demo_cpu.py',
                                    'iter_800.pth', device='cpu')
        masks = inferencer(['a.jpg', 'b.jpg'])['predictions']
    """

    def __init__(self, *args, scope: Optional[str] = 'wsss_mm',
                 **kwargs) -> None:
        super().__init__(*args, scope=scope, **kwargs)

    def _init_pipeline(self, cfg: Config) -> Compose:
        kept = []
        loader_found = False
        for t in cfg.test_dataloader.dataset.pipeline:
            if t['type'] in ('LoadAnnotations', 'LoadDepthAnnotation'):
                continue  # no annotations at inference
            cls = TRANSFORMS.get(t['type'])
            if (not loader_found and isinstance(cls, type)
                    and issubclass(cls, LoadImageFromFile)):
                t = dict(t, type='InferencerLoader')
                loader_found = True
            kept.append(t)
        if not loader_found:
            raise ValueError('no image loader (a LoadImageFromFile '
                             'subclass) in the test pipeline of the config')
        return Compose(kept)
