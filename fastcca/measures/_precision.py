"""How far ``precision="float32"`` can move a result, estimated from the data and reported.

float32 batch products (``Moments(precision="float32")``) carry an error of relative size about
``u = 2^-24`` in every scatter entry, ``|dS_ij| ~ u sqrt(S_ii S_jj)``.  Whitening amplifies it by
up to ``1 / lambda_min`` of the neurons' correlation matrix, so a side whose neurons are nearly
collinear (low-rank activations plus a little noise: common in trained networks) can move the
canonical correlations far beyond ``u``, while a side that is merely badly SCALED (neurons of
very different variance) loses nothing.  The estimate used here is

    error ~ u * max_i VIF_i,   VIF_i = S_ii (S^-1)_ii = 1 / (1 - R_i^2)

over the directions the measure whitens (all kept neurons for CCA / PWCCA; the kept singular
directions for SVCCA): the largest variance inflation factor is within a factor k of
``1 / lambda_min``.  Measured against float64 on 14 data sets (low rank + noise, log-spaced
scales, ReLU stacks; ``asv_bench/float32_error_sweep.py``, four sizes from n = 8,000, p = 128 to
n = 50,000 and p = 512) the largest error of coefficients and similarity was 0.2-19x this
estimate, and at most 8.1x it wherever the error exceeded 1e-4, so a warning at an estimate of
1e-5 flags every error above 1e-4.
"""
from __future__ import annotations

import warnings

from .._validation import Float32PrecisionWarning

#: unit roundoff of float32
UNIT_ROUNDOFF_32 = 2.0 ** -24
#: estimated coefficient error above which a float32 result is reported and warned about
#: (observed errors were up to 8.1x the estimate where they exceeded 1e-4)
FLOAT32_ERROR_WARN = 1e-5


def float32_error_notes(measure: str, inflation: dict[str, float], *, stacklevel: int = 4) -> list[str]:
    """Notes (and one :class:`Float32PrecisionWarning`) for the activation sets whose estimated
    float32 error ``u * max VIF`` exceeds :data:`FLOAT32_ERROR_WARN`; ``inflation`` maps a label
    ("side x", "layer conv1") to the set's largest variance inflation factor."""
    bad = {side: v for side, v in inflation.items() if UNIT_ROUNDOFF_32 * v > FLOAT32_ERROR_WARN}
    if not bad:
        return []
    worst = max(bad.values())
    sides = ", ".join(f"{label} (largest variance inflation factor {v:.2g})" for label, v in bad.items())
    msg = (f"{measure}: precision='float32' products are not accurate enough for these data: nearly "
           f"collinear neurons in {sides}; the coefficients may be off by about "
           f"{min(UNIT_ROUNDOFF_32 * worst, 1.0):.1g} (float32 rounding 6e-8 x the inflation factor). "
           "Recompute with precision='float64'.")
    warnings.warn(msg, Float32PrecisionWarning, stacklevel=stacklevel)
    return [msg]
