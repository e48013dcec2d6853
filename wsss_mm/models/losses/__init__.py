from .equivariance_loss import EquivarianceLoss
from .fsr_loss import FSRLoss
from .mce_loss import MCELoss
from .patch_contrast_loss import PatchContrastLoss
from .reliable_ce_loss import ReliableCrossEntropyLoss
from .toco_losses import (BalancedCrossEntropyLoss, ClassTokenContrastLoss,
                          DenseEnergyLoss)

__all__ = [
    'MCELoss', 'PatchContrastLoss', 'EquivarianceLoss', 'FSRLoss',
    'BalancedCrossEntropyLoss', 'DenseEnergyLoss', 'ClassTokenContrastLoss',
    'ReliableCrossEntropyLoss'
]
