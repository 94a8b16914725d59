"""The measures, one module each, all computed from :class:`fastcca.Moments`."""
from .cca import cca, mean_cca
from .cka import linear_cka
from .pwcca import pwcca
from .svcca import svcca

__all__ = ["cca", "mean_cca", "svcca", "pwcca", "linear_cka"]
