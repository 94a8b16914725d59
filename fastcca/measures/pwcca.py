"""Projection-weighted CCA (Morcos, Raghu & Bengio 2018, section 2.2), from moments.

Paper definition (``variant="paper"``, the default), for side x with canonical weights A
(k_x, m) and canonical variates ``H = Xc A``: orthonormalise H by QR, ``H = Q R``; the weight of
canonical direction i is ``a_i = sum_j |<q_i, x_j>|`` over the neurons x_j (columns of Xc),
normalised to sum 1; ``similarity = sum_i a_i rho_i``.  From moments: ``R`` is the Cholesky
factor of ``A^T Sxx A`` and ``Q^T Xc = R^-T A^T Sxx``, so no pass over the data is needed.

Reference formula (``variant="reference"``, google/svcca ``pwcca.compute_pwcca``): the
"directions" are ``U^T (X - mean) + mean`` with ``U`` the left singular vectors of
``Sxx^-1/2 Sxy Syy^-1/2`` -- without the ``Sxx^-1/2`` factor and on uncentred activations -- and
the weights project the uncentred activations.  From moments, with ``D = Xc U + 1 mx^T``:
``D^T D = U^T Sxx U + n mx mx^T`` and ``D^T X = U^T Sxx + n mx mx^T``.  The reference weights the
side that keeps fewer neurons; here that is ``side="fewer"`` (its default for this variant),
computed correctly also when the first input keeps more neurons (the reference then indexes
the wrong array, google/svcca PR #9).
"""
from __future__ import annotations

import math

import numpy as np

from .._docstrings import fill as fill_doc
from .._canonical import RANK_TOL, correlate
from .._validation import check_choice, check_nonnegative, check_tolerance
from ..results import PWCCAResult
from ..kernels import _scale
from ._blocks import Side, sides
from ._inputs import as_moments
from ._whitened import Whitened, pair_notes
from .cca import prepare as cca_prepare

VARIANTS = ("paper", "reference")
SIDES = ("x", "y", "fewer")


#: canonical variates keeping less than this fraction of the largest variate variance are
#: ridge-only directions (the null space of a rank-deficient side, lifted only by ``eps I``)
RIDGE_ONLY_VARIANCE = 1e-3


def _projection_weights(be, gram, cross, whitened: bool = True):
    """Row sums of ``|L^-1 cross|`` with ``L L^T = gram``: ``sum_j |<q_i, x_j>|`` for the QR
    basis q of variates whose Gram matrix is ``gram`` and whose products with the neurons are
    ``cross``.  Returns (weights normalised to sum 1, note or None).

    On a rank-deficient side the ridge ``eps I`` lifts null directions into the CCA; their
    variates are zero up to rounding (their Gram entries are cancellation noise, ~1e-6 at
    eps=1e-10), so QR would give them an arbitrary q.  For ``whitened`` variates (unit
    variance by construction, the paper variant) those below ``RIDGE_ONLY_VARIANCE`` of the
    largest get weight 0; dropping zero columns leaves the QR basis of the others as it was
    (Gram-Schmidt order is kept).  The reference variant's directions are not whitened, so no
    such test applies to them."""
    xp = be.xp
    note = None
    d = be.to_numpy(xp.real(xp.diagonal(gram)))
    if whitened and d.size:
        live = d > RIDGE_ONLY_VARIANCE * max(float(d.max()), 0.0)
    else:
        live = np.ones(d.shape[0], dtype=bool)
    weights = np.zeros(d.shape[0])
    if not live.any():
        return weights, "pwcca: every canonical variate has zero variance"
    if not live.all():
        idx = xp.asarray(np.flatnonzero(live))
        gram, cross = gram[idx][:, idx], cross[idx]
        note = (f"pwcca: {int((~live).sum())} canonical variate(s) are ridge-only directions (zero variance "
                "on a rank-deficient side); their weight is 0")
    l = be.cholesky(gram)
    if l is None:
        # dependent variates: a jitter at rounding level keeps the others exact
        jitter = gram.shape[0] * np.finfo(np.float64).eps * float(xp.max(xp.abs(xp.diagonal(gram))))
        l = be.cholesky(gram + jitter * xp.eye(gram.shape[0]))
        note = (note + "; " if note else "pwcca: ") + "canonical variates were linearly dependent; a rounding-level jitter was added"
        if l is None:
            raise np.linalg.LinAlgError("pwcca: the Gram matrix of the canonical variates is not positive definite")
    raw = be.to_numpy(xp.sum(xp.abs(be.solve_lower(l, cross)), axis=1))
    total = raw.sum()
    weights[live] = raw / total if total > 0 else 1.0 / int(live.sum())
    return weights, note


@fill_doc
def pwcca(x, y=None, *, eps: float = 1e-10, variant: str = "paper", side: str | None = None,
          rank_tol: float | None | str = "auto", backend: str = "auto",
          precision: str = "float64") -> PWCCAResult:
    """Projection-weighted CCA similarity of x (n, p) and y (n, q), samples first, or of a Moments.

    Parameters
    ----------
    %(xy)s
    eps : float, default 1e-10
        CCA regularisation (see :func:`fastcca.cca`).
    variant : {"paper", "reference"}
        ``"paper"`` (default): the definition of Morcos et al. 2018.  ``"reference"``: the
        google/svcca ``compute_pwcca`` formula, reproducing its numbers (uncentred activations,
        no whitening in the directions; not permutation invariant).
    side : {"x", "y", "fewer"}, optional
        Whose neurons weight the canonical directions.  Default ``"x"`` for the paper variant
        (PWCCA is not symmetric: ``pwcca(x, y)`` weights by x's neurons), ``"fewer"`` (the side
        keeping fewer neurons, ties to x) for the reference variant.
    rank_tol : float in [0, 1), None or "auto"
        The data-rank rule of :func:`fastcca.cca`.  ``"auto"`` (default): 1e-12 for the paper
        variant (rank-deficient directions leave the CCA), None for the reference variant (they
        stay, as in the reference code, whose formula needs one direction per kept neuron).
    %(backend)s
    %(precision)s

    Returns
    -------
    PWCCAResult
        ``similarity = sum_i weights_i coefficients_i``; ``distance = 1 - similarity``;
        ``weights`` sum to 1.

    Raises
    ------
    ValueError, TypeError, FloatingPointError, fastcca.BackendUnavailableError
        As :func:`fastcca.cca` (each bad array or argument named, with what was received; fewer
        than 2 datapoints; an inf/NaN state), plus an unknown ``variant`` or ``side``, and the
        reference formula's side error.

    Notes
    -----
    Morcos et al. 2018, section 2.2: with the canonical variates ``H = Xc A`` and their QR
    basis ``Q`` (whose ``R`` is the Cholesky factor of ``A^T Sxx A``), the weight of direction i
    is ``a_i = sum_j |<q_i, x_j>| = sum_j |(R^-T A^T Sxx)_ij|``, normalised to sum 1.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2000, 10))
    >>> y = x[:, :5] + 0.5 * rng.standard_normal((2000, 5))   # canonical correlations ~0.89
    >>> r = fastcca.pwcca(x, y)
    >>> round(float(r.weights.sum()), 6), r.side, r.variant
    (1.0, 'x', 'paper')
    >>> round(r.distance, 2)
    0.11
    """
    variant = check_choice(variant, "variant", VARIANTS)
    side = check_choice("x" if side is None and variant == "paper" else side or "fewer", "side", SIDES)
    eps = check_nonnegative(eps, "eps")
    if isinstance(rank_tol, str) and rank_tol == "auto":
        rank_tol = RANK_TOL if variant == "paper" else None
    else:
        rank_tol = check_tolerance(rank_tol, "rank_tol")
    m = as_moments(x, y, backend, precision, what="pwcca")
    sx, sy, sxy = sides(m)
    kw = dict(eps=eps, rank_tol=rank_tol, variant=variant)
    return pair(m._be, prepare(sx, **kw), prepare(sy, **kw), sxy, variant=variant, side=side, stacklevel=5)


def prepare(side: Side, *, eps: float = 1e-10, rank_tol: float | None = RANK_TOL,
            variant: str = "paper") -> Whitened:
    """One side of PWCCA: :func:`fastcca.measures.cca.prepare`, with the reference variant's
    symmetric whitening (its formula depends on the SVD's own vectors).  ``rank_tol``: a float or
    None (``"auto"`` resolved by the caller)."""
    return cca_prepare(side, eps=eps, rank_tol=rank_tol, symmetric=(variant == "reference"))


def pair(be, pa: Whitened, pb: Whitened, sab, *, variant: str = "paper", side: str = "x",
         report: bool = True, stacklevel: int = 4) -> PWCCAResult:
    """PWCCA of two prepared sides (:func:`prepare`, same ``variant``) and their cross scatter
    ``sab`` (p_a, p_b); ``side`` in {"x", "y", "fewer"}.  ``report`` as in
    :func:`fastcca.measures.cca.pair` (the projection-weight notes are always given)."""
    xp = be.xp
    n = pa.side.n
    # the paper variant with a fixed side needs that side's vectors only (cheaper); the reference
    # variant keeps the SVD's own vectors (its formula depends on their signs)
    want = side if (variant == "paper" and side in ("x", "y")) else True
    sol = correlate(be, pa.w, pb.w, sab, vectors=want)
    if side == "fewer":
        side = "x" if sol.wx.kept.sum() <= sol.wy.kept.sum() else "y"
    w = sol.wx if side == "x" else sol.wy
    s_full, mean_full = (pa.side.s, pa.side.mean) if side == "x" else (pb.side.s, pb.side.mean)
    idx = xp.asarray(np.flatnonzero(w.kept))
    s_kept = s_full[idx][:, idx]
    rho = sol.rho
    notes = pair_notes("PWCCA", pa, pb, rho.size, stacklevel=stacklevel) if report else []
    if rho.size == 0:
        weights = np.zeros(0)
    elif variant == "paper":
        a = sol.weights(be, side)                       # (k_side, m)
        cross = a.T @ s_kept                            # A^T Sxx, (m, k_side)
        weights, note = _projection_weights(be, cross @ a, cross)
        notes += [note] if note else []
    else:
        u = sol.u if side == "x" else sol.v             # (k_side, m)
        if u.shape[0] != u.shape[1]:
            raise ValueError(
                f"side: the reference formula needs the side with fewer kept neurons; side {side!r} keeps "
                f"{u.shape[0]} neurons but there are only {u.shape[1]} canonical correlations. "
                "Use side='fewer' or variant='paper'"
                + (", or rank_tol=None (a rank-deficient side's directions then stay)."
                   if pa.rank_tol is not None else "."))
        mk = mean_full[idx]
        us = u.T @ s_kept
        # the weights do not change when D^T D and D^T X are divided by one positive number: a
        # power of two keeps n mx mx^T finite for means far larger than the spread
        top = float(xp.max(xp.abs(mk))) if mk.size else 0.0
        t = max(0, math.frexp(top)[1] - 200) if top > 0 else 0
        if t:
            mk = _scale.scale_pow2(mk, -t)
            us = _scale.scale_pow2(us, -2 * t)
        outer = n * xp.outer(mk, mk)
        weights, note = _projection_weights(be, us @ u + outer, us + outer, whitened=False)   # D^T D, D^T X
        notes += [note] if note else []
    sim = float(np.dot(weights, rho)) if rho.size else 0.0
    return PWCCAResult(measure="pwcca", similarity=sim, coefficients=rho, n=n, p=pa.side.p, q=pb.side.p,
                       notes=tuple(notes), weights=weights, side=side, variant=variant)
