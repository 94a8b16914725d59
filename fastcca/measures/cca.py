"""CCA and mean CCA (Hotelling 1936; the reference algorithm of Raghu et al. 2017, google/svcca
``cca_core.get_cca_similarity``), from moments.  All conventions live in ``fastcca._canonical``."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .._docstrings import fill as fill_doc
from .._canonical import RANK_TOL, correlate
from .._validation import check_nonnegative, check_threshold, check_tolerance
from ..results import CCAResult
from ..kernels import _scale
from ._blocks import Side, sides
from ._inputs import as_moments
from ._whitened import Whitened, pair_notes, whiten_side


def prepare(side: Side, *, eps: float = 1e-10, rcond: float | None = None,
            rank_tol: float | None = RANK_TOL, unit: str = "neurons", derived: bool = False,
            symmetric: bool = False) -> Whitened:
    """One side of a CCA: the regularised whitening of its scatter block (``fastcca._canonical``,
    the ``eps``/``rcond``/``rank_tol`` semantics of :func:`cca`), its notes and, for float32
    products, its largest variance inflation factor.  ``unit``/``derived``: for blocks whose
    coordinates are not neurons (SVCCA's reduced blocks); ``symmetric``: the symmetric inverse
    square root (PWCCA's reference variant)."""
    w, notes, rnotes = whiten_side(side, side.s, eps=eps, rcond=rcond, rank_tol=rank_tol, unit=unit,
                                   derived=derived, symmetric=symmetric)
    return Whitened(side, w, notes, rnotes, w.max_variance_inflation(side.be, side.s) if side.float32 else 0.0,
                    eps=eps, rank_tol=rank_tol)


def pair(be, pa: Whitened, pb: Whitened, sab, *, weights: bool = False, measure: str = "cca",
         what: str = "CCA", report: bool = True, stacklevel: int = 4) -> CCAResult:
    """CCA of two prepared sides (x = ``pa``, y = ``pb``) and their cross scatter ``sab``
    (p_a, p_b), in the sides' units.  ``report``: the single-pair notes and warnings
    (:func:`fastcca.measures._whitened.pair_notes`); a grid passes False and reports per layer."""
    sol = correlate(be, pa.w, pb.w, sab, vectors=weights)
    n, p, q = pa.side.n, len(pa.w.kept), len(pb.w.kept)
    notes = pair_notes(what, pa, pb, sol.rho.size, stacklevel=stacklevel) if report else []
    xw = yw = None
    if weights:
        # unit scatter in the rescaled problem -> unit variance (ddof=1) in data units; the
        # blocks hold the data in units of 2**exponent, so the weights are divided by that
        per_datapoint = np.sqrt(max(n - 1, 1))
        xw = _full_weights(p, sol.wx.kept, _scale.scale_pow2(
            be.to_numpy(sol.weights(be, "x")) * per_datapoint / np.sqrt(sol.wx.scale), -pa.side.exponent))
        yw = _full_weights(q, sol.wy.kept, _scale.scale_pow2(
            be.to_numpy(sol.weights(be, "y")) * per_datapoint / np.sqrt(sol.wy.scale), -pb.side.exponent))
    rho = sol.rho
    return CCAResult(measure=measure, similarity=float(rho.mean()) if rho.size else 0.0,
                     coefficients=rho, n=int(n), p=p, q=q, notes=tuple(notes),
                     kept_x=sol.wx.kept, kept_y=sol.wy.kept, rank_x=sol.wx.rank, rank_y=sol.wy.rank,
                     eps=pa.eps, x_weights=xw, y_weights=yw, data_rank_x=sol.wx.data_rank,
                     data_rank_y=sol.wy.data_rank, rank_tol=pa.rank_tol)


def cca_from_blocks(be, n, sxx, syy, sxy, *, eps, rcond=None, rank_tol=RANK_TOL, weights=False,
                    measure="cca", what="CCA", precision="float64", unit="neurons") -> CCAResult:
    """CCA of scatter blocks that are not a Moments' (derived blocks: their coordinates carry no
    constant-neuron knowledge), by :func:`prepare` and :func:`pair`."""
    f32 = precision == "float32"
    kw = dict(eps=eps, rcond=rcond, rank_tol=rank_tol, unit=unit, derived=True)
    pa = prepare(Side(be, sxx, None, 0, n, "x", None, f32), **kw)
    pb = prepare(Side(be, syy, None, 0, n, "y", None, f32), **kw)
    return pair(be, pa, pb, sxy, weights=weights, measure=measure, what=what, stacklevel=5)


def _full_weights(p, kept, w):
    out = np.zeros((p, w.shape[1]), dtype=w.dtype)
    out[kept] = w
    return out


@fill_doc
def cca(x, y=None, *, eps: float = 1e-10, rcond: float | None = None,
        rank_tol: float | None = RANK_TOL, weights: bool = False, backend: str = "auto",
        precision: str = "float64") -> CCAResult:
    """Canonical correlation analysis of x (n, p) and y (n, q), samples first, or of a Moments.

    Parameters
    ----------
    %(xy)s
    eps : float, default 1e-10
        Relative regularisation: each side's scatter block is divided by its largest absolute
        entry, neurons whose variance is below ``eps`` times the largest variance of their side
        are dropped (``kept_x``, ``kept_y``), and ``eps * I`` is added as a ridge (the reference
        implementation's semantics; results are invariant to rescaling either side).  ``eps=0``
        is exact CCA with a rank cutoff.
    rcond : float in [0, 1), optional
        Eigenvalue floor of the regularised block, relative to its largest eigenvalue (default
        ``k * 2.2e-16`` for a k x k block); directions below it leave the CCA (``rank_x``).
    rank_tol : float in [0, 1) or None, default 1e-12
        The data-rank rule: directions whose variance (eigenvalue of the rescaled scatter,
        before the ridge) is at most ``rank_tol`` times the largest -- duplicated neurons,
        linear dependencies such as a widening linear layer, fewer datapoints than neurons, and
        float32 rounding of those -- leave the CCA, so a layer against itself gives 1;
        ``rank_x``/``rank_y`` count what is left, ``notes`` say what left.  ``None`` keeps them,
        lifted by the ridge with coefficients ~0, as the reference implementation does (for
        parity), and reports them in ``notes`` and ``data_rank_x``/``data_rank_y``.  See
        docs/bad-input.md.
    weights : bool, default False
        Also return the canonical weights ``x_weights`` (p, r) and ``y_weights`` (q, r).
    %(backend)s
    %(precision)s

    Returns
    -------
    CCAResult
        ``coefficients``: the ``min(rank_x, rank_y)`` canonical correlations, descending, in
        [0, 1]; ``similarity``: their mean (mean CCA); ``distance = 1 - similarity``.

    Raises
    ------
    ValueError
        Mismatched datapoint counts, wrong rank, empty input, NaN/Inf, an ``eps``, ``rcond`` or
        ``rank_tol`` out of range, an unknown choice, an empty Moments, or fewer than 2
        datapoints (also after merges).
    TypeError
        A Moments together with ``y``, ``y`` missing, a ConvMoments or JointMoments, complex,
        masked, sparse or iterator input, or a non-numeric argument.
    %(raises_nonfinite)s

    Warns
    -----
    fastcca.DegenerateCCAWarning
        Fewer datapoints than the CCA needs (``n - 1 < data_rank_x + data_rank_y``): that many
        more coefficients are 1 by construction (the message gives the count).
    fastcca.Float32PrecisionWarning
        ``precision="float32"`` on data too collinear for it (estimated error above 1e-5).

    Notes
    -----
    Hotelling (1936); the algorithm of Raghu et al. 2017, section 2, from moments: with
    whitening factors ``Gx``, ``Gy`` of the regularised blocks (``Gx^T (Sxx + eps I) Gx = I``),
    the canonical correlations are the singular values of ``Gx^T Sxy Gy``.  Definitions:
    docs/definitions.md.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((1000, 6))
    >>> y = x[:, :3] @ rng.standard_normal((3, 4))          # y: 4 neurons, 3 of x's dimensions
    >>> r = fastcca.cca(x, y)
    >>> np.round(r.coefficients, 6), r.data_rank_y
    (array([1., 1., 1.]), 3)
    >>> np.round(fastcca.cca(x, y, rank_tol=None).coefficients, 6)   # the reference's ridge direction
    array([1., 1., 1., 0.])
    """
    eps = check_nonnegative(eps, "eps")
    rcond = check_tolerance(rcond, "rcond")
    rank_tol = check_tolerance(rank_tol, "rank_tol")
    m = as_moments(x, y, backend, precision, what="cca")
    sx, sy, sxy = sides(m)
    kw = dict(eps=eps, rcond=rcond, rank_tol=rank_tol)
    return pair(m._be, prepare(sx, **kw), prepare(sy, **kw), sxy, weights=weights, stacklevel=5)


@fill_doc
def mean_cca(x, y=None, *, eps: float = 1e-10, threshold: float | None = None,
             rcond: float | None = None, rank_tol: float | None = RANK_TOL,
             backend: str = "auto", precision: str = "float64") -> CCAResult:
    """Mean canonical correlation of x (n, p) and y (n, q), or of a Moments.

    Parameters
    ----------
    %(xy)s
    eps : float, default 1e-10
        Relative regularisation, as in :func:`fastcca.cca`.
    threshold : float in (0, 1], optional
        ``None`` (default): the mean of all coefficients (what the SVCCA tutorials call the CCA
        similarity).  A float: the reference code's ``mean``, over the leading coefficients that
        make up that fraction of their sum (:meth:`CCAResult.threshold_mean`).
    rcond, rank_tol : as in :func:`fastcca.cca`.
    %(backend)s
    %(precision)s

    Returns
    -------
    CCAResult
        With ``measure="mean_cca"`` and ``similarity`` the mean described above.

    Raises
    ------
    ValueError
        Mismatched datapoint counts, wrong rank, empty input, NaN/Inf, an ``eps``, ``rcond``,
        ``rank_tol`` or ``threshold`` out of range, an unknown choice, an empty Moments, or fewer
        than 2 datapoints (also after merges).
    TypeError
        A Moments together with ``y``, ``y`` missing, complex, masked, sparse or iterator input,
        or a non-numeric argument.
    %(raises_nonfinite)s

    Notes
    -----
    The same canonical correlations as :func:`fastcca.cca` (Raghu et al. 2017, section 2);
    only the summary differs.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((1000, 6))
    >>> y = x[:, :3] @ rng.standard_normal((3, 4))          # 4 neurons spanning 3 dimensions
    >>> round(fastcca.mean_cca(x, y).similarity, 6)          # coefficients 1, 1, 1
    1.0
    >>> round(fastcca.mean_cca(x, y, rank_tol=None).similarity, 6)   # the reference's 1, 1, 1, 0
    0.75
    >>> round(fastcca.mean_cca(x, y, rank_tol=None, threshold=0.98).similarity, 6)
    1.0
    """
    if threshold is not None:
        threshold = check_threshold(threshold)
    r = cca(x, y, eps=eps, rcond=rcond, rank_tol=rank_tol, backend=backend, precision=precision)
    sim = r.similarity if threshold is None else r.threshold_mean(threshold)
    notes = r.notes + ((f"similarity = mean of the leading coefficients reaching {threshold:g} of their sum",)
                       if threshold is not None else ())
    return replace(r, measure="mean_cca", similarity=sim, notes=notes)
