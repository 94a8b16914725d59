"""fastcca: CCA, SVCCA, PWCCA and linear CKA between neural-network representations, from one
streaming pass over the activations into mergeable moments, on the CPU or a GPU.

Conventions: activations are samples first, x (n, p) and y (n, q); conv activations (n, c, h, w)
by default; functions return similarities (``result.distance`` is ``1 - similarity``).  See the
documentation's *Definitions* page for every choice.
"""
from ._source_tree import mount_source_kernels as _mount_source_kernels

_mount_source_kernels()  # a source checkout: kernels/ imports as fastcca.kernels (no symlink)

from .backend import BackendUnavailableError, get_backend
from ._io import FastccaFileError
from ._validation import DegenerateCCAWarning, Float32PrecisionWarning
from .measures import (cca, debiased_cka, linear_cka, linear_predictivity, mean_cca, pca, pls, procrustes,
                       pwcca, shape_metric, svcca)
from .measures.registry import REGISTRY, MeasureSpec  # noqa: F401  (REGISTRY: public, documented on its page)
from .moments import Moments
from .grid import JointMoments, SimilarityMatrix, similarity_grid
from .conv import ConvMoments, conv_cca, conv_moments, conv_pwcca, conv_svcca
from .error_bars import JackknifeResult, jackknife
from .null import NullResult, cca_null, null_baseline
from .results import (CCAResult, CKAResult, ConvResult, PCAResult, PLSResult, PredictivityResult, PWCCAResult,
                      Result, ShapeResult, SVCCAResult)

__version__ = "0.1.0"

__all__ = [
    "Moments", "cca", "mean_cca", "svcca", "pwcca", "linear_cka",
    "shape_metric", "procrustes", "pls", "pca", "linear_predictivity",
    "debiased_cka", "null_baseline", "cca_null", "NullResult", "jackknife", "JackknifeResult", "MeasureSpec",
    "JointMoments", "SimilarityMatrix", "similarity_grid",
    "ConvMoments", "conv_cca", "conv_svcca", "conv_pwcca", "conv_moments",
    "Result", "CCAResult", "SVCCAResult", "PWCCAResult", "CKAResult", "ConvResult",
    "ShapeResult", "PLSResult", "PCAResult", "PredictivityResult",
    "get_backend", "BackendUnavailableError", "FastccaFileError", "DegenerateCCAWarning",
    "Float32PrecisionWarning",
]
