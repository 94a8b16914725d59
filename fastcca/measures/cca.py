"""CCA and mean CCA (Hotelling 1936; the reference algorithm of Raghu et al. 2017, google/svcca
``cca_core.get_cca_similarity``), from moments.  All conventions live in ``fastcca._canonical``."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .._canonical import RANK_TOL, canonical_correlations, resolve_rank_tol
from .._validation import check_nonnegative, check_threshold, check_tolerance, warn_if_degenerate
from ..results import CCAResult
from ._inputs import as_moments, kept_note, rank_notes
from ._precision import float32_error_notes


def cca_from_blocks(be, n, sxx, syy, sxy, *, eps, rcond=None, rank_tol=RANK_TOL, weights=False,
                    measure="cca", what="CCA", precision="float64", unit="neurons") -> CCAResult:
    """CCA of scatter blocks (used by :func:`cca` and on SVCCA's reduced blocks).
    ``precision``: the arithmetic the blocks were accumulated in; for ``"float32"`` the
    estimated error is checked (:mod:`fastcca.measures._precision`).  ``unit``: what the
    blocks' coordinates are, for the notes ("neurons", or SVCCA's "directions")."""
    p, q = sxx.shape[0], syy.shape[0]
    tol, drop = resolve_rank_tol(rank_tol)
    sol = canonical_correlations(be, sxx, syy, sxy, eps=eps, rcond=rcond, vectors=weights,
                                 rank_tol=tol, drop=drop)
    notes = kept_note("x", sol.wx.kept, eps) + kept_note("y", sol.wy.kept, eps)
    notes += rank_notes("x", sol.wx, rank_tol, unit) + rank_notes("y", sol.wy, rank_tol, unit)
    msg = warn_if_degenerate(n, sol.wx.data_rank, sol.wy.data_rank, what, coefficients=sol.rho.size)
    if msg:
        notes.append(msg)
    if precision == "float32":
        notes += float32_error_notes(what, {"side x": sol.wx.max_variance_inflation(be, sxx),
                                            "side y": sol.wy.max_variance_inflation(be, syy)})
    xw = yw = None
    if weights:
        # unit scatter in the rescaled problem -> unit variance (ddof=1) in data units
        unit = np.sqrt(max(n - 1, 1))
        xw = _full_weights(p, sol.wx.kept, be.to_numpy(sol.weights(be, "x")) * unit / np.sqrt(sol.wx.scale))
        yw = _full_weights(q, sol.wy.kept, be.to_numpy(sol.weights(be, "y")) * unit / np.sqrt(sol.wy.scale))
    rho = sol.rho
    return CCAResult(measure=measure, similarity=float(rho.mean()) if rho.size else 0.0,
                     coefficients=rho, n=int(n), p=p, q=q, notes=tuple(notes),
                     kept_x=sol.wx.kept, kept_y=sol.wy.kept, rank_x=sol.wx.rank, rank_y=sol.wy.rank,
                     eps=eps, x_weights=xw, y_weights=yw, data_rank_x=sol.wx.data_rank,
                     data_rank_y=sol.wy.data_rank, rank_tol=rank_tol)


def _full_weights(p, kept, w):
    out = np.zeros((p, w.shape[1]), dtype=w.dtype)
    out[kept] = w
    return out


def cca(x, y=None, *, eps: float = 1e-10, rcond: float | None = None,
        rank_tol: float | None = RANK_TOL, weights: bool = False, backend: str = "auto",
        precision: str = "float64") -> CCAResult:
    """Canonical correlation analysis of x (n, p) and y (n, q), samples first, or of a Moments.

    Parameters
    ----------
    x, y : array-like (n, p), (n, q), or a :class:`fastcca.Moments` as ``x`` (``y`` omitted).
    eps : float, default 1e-10
        Relative regularisation: neurons with variance below ``eps`` times the largest variance
        of their side are dropped, and ``eps * I`` is added to each rescaled covariance (the
        reference implementation's semantics).  ``eps=0`` is exact CCA with a rank cutoff.
    rcond : float in [0, 1), optional
        Eigenvalue floor of the regularised block, relative to its largest eigenvalue
        (default ``k * 2.2e-16``).
    rank_tol : float in [0, 1) or None, default 1e-12
        Data-rank rule (see ``fastcca._canonical``): directions whose variance (eigenvalue of the
        rescaled scatter, before the ridge) is at most ``rank_tol`` times the largest -- exact or
        rounding-level linear dependencies: duplicated neurons, a widening linear layer, fewer
        datapoints than neurons -- leave the CCA, so ``cca(x, x)`` is 1; ``rank_x``/``rank_y``
        count what is left, ``notes`` says what left.  ``None`` keeps them, lifted by the ridge
        with coefficients ~0 (the reference implementation's behaviour, for parity), and reports
        them in ``notes`` and ``data_rank_x``/``data_rank_y``.
    weights : bool
        Also return canonical weights (``x_weights`` (p, r), ``y_weights`` (q, r)).
    backend : {"auto", "cpu", "cuda"}
    precision : {"float64", "float32"}
        Arithmetic of the moments pass over arrays (see :class:`fastcca.Moments`); ignored for a
        Moments input.  Every measure takes ``backend`` and ``precision``.

    Returns
    -------
    CCAResult
        ``coefficients``: canonical correlations, descending, in [0, 1]; ``similarity``: their
        mean (mean CCA); ``distance = 1 - similarity``.
    """
    eps = check_nonnegative(eps, "eps")
    rcond = check_tolerance(rcond, "rcond")
    rank_tol = check_tolerance(rank_tol, "rank_tol")
    m = as_moments(x, y, backend, precision)
    return cca_from_blocks(m._be, m.n, m.sxx, m.syy, m.sxy, eps=eps, rcond=rcond, rank_tol=rank_tol,
                           weights=weights, precision="float32" if m.float32_products else "float64")


def mean_cca(x, y=None, *, eps: float = 1e-10, threshold: float | None = None,
             rcond: float | None = None, rank_tol: float | None = RANK_TOL,
             backend: str = "auto", precision: str = "float64") -> CCAResult:
    """Mean canonical correlation.  ``threshold=None``: the mean of all coefficients (what the
    SVCCA tutorials call the CCA similarity); a fraction in (0, 1]: the reference ``mean`` over
    the leading coefficients that make up that fraction of their sum
    (``CCAResult.threshold_mean``).  Other arguments as in :func:`cca`."""
    if threshold is not None:
        threshold = check_threshold(threshold)
    r = cca(x, y, eps=eps, rcond=rcond, rank_tol=rank_tol, backend=backend, precision=precision)
    sim = r.similarity if threshold is None else r.threshold_mean(threshold)
    notes = r.notes + ((f"similarity = mean of the leading coefficients reaching {threshold:g} of their sum",)
                       if threshold is not None else ())
    return replace(r, measure="mean_cca", similarity=sim, notes=notes)
