"""Horizontal-vertical BiLSTM neck of ViT-PCM."""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from wsss_mm.registry import MODELS


@MODELS.register_module()
class HVBiLSTM(BaseModule):
    """Refine a patch grid with BiLSTMs along its rows and columns.

    ViT-PCM's HV-BiLSTM: dropout on the input feature map, then one
    bidirectional LSTM that reads every row (a sequence over ``w``) and one
    that reads every column (a sequence over ``h``). Their outputs
    (``2 * hidden_channels`` each) are concatenated, rows first, so each
    output patch sees its whole row and its whole column.

    Args:
        in_channels (int): Channels of the input grid. Defaults to 768.
        hidden_channels (int): Hidden size of each LSTM direction.
            Defaults to 192, which gives 768 output channels.
        dropout (float): Dropout probability on the input. Defaults to 0.2.
        init_cfg (dict, optional): Initialisation config. Defaults to None
            (PyTorch's LSTM initialisation).
    """

    def __init__(self,
                 in_channels: int = 768,
                 hidden_channels: int = 192,
                 dropout: float = 0.2,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = 4 * hidden_channels
        self.dropout = nn.Dropout(dropout)
        self.row_lstm = nn.LSTM(
            in_channels, hidden_channels, batch_first=True, bidirectional=True)
        self.col_lstm = nn.LSTM(
            in_channels, hidden_channels, batch_first=True, bidirectional=True)

    def forward(self, inputs: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Refine the patch grid.

        Args:
            inputs (Tensor | Sequence[Tensor]): Feature map ``[B, D, h, w]``
                or a sequence of them (backbone outputs), of which the
                last is used.

        Returns:
            Tensor: Refined grid ``[B, 4 * hidden_channels, h, w]``.
        """
        x = inputs[-1] if isinstance(inputs, (list, tuple)) else inputs
        if x.dim() != 4:
            raise ValueError('HVBiLSTM expects a [B, D, h, w] feature map, '
                             f'got shape {tuple(x.shape)}')
        B, D, h, w = x.shape
        x = self.dropout(x)
        grid = x.permute(0, 2, 3, 1)  # [B, h, w, D]
        # Every row (column) is an independent sequence in one LSTM batch.
        rows, _ = self.row_lstm(grid.reshape(B * h, w, D))
        rows = rows.reshape(B, h, w, -1)
        cols, _ = self.col_lstm(grid.transpose(1, 2).reshape(B * w, h, D))
        cols = cols.reshape(B, w, h, -1).transpose(1, 2)
        out = torch.cat([rows, cols], dim=-1)  # [B, h, w, 4 * hidden]
        return out.permute(0, 3, 1, 2).contiguous()
