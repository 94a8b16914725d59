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

    Parameters
    ----------
    x, y : array-like or Moments
        Activations x (n, p) and y (n, q), samples first (rows are the same n datapoints),
        float64 / float32 / float16 / integer / bfloat16 NumPy arrays, CPU or CUDA torch
        tensors, CuPy arrays; or a :class:`fastcca.Moments` as ``x`` with ``y`` omitted.
    spectrum : bool, default False
        Also return, as ``coefficients``, the contributions
        ``sigma_i(Sxy)^2 / (||Sxx||_F ||Syy||_F)`` (descending, summing to the similarity); it
        costs the singular values of the (p, q) cross block, so it is off by default (empty).
    backend : {"auto", "cpu", "cuda"}
        Where the moments pass runs; ``"auto"`` follows the input (see :func:`fastcca.get_backend`).
    precision : {"float64", "float32"}
        Arithmetic of the moments pass over arrays (see :class:`fastcca.Moments`); ignored for a
        Moments input.  A float32 result carries its estimated error in ``notes``.

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
    FloatingPointError
        The moments hold inf/NaN (never from finite input; docs/numerics.md).
    fastcca.BackendUnavailableError
        ``backend="cuda"`` without CuPy or a GPU.

    Notes
    -----
    Kornblith et al. 2019, equation for linear CKA.  It whitens nothing, so it is defined for
    n < p and its float32 error stays at rounding level; it is invariant to orthogonal maps and
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
        sim = float((frobenius(xp, m.sxy) / den) ** 2)
        coef = (be.to_numpy(be.svdvals(m.sxy)) / den) ** 2 if spectrum else np.zeros(0)
    return CKAResult(measure="linear_cka", similarity=min(sim, 1.0), coefficients=coef, n=m.n,
                     p=m.p, q=m.q, notes=tuple(notes))
