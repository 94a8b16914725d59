"""Linear CKA (Kornblith, Norouzi, Lee & Hinton 2019, eq. 3 with a linear kernel), from moments:

    CKA(X, Y) = ||Sxy||_F^2 / (||Sxx||_F ||Syy||_F),   scatter blocks of the centred data.
"""
from __future__ import annotations

import numpy as np

from .._docstrings import fill as fill_doc
from ..results import CKAResult
from ._blocks import Side, sides
from ._inputs import as_moments, check_not_other_moments


def frobenius(xp, a) -> float:
    """``||a||_F`` without overflow or underflow of the squares (``numpy.linalg.norm`` squares the
    entries, which overflows above ~1e154): the plain norm when it lies well inside the range
    (always, for the scaled state of ``fastcca.kernels._scale``), else the norm of ``a`` divided by its
    largest |entry| first."""
    v = float(xp.linalg.norm(a))
    if 1e-140 < v < 1e140:
        return v
    top = float(xp.max(xp.abs(a))) if a.size else 0.0
    if top == 0.0 or not np.isfinite(top):
        return top
    return top * float(xp.linalg.norm(a / top))


@fill_doc
def linear_cka(x, y=None, *, spectrum: bool = False, backend: str = "auto",
               precision: str = "float64") -> CKAResult:
    """Linear CKA similarity of x (n, p) and y (n, q), samples first, or of a Moments.

    Parameters
    ----------
    %(xy)s
    spectrum : bool, default False
        Also return, as ``coefficients``, the contributions
        ``sigma_i(Sxy)^2 / (||Sxx||_F ||Syy||_F)`` (descending, summing to the similarity); it
        costs the singular values of the (p, q) cross block, so it is off by default (empty).
    %(backend)s
    %(precision)s

    Returns
    -------
    CKAResult
        ``similarity = ||Sxy||_F^2 / (||Sxx||_F ||Syy||_F)`` on centred data, in [0, 1].

    Raises
    ------
    ValueError
        Mismatched datapoint counts, wrong rank, empty input, NaN/Inf, an unknown choice, an
        empty Moments, or fewer than 2 datapoints (also after merges).
    TypeError
        A Moments together with ``y``, ``y`` missing, a ConvMoments or JointMoments, complex,
        masked, sparse or iterator input.
    %(raises_nonfinite)s

    Notes
    -----
    Kornblith et al. 2019, equation for linear CKA.  It whitens nothing, so it is defined for
    n < p and its float32 error stays at rounding level (at most 6.7e-8 measured, from benign to
    nearly collinear data; no per-call estimate); it is invariant to orthogonal maps and
    isotropic scaling of either side, not to every invertible linear map.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((500, 8))
    >>> q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    >>> round(fastcca.linear_cka(x, 3 * x @ q).similarity, 6)     # rotated and scaled copy
    1.0
    """
    m = as_moments(x, y, backend, precision, what="linear_cka")
    sx, sy, sxy = sides(m)
    return pair(m._be, prepare(sx), prepare(sy), sxy, spectrum=spectrum)


def prepare(side: Side) -> tuple[Side, float]:
    """One side of linear CKA: the side and the Frobenius norm of its scatter block."""
    return side, frobenius(side.be.xp, side.s)


def pair(be, pa, pb, sab, *, spectrum: bool = False) -> CKAResult:
    """Linear CKA of two prepared sides (:func:`prepare`) and their cross scatter ``sab``."""
    (sa, nxx), (sb, nyy) = pa, pb
    notes = []
    if nxx == 0 or nyy == 0:
        notes.append("a side has no variance (all neurons constant): CKA is 0 by convention")
        sim, coef = 0.0, np.zeros(0)
    else:
        # ||Sxy|| / sqrt(||Sxx|| ||Syy||) is scale-free; squaring it last never overflows
        den = np.sqrt(nxx) * np.sqrt(nyy)
        sim = float((frobenius(be.xp, sab) / den) ** 2)
        coef = (be.to_numpy(be.svdvals(sab)) / den) ** 2 if spectrum else np.zeros(0)
    return CKAResult(measure="linear_cka", similarity=min(sim, 1.0), coefficients=coef, n=sa.n,
                     p=sa.p, q=sb.p, notes=tuple(notes))


def debiased_cka(x, y=None, *, backend: str = "auto", precision: str = "float64") -> CKAResult:
    """Debiased linear CKA of x (n, p) and y (n, q), samples first, or of a Moments kept with ``debiased_cka=True``.

    Parameters
    ----------
    x, y : array-like or Moments
        Activations x (n, p) and y (n, q), samples first, any input :func:`fastcca.cca` accepts;
        or a :class:`fastcca.Moments` made with ``debiased_cka=True`` as ``x`` (``y`` omitted).
    backend, precision
        As in :func:`fastcca.linear_cka`.  Its float32 error stayed at rounding level (at most
        6.7e-8 measured, 2.5e-7 on unrelated sides with n = 12, p = 20,000 where the unbiased
        estimator cancels most; docs/definitions.md, *Precision*): no per-call estimate.

    Returns
    -------
    CKAResult
        ``similarity = HSIC_u(K, L) / sqrt(HSIC_u(K, K) HSIC_u(L, L))`` with linear kernels;
        ``coefficients`` empty.  It can be slightly negative for unrelated representations
        (the estimator is unbiased, not clipped).

    Raises
    ------
    ValueError
        A Moments without the statistics (made without ``debiased_cka=True``), fewer than 4
        datapoints (the estimator needs n >= 4), and every error of :func:`fastcca.linear_cka`.
    TypeError, FloatingPointError, fastcca.BackendUnavailableError
        As :func:`fastcca.linear_cka`.

    Notes
    -----
    The unbiased HSIC estimator of Song et al. (2012, JMLR 13, Theorem 1), as used for
    minibatch CKA by Nguyen, Raghu & Kornblith (2021, "Do wide and deep networks learn the same
    things?"), computed exactly in one streaming pass: besides the moments it needs
    ``sum_i |x_i|^4``, ``sum_i |y_i|^4``, ``sum_i |x_i|^2 |y_i|^2`` of the centred rows, and four
    vectors that keep those exact when shards merge (``fastcca._hsic``).  Equal to the O(n^2)
    Gram-matrix formula to rounding.  Unlike :func:`fastcca.linear_cka`, whose value is biased
    upward when n is not >> p (two unrelated wide layers score well above 0), its expectation
    for independent representations is ~0.  docs/measures.md.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(1)
    >>> x, y = rng.standard_normal((100, 50)), rng.standard_normal((100, 50))   # unrelated, n ~ p
    >>> round(fastcca.linear_cka(x, y).similarity, 2), round(fastcca.debiased_cka(x, y).similarity, 2)
    (0.34, 0.01)
    """
    from .._hsic import unbiased_hsic
    from ..moments import Moments
    if isinstance(x, Moments):
        m = as_moments(x, y, backend, precision, what="debiased_cka")
        if m._hsic is None:
            raise ValueError("x: this Moments keeps no debiased-CKA statistics; make it with "
                             "fastcca.Moments(debiased_cka=True) (or pass the two arrays)")
    else:
        from .._validation import check_batchable
        from ..backend import get_backend
        check_not_other_moments(x, "x")
        check_not_other_moments(y, "y")
        if y is None:
            raise TypeError("y: missing; pass two activation arrays x (n, p) and y (n, q), or a Moments as x")
        get_backend(backend, x, y)
        m = Moments(backend, precision, debiased_cka=True)._fill_from_arrays(
            check_batchable(x, "x", 2), check_batchable(y, "y", 2), None)
        m = as_moments(m, None, backend, precision, what="debiased_cka")
    if m.n < 4:
        raise ValueError(f"debiased_cka: n={m.n} datapoints; the unbiased HSIC estimator needs n >= 4")
    xp, h, n = m._be.xp, m._hsic, m.n
    tx, ty = float(xp.trace(m.sxx)), float(xp.trace(m.syy))
    hxy = unbiased_hsic(n, frobenius(xp, m.sxy) ** 2, tx, ty, h.ab)
    hxx = unbiased_hsic(n, frobenius(xp, m.sxx) ** 2, tx, tx, h.a2)
    hyy = unbiased_hsic(n, frobenius(xp, m.syy) ** 2, ty, ty, h.b2)
    notes = []
    if hxx <= 0 or hyy <= 0:
        notes.append(f"the unbiased HSIC of a side with itself is not positive (x: {hxx:.3g}, y: {hyy:.3g}; "
                     "a constant side, or too few datapoints): debiased CKA is 0 by convention")
        sim = 0.0
    else:
        sim = hxy / (np.sqrt(hxx) * np.sqrt(hyy))
    return CKAResult(measure="debiased_cka", similarity=float(min(sim, 1.0)), coefficients=np.zeros(0), n=n,
                     p=m.p, q=m.q, notes=tuple(notes))
