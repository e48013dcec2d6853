from .contrast import patch_contrast_loss
from .equivariance import equivariance_loss
from .fsr import (cosine_momentum, ema_center, fsr_class_loss, fsr_patch_loss,
                  fsr_teacher_probs, is_random_mask_phase, teacher_temperature,
                  uncertain_block_mask)
from .patch_labels import patch_to_pixel_labels
from .pooling import (POOLING_MODES, adaptive_k_pool, gap_pool, gmp_pool,
                      pool_patch_scores, topk_pool)

__all__ = [
    'gmp_pool', 'gap_pool', 'topk_pool', 'adaptive_k_pool',
    'pool_patch_scores', 'POOLING_MODES', 'patch_to_pixel_labels',
    'patch_contrast_loss', 'equivariance_loss', 'uncertain_block_mask',
    'is_random_mask_phase', 'fsr_teacher_probs', 'fsr_class_loss',
    'fsr_patch_loss', 'ema_center', 'teacher_temperature', 'cosine_momentum'
]
