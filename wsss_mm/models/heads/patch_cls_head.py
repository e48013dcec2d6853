"""Patch classification head of ViT-PCM / APC."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from wsss_mm.registry import MODELS


@MODELS.register_module()
class PatchClassifierHead(BaseModule):
    """Per-patch softmax classifier pooled to image-level scores.

    A bias-free linear layer maps every patch embedding to ``num_classes``
    scores (background included where the dataset has one), softmax over
    classes gives patch probabilities, and a pooling layer turns them into
    image scores supervised with the multi-hot image label.

    Args:
        in_channels (int): Channels of the patch embeddings.
        num_classes (int): Classes of the dataset (with background if any).
        pooling (dict): Pooling layer config, e.g.
            ``dict(type='AdaptiveKPool', k_max=6, gap=0.1)``.
        loss_cls (dict): Image-level loss on pooled scores.
        loss_contrast (dict, optional): Patch contrastive loss (APC's PCL)
            on the patch embeddings; None disables it.
        bg_pooling (dict, optional): A background prior: the image score
            of class ``bg_index`` comes from this pooling instead of
            ``pooling``, e.g. ``dict(type='TopKRatioPool', ratio=0.5)``
            (the background must win on half of the patches). None (the
            paper) pools every class alike.
        bg_index (int): Index of the background class. Defaults to 0.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 pooling: Dict = dict(type='GlobalMaxPool'),
                 loss_cls: Dict = dict(type='MCELoss'),
                 loss_contrast: Optional[Dict] = None,
                 bg_pooling: Optional[Dict] = None,
                 bg_index: int = 0,
                 init_cfg: Optional[Dict] = dict(
                     type='TruncNormal', layer='Linear', std=0.02)) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.classifier = nn.Linear(in_channels, num_classes, bias=False)
        self.pooling = MODELS.build(pooling)
        self.loss_cls = MODELS.build(loss_cls)
        self.loss_contrast = MODELS.build(loss_contrast) \
            if loss_contrast is not None else None
        if bg_pooling is not None and not 0 <= bg_index < num_classes:
            raise ValueError(f'bg_index {bg_index} is not a class index '
                             f'(num_classes={num_classes})')
        self.bg_pooling = MODELS.build(bg_pooling) \
            if bg_pooling is not None else None
        self.bg_index = bg_index

    def forward(self, feats: Tensor) -> Tensor:
        """Patch probabilities.

        Args:
            feats (Tensor): Patch embeddings ``[B, D, h, w]``.

        Returns:
            Tensor: Softmax probabilities ``[B, num_classes, h, w]``.
        """
        logits = self.classifier(feats.permute(0, 2, 3, 1))
        return logits.softmax(dim=-1).permute(0, 3, 1, 2)

    def pool(self, patch_probs: Tensor) -> Tensor:
        """Image scores ``[B, C]`` from patch probabilities ``[B, C, h, w]``.
        """
        scores = patch_probs.flatten(2).transpose(1, 2)
        pooled = self.pooling(scores)
        if self.bg_pooling is None:
            return pooled
        b = self.bg_index
        bg = self.bg_pooling(scores[:, :, b:b + 1])
        return torch.cat([pooled[:, :b], bg, pooled[:, b + 1:]], dim=1)

    def loss(self, feats: Tensor,
             image_labels: Tensor) -> Tuple[Dict[str, Tensor], Tensor]:
        """Image-level (and optional contrastive) losses.

        Args:
            feats (Tensor): Patch embeddings ``[B, D, h, w]``.
            image_labels (Tensor): Multi-hot labels ``[B, C]``.

        Returns:
            tuple: The loss dict and the patch probabilities
            ``[B, C, h, w]`` (reused for pseudo-labels).
        """
        probs = self.forward(feats)
        image_scores = self.pool(probs)
        losses = {
            self.loss_cls.loss_name: self.loss_cls(image_scores,
                                                   image_labels)
        }
        if self.loss_contrast is not None:
            emb = feats.flatten(2).transpose(1, 2)
            scores = probs.flatten(2).transpose(1, 2)
            losses[self.loss_contrast.loss_name] = self.loss_contrast(
                emb, scores, image_labels)
        with torch.no_grad():
            pred = (image_scores > 0.5).float()
            losses['acc_cls'] = (pred == image_labels).float().mean()
        return losses, probs
