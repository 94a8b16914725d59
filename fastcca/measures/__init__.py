"""The measures, one module each, all computed from :class:`fastcca.Moments`; the registry
(:mod:`fastcca.measures.registry`) lists them for the command line, grids and plots."""
from .cca import cca, mean_cca
from .cka import debiased_cka, linear_cka
from .decompositions import pca, pls
from .predictivity import linear_predictivity
from .pwcca import pwcca
from .shape import procrustes, shape_metric
from .svcca import svcca

__all__ = ["cca", "mean_cca", "svcca", "pwcca", "linear_cka", "debiased_cka", "shape_metric", "procrustes", "pls", "pca",
           "linear_predictivity"]
