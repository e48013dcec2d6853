from .hv_bilstm import HVBiLSTM
from .masked_cross_attention import MaskedCrossAttentionAggregator

__all__ = ['HVBiLSTM', 'MaskedCrossAttentionAggregator']
