"""Conv layers: exact FFT block-diagonal CCA (SVCCA paper, section 3) and the reshaping modes.

See :mod:`fastcca.conv.measures` for the modes and :mod:`fastcca.conv._grid` for the frequency
definitions."""
from ._grid import FrequencyGrid, frequency_grid
from .measures import MODES, conv_cca, conv_moments, conv_pwcca, conv_svcca
from .moments import ConvMoments

__all__ = ["ConvMoments", "conv_cca", "conv_svcca", "conv_pwcca", "conv_moments", "MODES",
           "FrequencyGrid", "frequency_grid"]
