"""Linear CKA (Kornblith, Norouzi, Lee & Hinton 2019, eq. 3 with a linear kernel), from moments:

    CKA(X, Y) = ||Sxy||_F^2 / (||Sxx||_F ||Syy||_F),   scatter blocks of the centred data.
"""
from __future__ import annotations

import numpy as np

from ..results import CKAResult
from ._inputs import as_moments


def frobenius(xp, a) -> float:
    """``||a||_F`` without overflow or underflow of the squares (``numpy.linalg.norm`` squares the
    entries, which overflows above ~1e154): the plain norm when it lies well inside the range
    (always, for the scaled state of ``fastcca._scale``), else the norm of ``a`` divided by its
    largest |entry| first."""
    v = float(xp.linalg.norm(a))
    if 1e-140 < v < 1e140:
        return v
    top = float(xp.max(xp.abs(a))) if a.size else 0.0
    if top == 0.0 or not np.isfinite(top):
        return top
    return top * float(xp.linalg.norm(a / top))


def linear_cka(x, y=None, *, spectrum: bool = False, backend: str = "auto",
               precision: str = "float64") -> CKAResult:
    """Linear CKA similarity of x (n, p) and y (n, q), samples first, or of a Moments.

    ``spectrum=True`` also returns, as ``coefficients``, the contributions
    ``sigma_i(Sxy)^2 / (||Sxx||_F ||Syy||_F)`` (descending, summing to the similarity); it costs
    the singular values of the (p, q) cross block, so it is off by default (empty array).
    """
    m = as_moments(x, y, backend, precision, what="linear_cka")
    be, xp = m._be, m._be.xp
    nxx = frobenius(xp, m.sxx)
    nyy = frobenius(xp, m.syy)
    notes = []
    if nxx == 0 or nyy == 0:
        notes.append("a side has no variance (all neurons constant): CKA is 0 by convention")
        sim, coef = 0.0, np.zeros(0)
    else:
        # ||Sxy|| / sqrt(||Sxx|| ||Syy||) is scale-free; squaring it last never overflows
        den = np.sqrt(nxx) * np.sqrt(nyy)
        sim = (frobenius(xp, m.sxy) / den) ** 2
        coef = (be.to_numpy(be.svdvals(m.sxy)) / den) ** 2 if spectrum else np.zeros(0)
    return CKAResult(measure="linear_cka", similarity=min(sim, 1.0), coefficients=coef, n=m.n,
                     p=m.p, q=m.q, notes=tuple(notes))
