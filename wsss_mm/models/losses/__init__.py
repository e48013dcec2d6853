from .equivariance_loss import EquivarianceLoss
from .mce_loss import MCELoss
from .patch_contrast_loss import PatchContrastLoss
from .reliable_ce_loss import ReliableCrossEntropyLoss

__all__ = [
    'MCELoss', 'PatchContrastLoss', 'EquivarianceLoss',
    'ReliableCrossEntropyLoss'
]
