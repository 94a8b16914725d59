"""SVCCA (Raghu, Gilmer, Yosinski & Sohl-Dickstein 2017, section 2): keep each side's top
singular directions, then CCA between the reduced representations -- all from moments.

The singular values of the centred activations are ``sqrt(lambda)`` for the eigenvalues
``lambda`` of the scatter block, so the SV step is an eigendecomposition of a (p, p) block,
never an SVD of the (n, p) data.  With ``P_k`` the top-k eigenvectors, the reduced moments are

    Sxx_k = diag(lambda_k),  Syy_k = diag(mu_k),  Sxy_k = Px_k^T Sxy Py_k,

and CCA of these equals CCA of the projected data ``Xc Px_k``, ``Yc Py_k`` (what the tutorial
code computes after ``np.linalg.svd``).
"""
from __future__ import annotations

import numpy as np

from .._docstrings import fill as fill_doc
from ..kernels import _scale
from .._canonical import RANK_TOL
from .._validation import check_choice, check_fraction_or_count, check_nonnegative, check_tolerance
from ..results import SVCCAResult
from .cca import pair as cca_pair
from ._blocks import Side, sides
from ._inputs import as_moments
from ._whitened import Whitened, whiten_side

KEEP_RULES = ("sum", "variance")


def count_to_keep(values: np.ndarray, keep: float | int, weights: np.ndarray | None = None) -> int:
    """SVCCA's keep rule: the smallest k with ``sum(values[:k]) / sum(values) >= keep`` for a
    fraction ``keep`` (values descending, >= 0: singular values, or variances), or the smallest k
    whose directions number ``keep`` for an int.  ``weights``: how many copies each value stands
    for (the conv fft mode's conjugate frequency pairs), in both rules."""
    if isinstance(keep, int):
        copies = np.cumsum(weights) if weights is not None else np.arange(1, len(values) + 1)
        return int(min(np.searchsorted(copies, keep, side="left") + 1, len(values)))
    if weights is not None:
        values = values * weights
    cum = np.cumsum(values)
    # the total is the last partial sum, not values.sum(): a differently rounded sum left the
    # fraction at 1 - 2^-53 after the last positive value, so keep=1.0 also kept the zeros
    total = cum[-1] if len(cum) else 0.0
    if total <= 0:
        return 0
    frac = cum / total
    return int(min(np.searchsorted(frac, keep, side="left") + 1, len(values)))


def top_directions(be, s, keep, rule: str):
    """Top singular directions of the centred data behind scatter block ``s`` (p, p).

    Returns ``(k, lam, vecs)``: eigenvalues ``lam`` (descending; all of them unless a
    truncated solver ran, then at least the top k) and the top-k eigenvectors (p, k).

    keep: int k -> k directions (top-k subset solver, no full eigh);
          float f with rule "sum" -> smallest k whose singular values reach f of their sum (the
          papers' rule; needs every eigenvalue, so a full eigh);
          float f with rule "variance" -> smallest k whose variances reach f of the trace (the
          trace is known, so a truncated solver grows k until the fraction is reached).
    """
    xp = be.xp
    p = s.shape[0]
    if isinstance(keep, int):
        k = min(keep, p)
        lam, vecs = be.eigh_top(s, k)
        return k, np.maximum(be.to_numpy(lam), 0.0), vecs
    if rule == "variance":
        trace = float(xp.trace(s))
        k_try = max(16, p // 32)
        while True:
            lam, vecs = be.eigh_top(s, min(k_try, p))
            lam_h = np.maximum(be.to_numpy(lam), 0.0)
            if trace <= 0:
                return 0, lam_h, vecs[:, :0]
            frac = np.cumsum(lam_h) / trace
            if frac[-1] >= keep or k_try >= p:
                k = int(min(np.searchsorted(frac, keep, side="left") + 1, len(lam_h)))
                return k, lam_h, vecs[:, :k]
            k_try *= 2
    w, v = be.eigh(s)
    lam_h = np.maximum(be.to_numpy(w)[::-1], 0.0)
    k = count_to_keep(np.sqrt(lam_h), keep)
    return k, lam_h, v[:, ::-1][:, :k]


def kept_space_inflation(be, s, lam, vecs) -> float:
    """The largest variance inflation factor of the kept singular directions, in neuron
    coordinates: ``max_i S_ii sum_j P_ij^2 / lambda_j`` (``S_ii (S_k^+)_ii`` with ``S_k`` the
    rank-k part of ``s`` that SVCCA whitens); 0 when nothing is kept."""
    xp = be.xp
    k = vecs.shape[1]
    lam_k = np.asarray(lam[:k], dtype=np.float64)
    if k == 0 or not (lam_k > 0).any():
        return 0.0
    inv = xp.asarray(np.where(lam_k > 0, 1.0 / np.where(lam_k > 0, lam_k, 1.0), 0.0))
    return float(xp.max(xp.diagonal(s) * ((vecs * vecs) @ inv)))


@fill_doc
def svcca(x, y=None, *, keep: float | int = 0.99, keep_rule: str = "sum", eps: float = 1e-10,
          rank_tol: float | None = RANK_TOL, directions: bool = False, backend: str = "auto",
          precision: str = "float64") -> SVCCAResult:
    """SVCCA similarity of x (n, p) and y (n, q), samples first, or of a Moments.

    Parameters
    ----------
    %(xy)s
    keep : float in (0, 1] or int, default 0.99
        A float keeps, per side, the fewest top singular directions whose singular values reach
        that fraction of the sum of all singular values (the papers' rule: singular values, not
        variances); an int keeps that many directions.
    keep_rule : {"sum", "variance"}
        For a float ``keep``: ``"sum"`` (default, the papers') or ``"variance"`` (fraction of
        the total variance, i.e. of the squared singular values, as in the SVCCA tutorials'
        99%-variance examples).
    eps : float, default 1e-10
        Regularisation of the CCA on the reduced moments (see :func:`fastcca.cca`).
    rank_tol : float in [0, 1) or None, default 1e-12
        The data-rank rule of :func:`fastcca.cca`, applied to the kept directions (relative to
        the side's largest singular value squared): kept directions of (near-)zero variance,
        e.g. an int ``keep`` above the data rank, leave the CCA (None keeps them).
    directions : bool, default False
        Also return the kept singular directions ``x_directions`` (p, k_x), ``y_directions``
        (q, k_y) and the SVCCA weights ``x_weights`` (p, m), ``y_weights`` (q, m) in neuron
        space, so that ``(X - mean_x) @ x_weights`` are the SVCCA variates (unit variance,
        ddof=1; ``corr`` of the i-th pair = ``coefficients[i]``).  Costs a (k, m) solve and a
        (p, k) @ (k, m) product per side; the decompositions are the ones SVCCA ran anyway.
    %(backend)s
    %(precision)s

    Returns
    -------
    SVCCAResult
        ``similarity``: mean of the ``min(k_x, k_y)`` canonical correlations; ``k_x``, ``k_y``:
        the directions kept; ``singular_values_x``, ``singular_values_y``; with
        ``directions=True`` also ``x_directions``, ``y_directions``, ``x_weights``, ``y_weights``.

    Raises
    ------
    ValueError, TypeError, FloatingPointError, fastcca.BackendUnavailableError
        As :func:`fastcca.cca` (each bad array or argument named, with what was received; fewer
        than 2 datapoints; an inf/NaN state), plus a ``keep`` that is neither a fraction in
        (0, 1] nor a positive count.

    Notes
    -----
    Raghu et al. 2017, section 2.  The singular values of centred X are ``sqrt(lambda)`` for
    the eigenvalues of ``Sxx``, so the SV step is an ``eigh`` of a (p, p) block, never an SVD of
    the (n, p) data; CCA then runs on the reduced moments ``diag(lambda_k)`` and
    ``Px_k^T Sxy Py_k``.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.standard_normal((2000, 4))
    >>> x = signal @ rng.standard_normal((4, 30)) + 0.01 * rng.standard_normal((2000, 30))
    >>> y = signal @ rng.standard_normal((4, 20)) + 0.01 * rng.standard_normal((2000, 20))
    >>> r = fastcca.svcca(x, y, keep=4)                 # the 4 signal directions of each side
    >>> r.k_x, r.k_y, round(r.similarity, 3)
    (4, 4, 1.0)
    """
    keep = check_fraction_or_count(keep)
    keep_rule = check_choice(keep_rule, "keep_rule", KEEP_RULES)
    eps = check_nonnegative(eps, "eps")
    rank_tol = check_tolerance(rank_tol, "rank_tol")
    m = as_moments(x, y, backend, precision, what="svcca")
    sx, sy, sxy = sides(m)
    kw = dict(keep=keep, keep_rule=keep_rule, eps=eps, rank_tol=rank_tol)
    return pair(m._be, prepare(sx, **kw), prepare(sy, **kw), sxy, directions=bool(directions), stacklevel=6)


def prepare(side: Side, *, keep: float | int = 0.99, keep_rule: str = "sum", eps: float = 1e-10,
            rank_tol: float | None = RANK_TOL) -> Whitened:
    """One side of SVCCA: its top singular directions (:func:`top_directions`) and the
    whitening of its reduced block ``diag(lambda_k)`` (validated arguments, as :func:`svcca`)."""
    be, xp = side.be, side.be.xp
    k, lam, vecs = top_directions(be, side.s, keep, keep_rule)
    w, notes, rnotes = whiten_side(side, xp.diag(xp.asarray(lam[:k])), eps=eps, rank_tol=rank_tol,
                                   unit="directions", derived=True)
    # the inner CCA sees diag(lambda): the float32 amplification is the kept space's, in neuron terms
    inflation = kept_space_inflation(be, side.s, lam, vecs) if side.float32 else 0.0
    return Whitened(side, w, notes, rnotes, inflation, proj=vecs, lam=lam, eps=eps, rank_tol=rank_tol, keep=keep,
                    keep_rule=keep_rule)


def pair(be, pa: Whitened, pb: Whitened, sab, *, directions: bool = False, report: bool = True,
         stacklevel: int = 5) -> SVCCAResult:
    """SVCCA of two prepared sides (:func:`prepare`) and their cross scatter ``sab`` (p_a, p_b):
    CCA of the reduced cross block ``Pa_k^T Sab Pb_k``.  ``report`` as in
    :func:`fastcca.measures.cca.pair`; ``directions``: as in :func:`svcca` (the inner CCA's
    weights, in the reduced coordinates ``Xc Pa_k``, mapped back through ``Pa_k``)."""
    sab_k = pa.proj.T @ (sab @ pb.proj)
    inner = cca_pair(be, pa, pb, sab_k, weights=directions, measure="cca", what="SVCCA", report=report,
                     stacklevel=stacklevel)
    extra = {}
    if directions:
        px, py = _signed_columns(be.to_numpy(pa.proj)), _signed_columns(be.to_numpy(pb.proj))
        # the reduced coordinates are Xc Pa_k (orthonormal Pa_k: the same units as the neurons), so
        # their canonical weights map to neuron space through Pa_k; a column sign flip of Pa_k flips
        # the matching row of the inner weights, so the product does not depend on the signs
        extra = dict(x_directions=px, y_directions=py, x_weights=be.to_numpy(pa.proj) @ inner.x_weights,
                     y_weights=be.to_numpy(pb.proj) @ inner.y_weights)
    # singular values in the data's units (the state holds each side in units of 2**exponent);
    # inf where float64 cannot hold one
    with np.errstate(over="ignore"):
        sv_x = _scale.scale_pow2(np.sqrt(pa.lam), pa.side.exponent)
        sv_y = _scale.scale_pow2(np.sqrt(pb.lam), pb.side.exponent)
    return SVCCAResult(measure="svcca", similarity=inner.similarity, coefficients=inner.coefficients,
                       n=pa.side.n, p=pa.side.p, q=pb.side.p, notes=inner.notes, k_x=pa.k, k_y=pb.k, keep=pa.keep,
                       keep_rule=pa.keep_rule, singular_values_x=sv_x, singular_values_y=sv_y, cca=inner, **extra)


def _signed_columns(v: np.ndarray) -> np.ndarray:
    """``v`` (p, k) with each column's sign fixed so that its largest-magnitude entry is positive
    (eigenvectors are defined up to sign; this makes them the same on every backend and run)."""
    v = np.array(v, dtype=np.float64)
    if v.size == 0:
        return v
    sign = np.sign(v[np.argmax(np.abs(v), axis=0), np.arange(v.shape[1])])
    return v * np.where(sign == 0, 1.0, sign)
