from .contrast import patch_contrast_loss
from .equivariance import equivariance_loss
from .local_attention import local_attention_mask
from .patch_labels import patch_to_pixel_labels
from .pooling import (ADAPTIVE_K_MODES, POOLING_MODES, adaptive_k_pool,
                      gap_pool, gmp_pool, pool_patch_scores, topk_pool,
                      topk_ratio_pool)

__all__ = [
    'gmp_pool', 'gap_pool', 'topk_pool', 'adaptive_k_pool',
    'pool_patch_scores', 'POOLING_MODES', 'patch_to_pixel_labels',
    'patch_contrast_loss', 'equivariance_loss', 'topk_ratio_pool',
    'ADAPTIVE_K_MODES', 'local_attention_mask'
]
