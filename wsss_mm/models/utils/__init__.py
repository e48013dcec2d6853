from .cam import (box_mask, cam_to_label, cam_to_roi_mask,
                  minmax_normalize_cam, multi_scale_cam,
                  refine_cams_with_background)
from .contrast import patch_contrast_loss
from .dense_energy import (bilateral_filter, dense_energy_loss,
                           scaled_dense_energy)
from .equivariance import equivariance_loss
from .eval_mode import eval_mode
from .fsr import (cosine_momentum, ema_center, fsr_class_loss, fsr_patch_loss,
                  fsr_teacher_probs, is_random_mask_phase, teacher_temperature,
                  uncertain_block_mask)
from .local_attention import local_attention_mask
from .par import pixel_adaptive_refine
from .patch_labels import patch_to_pixel_labels
from .pooling import (ADAPTIVE_K_MODES, POOLING_MODES, adaptive_k_pool,
                      gap_pool, gmp_pool, image_labels_from_views,
                      pool_patch_scores, topk_pool, topk_ratio_pool)
from .token_contrast import (balanced_cross_entropy, class_token_contrast_loss,
                             crop_from_uncertain, labels_to_affinity,
                             random_hflip, random_resized_views,
                             token_contrast_loss)

__all__ = [
    'gmp_pool', 'gap_pool', 'topk_pool', 'adaptive_k_pool',
    'pool_patch_scores', 'POOLING_MODES', 'patch_to_pixel_labels',
    'local_attention_mask', 'topk_ratio_pool', 'ADAPTIVE_K_MODES',
    'patch_contrast_loss',
    'equivariance_loss', 'uncertain_block_mask',
    'is_random_mask_phase', 'fsr_teacher_probs', 'fsr_class_loss',
    'fsr_patch_loss', 'ema_center', 'teacher_temperature', 'cosine_momentum',
    'multi_scale_cam', 'minmax_normalize_cam', 'cam_to_label',
    'cam_to_roi_mask', 'box_mask', 'refine_cams_with_background',
    'pixel_adaptive_refine', 'token_contrast_loss', 'labels_to_affinity',
    'crop_from_uncertain', 'class_token_contrast_loss', 'bilateral_filter',
    'dense_energy_loss', 'scaled_dense_energy', 'balanced_cross_entropy',
    'random_resized_views', 'random_hflip', 'image_labels_from_views',
    'eval_mode'
]
