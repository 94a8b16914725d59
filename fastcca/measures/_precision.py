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

import numpy as np

from .._validation import Float32PrecisionWarning

#: unit roundoff of float32
UNIT_ROUNDOFF_32 = 2.0 ** -24
#: estimated coefficient error above which a float32 result is reported and warned about
#: (observed errors were up to 8.1x the estimate where they exceeded 1e-4)
FLOAT32_ERROR_WARN = 1e-5


def direction_inflation(be, s, vecs, var) -> np.ndarray:
    """``c_k = v_k^T diag(S) v_k / var_k`` for each column ``v_k`` of ``vecs`` (p, k): the neurons'
    variance along direction k over the variance ``var_k`` (host, (k,)) the measure uses there
    (``v_k^T S v_k``; an eigenvalue for eigenvectors).  A float32 error ``|dS_ij| ~ u sqrt(S_ii
    S_jj)`` moves ``v_k^T S v_k`` by up to ``u v_k^T diag(S) v_k`` (first order, random signs), a
    relative error ``u c_k``.  ``sum_k c_k`` over an eigenbasis is ``sum_i VIF_i``; 0 where
    ``var_k`` is 0 (host array)."""
    xp = be.xp
    d = be.to_numpy((vecs * vecs).T @ xp.real(xp.diagonal(s)))
    var = np.asarray(var, dtype=np.float64)
    return np.where(var > 0, d / np.where(var > 0, var, 1.0), 0.0)


#: the words every float32 note carries (:func:`is_float32_note`)
_NOTE_MARK = "precision='float32' products are not accurate enough"


def is_float32_note(note: str) -> bool:
    """Whether ``note`` (a result's note, possibly prefixed by a grid's pair label) is one of
    :func:`float32_error_notes`'."""
    return _NOTE_MARK in note


def float32_error_notes(measure: str, inflation: dict[str, float], *, stacklevel: int = 4,
                        factor: str = "largest variance inflation factor", values: str = "the coefficients",
                        cause: str = "nearly collinear neurons in", warn: bool = True) -> list[str]:
    """Notes (and one :class:`Float32PrecisionWarning`) for the activation sets whose estimated
    float32 error ``u * inflation`` exceeds :data:`FLOAT32_ERROR_WARN`; ``inflation`` maps a label
    ("side x", "layer conv1") to the set's amplification of float32 rounding: for the CCA family
    the largest variance inflation factor, for the other measures the ``factor`` they name
    (docs/definitions.md, *Precision*), which moves ``values``.  ``warn=False``: the notes only
    (a grid gathers its pairs' notes and warns once)."""
    bad = {side: v for side, v in inflation.items() if UNIT_ROUNDOFF_32 * v > FLOAT32_ERROR_WARN}
    if not bad:
        return []
    worst = max(bad.values())
    sides = ", ".join(f"{label} ({factor} {v:.2g})" for label, v in bad.items())
    msg = (f"{measure}: {_NOTE_MARK} for these data: {cause} "
           f"{sides}; {values} may be off by about "
           f"{min(UNIT_ROUNDOFF_32 * worst, 1.0):.1g} (float32 rounding 6e-8 x that factor). "
           "Recompute with precision='float64'.")
    if warn:
        warnings.warn(msg, Float32PrecisionWarning, stacklevel=stacklevel)
    return [msg]
