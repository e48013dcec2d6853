from .backbones import *  # noqa: F401,F403
from .data_preprocessor import MultiViewSegDataPreProcessor  # noqa: F401
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
