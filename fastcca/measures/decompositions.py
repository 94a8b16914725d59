"""Partial least squares (PLS-SVD) and PCA as google/svcca offers them (``numpy_pls.py``,
``numpy_pca.py``), from moments.

PLS: the SVD of the cross-covariance ``Cxy = Sxy / (n - 1)`` (the reference uses
``numpy.cov``, ddof=1): ``Cxy = U diag(s) V^T``; the columns of U and V are the PLS directions
(the reference's ``neuron_coeffs1`` rows / ``neuron_coeffs2`` rows) and ``s`` its
``eigenvals``.  Each pair of directions maximises the covariance of the scores ``Xc u``,
``Yc v`` (Wold 1975; Hoskuldsson 1988), where CCA maximises their correlation.

PCA: the eigendecomposition of ``Sxx``: singular values of the centred data ``sqrt(lam)``,
components the eigenvectors.  The reference's ``get_pca`` centres each datapoint across its
neurons (``np.mean(acts, axis=0)`` on (neurons, datapoints) arrays) rather than each neuron
across datapoints; ``variant="reference"`` reproduces that: its scatter is
``P (Sxx + n m m^T) P`` with ``P = I - 1 1^T / p``, again a function of the moments.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_batchable, check_choice, check_optional_count
from ..moments import Moments
from ..results import PCAResult, PLSResult
from ._blocks import Side, eigh_desc, reported_in_units, sides, sign_by_largest
from ._inputs import as_moments, check_not_other_moments
from ._precision import direction_inflation, float32_error_notes

PCA_VARIANTS = ("paper", "reference")


def pls_pair(be, a: Side, b: Side, sab, n_components=None, measure: str = "pls",
             report: bool = True) -> PLSResult:
    """PLS of two sides with cross scatter ``sab`` (stored units ``2**(e_a + e_b)``);
    ``report=False``: the float32 note without its warning (a grid warns once)."""
    xp = be.xp
    u, s, vh = be.svd(sab)
    k = int(s.shape[0]) if n_components is None else min(n_components, int(s.shape[0]))
    u, s, v = u[:, :k], s[:k], vh[:k].T
    u, v = sign_by_largest(be, u, v)
    s_h = np.maximum(be.to_numpy(s), 0.0)
    # score variances u^T Saa u, v^T Sbb v (stored units; the correlation is scale-free)
    va = np.maximum(be.to_numpy(xp.sum((a.s @ u) * u, axis=0)), 0.0)
    vb = np.maximum(be.to_numpy(xp.sum((b.s @ v) * v, axis=0)), 0.0)
    den = np.sqrt(va) * np.sqrt(vb)
    ok = den > 0
    corr = np.zeros(k)
    corr[ok] = np.minimum(s_h[ok] / den[ok], 1.0)
    notes = []
    if a.float32 or b.float32:
        notes += float32_error_notes(measure, {"sides x and y": score_inflation(be, a, b, u, v, va, vb, corr)},
                                     factor="score-variance inflation", values="the correlations of the weak pairs",
                                     cause="weak PLS directions of nearly collinear neurons in", warn=report)
    if s_h.sum() > 0:
        sim = float(np.dot(s_h, corr) / s_h.sum())
        share = (s_h / s_h.max()) ** 2
        share /= share.sum()
    else:
        sim, share = 0.0, np.zeros(k)
        notes.append("the cross-covariance is zero (a constant side, or no shared variation): similarity 0")
    n = a.n
    cov_sv, big = reported_in_units(s_h / max(n - 1, 1), a.exponent + b.exponent, "the cross-covariance's singular values")
    notes += big
    return PLSResult(measure=measure, similarity=sim, coefficients=cov_sv, n=int(n), p=a.p, q=b.p,
                     notes=tuple(notes), correlations=corr, x_directions=be.to_numpy(u),
                     y_directions=be.to_numpy(v), covariance_explained=share)


def score_inflation(be, a: Side, b: Side, u, v, va, vb, corr) -> float:
    """How much PLS amplifies float32 rounding in the score correlations ``r_k = s_k /
    sqrt(va_k vb_k)``: with ``cx_k = u_k^T diag(Sxx) u_k / va_k`` and ``cy_k`` likewise
    (:func:`fastcca.measures._precision.direction_inflation`), a scatter error ``|dS_ij| ~ u
    sqrt(S_ii S_jj)`` moves ``s_k`` by about ``u sqrt(cx_k cy_k)`` relative to ``sqrt(va_k vb_k)``
    and the score variances by ``u cx_k``, ``u cy_k`` relative, so ``r_k`` by about
    ``u (sqrt(cx_k cy_k) + r_k (cx_k + cy_k) / 2)``; the largest over the pairs.  Large for the
    weak pairs of nearly collinear neurons (score variance far below the neurons')."""
    if len(corr) == 0:
        return 0.0
    cx, cy = direction_inflation(be, a.s, u, va), direction_inflation(be, b.s, v, vb)
    return float(np.max(np.sqrt(cx * cy) + corr * (cx + cy) / 2.0))


def pls(x, y=None, *, n_components: int | None = None, backend: str = "auto",
        precision: str = "float64") -> PLSResult:
    """Partial least squares (PLS-SVD) of x (n, p) and y (n, q), samples first, or of a Moments.

    Parameters
    ----------
    x, y, backend, precision
        As in :func:`fastcca.shape_metric`: two activation arrays or one Moments.  A float32
        result estimates the error of its score correlations (``2^-24 x`` the score-variance
        inflation of :func:`fastcca.measures.decompositions.score_inflation`; above 1e-5 a note
        and a :class:`fastcca.Float32PrecisionWarning`): weak pairs of nearly collinear neurons
        lose them.  The similarity, singular values and covariance shares stayed at rounding
        level (at most 2.3e-7 measured; docs/definitions.md, *Precision*).
    n_components : int, optional
        Keep the leading pairs only (default: all ``min(p, q)``).

    Returns
    -------
    PLSResult
        ``coefficients``: singular values of the cross-covariance (ddof=1), descending, in the
        data's units; ``x_directions``/``y_directions``; ``correlations`` of the score pairs;
        ``similarity = sum_i s_i r_i / sum_i s_i``.

    Raises
    ------
    ValueError, TypeError, fastcca.BackendUnavailableError
        As :func:`fastcca.shape_metric`, plus a bad ``n_components``.

    Notes
    -----
    google/svcca ``numpy_pls.get_pls_similarity`` (``np.cov`` then ``np.linalg.svd``): the same
    singular values and directions (up to sign), without forming the (p + q)^2 covariance.  PLS
    weighs neurons by their magnitude (it is not invariant to rescaling single neurons, unlike
    CCA); its directions are invariant to rotations of either side.  The similarity is this
    library's summary (the reference returns none): 1 when the score pairs are perfectly
    correlated, weighted towards the pairs that carry the cross-covariance.  docs/measures.md.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((1000, 5))
    >>> r = fastcca.pls(x, x[:, :3] * [3.0, 2.0, 1.0])
    >>> np.round(r.coefficients)                         # ~ the shared variances 3, 2, 1
    array([3., 2., 1.])
    """
    n_components = check_optional_count(n_components, "n_components")
    m = as_moments(x, y, backend, precision, what="pls")
    sx, sy, sxy = sides(m)
    return pls_pair(m._be, sx, sy, sxy, n_components)


def pca(x, *, side: str = "x", n_components: int | None = None, variant: str = "paper",
        backend: str = "auto", precision: str = "float64") -> PCAResult:
    """Principal component analysis of activations x (n, p), samples first, or of one side of a Moments.

    Parameters
    ----------
    x : array-like (n, p) or Moments
        Activations, samples first (any input :func:`fastcca.cca` accepts), or a
        :class:`fastcca.Moments` (then ``side`` picks x or y; no pass over the data).
    side : {"x", "y"}, default "x"
        Which side of a Moments.
    n_components : int, optional
        Keep the leading components only (default: all p).
    variant : {"paper", "reference"}, default "paper"
        ``"paper"``: PCA of the neurons centred over datapoints (scikit-learn's ``PCA``).
        ``"reference"``: google/svcca ``numpy_pca.get_pca``, which centres each datapoint over
        its neurons instead (its ``np.mean(acts, axis=0)`` on (neurons, datapoints) arrays).
    backend, precision
        As in :func:`fastcca.shape_metric`.  A float32 result estimates the relative error of
        its weakest reported component's variance, ``2^-24 max_k v_k^T diag(S) v_k / lam_k``
        (above 1e-5 a note and a :class:`fastcca.Float32PrecisionWarning`; ``n_components``
        leaves the weak ones out of it); the explained-variance ratios
        stayed within 3e-8 of float64 in absolute terms (docs/definitions.md, *Precision*).
        The components are not estimated: within nearly equal eigenvalues they are not
        determined, in float64 either.

    Returns
    -------
    PCAResult
        ``singular_values``, ``explained_variance``, ``explained_variance_ratio``,
        ``components`` (k, p), ``mean``.

    Raises
    ------
    ValueError
        Wrong rank, empty input, NaN/Inf, an unknown ``side`` or ``variant``, a bad
        ``n_components``, or an empty Moments.
    TypeError
        Complex or non-numeric input.
    FloatingPointError
        Singular values that do not fit in float64 in the data's units.
    fastcca.BackendUnavailableError
        ``backend="cuda"`` without CuPy or a GPU.

    Notes
    -----
    From the scatter ``Sxx = V diag(lam) V^T``: singular values ``sqrt(lam)``, explained
    variance ``lam / (n - 1)``; an ``eigh`` of a (p, p) block instead of an SVD of the (n, p)
    data.  Matches ``sklearn.decomposition.PCA`` (full SVD) to rounding, signs included (the
    largest entry of each component positive).

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((500, 2)) @ [[3.0, 0.0], [0.0, 0.5]]
    >>> np.round(np.abs(fastcca.pca(x).components), 1)
    array([[1., 0.],
           [0., 1.]])
    """
    side = check_choice(side, "side", ("x", "y"))
    variant = check_choice(variant, "variant", PCA_VARIANTS)
    n_components = check_optional_count(n_components, "n_components")
    check_not_other_moments(x, "x")
    if isinstance(x, Moments):
        m = as_moments(x, None, backend, precision, what="pca")
    else:
        x = check_batchable(x, "x", 2)
        m = as_moments(x, x, backend, precision, what="pca")
    sx, sy, _ = sides(m)
    s = sx if side == "x" else sy
    be, xp = m._be, m._be.xp
    block = s.s
    if variant == "reference":
        p = s.p
        centre = xp.eye(p) - 1.0 / p
        block = centre @ (s.s + m.n * xp.outer(s.mean, s.mean)) @ centre
    lam, vecs = eigh_desc(be, block)
    k = len(lam) if n_components is None else min(n_components, len(lam))
    vecs, _ = sign_by_largest(be, vecs[:, :k])
    f32 = []
    if s.float32:
        # a component's variance lam_k moves by ~ u v_k^T diag(S) v_k: relative u c_k
        c = direction_inflation(be, block, vecs, lam[:k])
        f32 = float32_error_notes("pca", {f"side {s.label}": float(c.max(initial=0.0))},
                                  factor="component-variance inflation",
                                  values="the variances and singular values of the weakest components (relative)",
                                  cause="weak components of nearly collinear neurons in", stacklevel=3)
    total = lam.sum()
    sv, big = reported_in_units(np.sqrt(lam[:k]), s.exponent, "the singular values")
    var, big2 = reported_in_units(lam[:k] / max(m.n - 1, 1), 2 * s.exponent, "the explained variances")
    ratio = lam[:k] / total if total > 0 else np.zeros(k)
    notes = ([] if total > 0 else ["every neuron is constant: no variance to explain"]) + big + big2 + f32
    mean = None
    if variant == "paper":
        mean, big3 = reported_in_units(be.to_numpy(s.mean), s.exponent, "the means")
        notes += big3
    return PCAResult(n=int(m.n), p=s.p, singular_values=sv, explained_variance=var,
                     explained_variance_ratio=ratio, components=be.to_numpy(vecs).T.copy(), mean=mean,
                     variant=variant, notes=tuple(notes))
