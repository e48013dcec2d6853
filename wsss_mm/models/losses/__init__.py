from .equivariance_loss import EquivarianceLoss
from .fsr_loss import FSRLoss
from .mce_loss import MCELoss
from .patch_contrast_loss import PatchContrastLoss

__all__ = ['MCELoss', 'PatchContrastLoss', 'EquivarianceLoss', 'FSRLoss']
