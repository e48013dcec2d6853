"""DINO-style projection head (FSR's projector)."""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor

from wsss_mm.registry import MODELS


@MODELS.register_module()
class DINOProjector(BaseModule):
    """MLP, L2 normalisation and a weight-normalised linear layer.

    ``in -> hidden -> hidden -> bottleneck`` (GELU between layers),
    ``F.normalize``, then a bias-free linear layer to ``out_channels`` whose
    rows are normalised to unit length (weight normalisation with the gain
    fixed to 1, as DINO and FSR freeze it).

    Args:
        in_channels (int): Input width. Defaults to 768.
        hidden_channels (int): MLP width. Defaults to 2048.
        bottleneck_channels (int): Width before normalisation.
            Defaults to 256.
        out_channels (int): Output (prototype) width. Defaults to 4096.
        num_layers (int): MLP layers (>= 1). Defaults to 3.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int = 768,
                 hidden_channels: int = 2048,
                 bottleneck_channels: int = 256,
                 out_channels: int = 4096,
                 num_layers: int = 3,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        if num_layers == 1:
            self.mlp = nn.Linear(in_channels, bottleneck_channels)
        else:
            layers = [nn.Linear(in_channels, hidden_channels), nn.GELU()]
            for _ in range(num_layers - 2):
                layers += [nn.Linear(hidden_channels, hidden_channels),
                           nn.GELU()]
            layers.append(nn.Linear(hidden_channels, bottleneck_channels))
            self.mlp = nn.Sequential(*layers)
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        self.last_weight = nn.Parameter(
            torch.empty(out_channels, bottleneck_channels))
        nn.init.kaiming_uniform_(self.last_weight, a=math.sqrt(5))
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        """Project ``[..., in_channels]`` to ``[..., out_channels]``."""
        x = F.normalize(self.mlp(x), dim=-1, p=2)
        return F.linear(x, F.normalize(self.last_weight, dim=1, p=2))
