"""DeepLab-LargeFOV decode head (ToCo's segmentation decoder)."""
from typing import List, Union

import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor

from wsss_mm.registry import MODELS


@MODELS.register_module()
class LargeFOVHead(BaseDecodeHead):
    """3x3 dilated conv to ``channels``, ReLU, again, 1x1 to the classes.

    As ToCo's ``LargeFOV`` (rulixiang/ToCo ``model/decoder/conv_head.py``):
    dilation 5, 512 channels, no bias, no normalisation, no dropout. All
    of mmseg's decode-head plumbing applies (``loss_decode``, resizing to
    the label size, ``predict``).

    Args:
        dilation (int): Dilation (and padding) of the 3x3 convolutions.
            Defaults to 5.
        **kwargs: ``BaseDecodeHead`` arguments (``in_channels``,
            ``channels`` = 512, ``num_classes``, ``dropout_ratio`` = 0,
            ``loss_decode``...).
    """

    def __init__(self, dilation: int = 5, **kwargs) -> None:
        kwargs.setdefault('channels', 512)
        kwargs.setdefault('dropout_ratio', 0.)
        super().__init__(**kwargs)
        self.dilation = dilation
        self.conv6 = nn.Conv2d(
            self.in_channels, self.channels, 3, padding=dilation,
            dilation=dilation, bias=False)
        self.conv7 = nn.Conv2d(
            self.channels, self.channels, 3, padding=dilation,
            dilation=dilation, bias=False)
        self.conv_seg = nn.Conv2d(
            self.channels, self.out_channels, 1, bias=False)

    def forward(self, inputs: Union[Tensor, List[Tensor]]) -> Tensor:
        """Logits ``[B, K, h, w]`` at the feature resolution."""
        x = self._transform_inputs(inputs)
        x = F.relu(self.conv6(x), inplace=True)
        x = F.relu(self.conv7(x), inplace=True)
        return self.cls_seg(x)
