"""ViT backbone of ToCo and FSR: final and aux-layer patch tokens, the class
token, an optional patch mask and class activation maps."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.utils import resize_pos_embed
from torch import Tensor

from wsss_mm.registry import MODELS
from .vit import WSSSVisionTransformer


@MODELS.register_module()
class ToCoVisionTransformer(WSSSVisionTransformer):
    """mmpretrain ViT returning ToCo's final and auxiliary patch tokens.

    ToCo (rulixiang/ToCo) classifies from the final tokens (after the last
    norm) and, with an auxiliary classifier, from the raw output of block
    ``aux_layer`` (-3: the 10th of 12 blocks); FSR masks patches of its
    second view by replacing their patch embeddings with a learnable mask
    token before the positional embedding. Everything else is mmpretrain's
    ``VisionTransformer`` (any ``arch``, ``patch_size``,
    ``layer_scale_init_value``, ``pre_norm``; the same converted
    checkpoints load, a missing one fails as in
    :class:`WSSSVisionTransformer`).

    ``forward`` returns ``(aux_map, final_map)``, both ``[B, D, h, w]``
    (decode heads take index -1). :meth:`forward_tokens` also gives the
    class token and token sequences; :meth:`class_activation_maps` the CAMs
    of given 1x1 classifier weights.

    Args:
        aux_layer (int): Block whose output gives the aux tokens
            (negative: from the end). Defaults to -3.
        with_mask_token (bool): Create the learnable mask token (needed for
            ``patch_mask``). Defaults to False.
        **kwargs: mmpretrain ``VisionTransformer`` arguments
            (``out_type`` and ``out_indices`` are not used).
    """

    def __init__(self,
                 aux_layer: int = -3,
                 with_mask_token: bool = False,
                 **kwargs) -> None:
        kwargs.setdefault('out_type', 'featmap')
        super().__init__(**kwargs)
        if self.cls_token is None:
            raise ValueError('ToCoVisionTransformer needs the class token '
                             '(with_cls_token=True)')
        index = aux_layer if aux_layer >= 0 else self.num_layers + aux_layer
        if not 0 <= index < self.num_layers:
            raise ValueError(f'aux_layer {aux_layer} is outside the '
                             f'{self.num_layers} blocks')
        self.aux_layer = index
        self.with_mask_token = with_mask_token
        if with_mask_token:
            self.mask_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))

    def init_weights(self) -> None:
        super().init_weights()
        if self.with_mask_token:
            trunc_normal_(self.mask_token, std=0.02)

    def forward_tokens(self,
                       x: Tensor,
                       patch_mask: Optional[Tensor] = None
                       ) -> Dict[str, object]:
        """Run the ViT.

        Args:
            x (Tensor): Images ``[B, 3, H, W]``.
            patch_mask (Tensor, optional): ``[B, N]`` bool, True where the
                patch embedding is replaced by the mask token
                (``N = h * w`` patches, row-major).

        Returns:
            dict: ``cls_token`` ``[B, D]`` (after the final norm),
            ``tokens`` ``[B, N, D]`` (final, normed), ``aux_tokens``
            ``[B, N, D]`` (raw output of block ``aux_layer``) and
            ``patch_resolution`` ``(h, w)``.
        """
        b = x.shape[0]
        x, patch_resolution = self.patch_embed(x)
        if patch_mask is not None:
            if not self.with_mask_token:
                raise ValueError('patch_mask needs with_mask_token=True')
            if patch_mask.shape != x.shape[:2]:
                raise ValueError(
                    f'patch_mask {tuple(patch_mask.shape)} does not match '
                    f'the {tuple(x.shape[:2])} patches')
            x = torch.where(patch_mask[..., None].bool(),
                            self.mask_token.to(x.dtype), x)
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1)
        x = x + resize_pos_embed(
            self.pos_embed,
            self.patch_resolution,
            patch_resolution,
            mode=self.interpolate_mode,
            num_extra_tokens=self.num_extra_tokens)
        x = self.drop_after_pos(x)
        x = self.pre_norm(x)
        aux = None
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == self.aux_layer:
                aux = x
        if self.final_norm:
            x = self.ln1(x)
        if self.aux_layer == self.num_layers - 1:
            aux = x  # the last block: same tensor as the final tokens
        n = self.num_extra_tokens
        return dict(
            cls_token=x[:, 0],
            tokens=x[:, n:],
            aux_tokens=aux[:, n:],
            patch_resolution=tuple(patch_resolution))

    @staticmethod
    def tokens_to_map(tokens: Tensor, hw: Tuple[int, int]) -> Tensor:
        """``[B, N, D]`` -> ``[B, D, h, w]``."""
        b, _, d = tokens.shape
        return tokens.transpose(1, 2).reshape(b, d, *hw)

    def forward(self,
                x: Tensor,
                patch_mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """``(aux_map, final_map)``, each ``[B, D, h, w]``."""
        out = self.forward_tokens(x, patch_mask)
        hw = out['patch_resolution']
        return (self.tokens_to_map(out['aux_tokens'], hw),
                self.tokens_to_map(out['tokens'], hw))

    def class_activation_maps(self, x: Tensor, weight: Tensor,
                              aux_weight: Tensor) -> Tuple[Tensor, Tensor]:
        """CAMs of bias-free 1x1 classifiers on the final and aux tokens.

        Args:
            x (Tensor): Images ``[B, 3, H, W]``.
            weight, aux_weight (Tensor): ``[C, D, 1, 1]`` classifier
                weights of the final and aux tokens.

        Returns:
            tuple: ``(cam, cam_aux)``, ``[B, C, h, w]`` (not rectified).
        """
        aux_map, final_map = self(x)
        return F.conv2d(final_map, weight), F.conv2d(aux_map, aux_weight)
