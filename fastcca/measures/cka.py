"""Linear CKA (Kornblith, Norouzi, Lee & Hinton 2019, eq. 3 with a linear kernel), from moments:

    CKA(X, Y) = ||Sxy||_F^2 / (||Sxx||_F ||Syy||_F),   scatter blocks of the centred data.
"""
from __future__ import annotations

import numpy as np

from ..results import CKAResult
from ._inputs import as_moments


def linear_cka(x, y=None, *, spectrum: bool = False, backend: str = "auto",
               precision: str = "float64") -> CKAResult:
    """Linear CKA similarity of x (n, p) and y (n, q), samples first, or of a Moments.

    ``spectrum=True`` also returns, as ``coefficients``, the contributions
    ``sigma_i(Sxy)^2 / (||Sxx||_F ||Syy||_F)`` (descending, summing to the similarity); it costs
    the singular values of the (p, q) cross block, so it is off by default (empty array).
    """
    m = as_moments(x, y, backend, precision)
    be, xp = m._be, m._be.xp
    nxx = float(xp.linalg.norm(m.sxx))
    nyy = float(xp.linalg.norm(m.syy))
    notes = []
    if nxx == 0 or nyy == 0:
        notes.append("a side has no variance (all neurons constant): CKA is 0 by convention")
        sim, coef = 0.0, np.zeros(0)
    else:
        sim = float(xp.linalg.norm(m.sxy)) ** 2 / (nxx * nyy)
        coef = be.to_numpy(be.svdvals(m.sxy)) ** 2 / (nxx * nyy) if spectrum else np.zeros(0)
    return CKAResult(measure="linear_cka", similarity=min(sim, 1.0), coefficients=coef, n=m.n,
                     p=m.p, q=m.q, notes=tuple(notes))
