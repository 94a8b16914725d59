"""CCA and mean CCA (Hotelling 1936; the reference algorithm of Raghu et al. 2017, google/svcca
``cca_core.get_cca_similarity``), from moments.  All conventions live in ``fastcca._canonical``."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .._canonical import canonical_correlations
from .._validation import check_nonnegative, warn_if_degenerate
from ..results import CCAResult
from .. import _scale
from ._inputs import as_moments, kept_note, neuron_notes, rank_note
from ._precision import float32_error_notes


def cca_from_blocks(be, n, sxx, syy, sxy, *, eps, rcond=None, weights=False,
                    measure="cca", what="CCA", precision="float64", source=None) -> CCAResult:
    """CCA of scatter blocks (used by :func:`cca` and on SVCCA's reduced blocks).
    ``precision``: the arithmetic the blocks were accumulated in; for ``"float32"`` the
    estimated error is checked (:mod:`fastcca.measures._precision`).  ``source``: the Moments
    the blocks are (its notes on constant/underflowed neurons, its power-of-two units for the
    canonical weights); None for derived blocks (SVCCA's)."""
    p, q = sxx.shape[0], syy.shape[0]
    sol = canonical_correlations(be, sxx, syy, sxy, eps=eps, rcond=rcond, vectors=weights)
    if source is not None:
        notes = neuron_notes(source, "x", sol.wx.kept, eps) + neuron_notes(source, "y", sol.wy.kept, eps)
    else:
        notes = kept_note("x", sol.wx.kept, eps) + kept_note("y", sol.wy.kept, eps)
    notes += rank_note("x", int(sol.wx.kept.sum()), sol.wx.rank)
    notes += rank_note("y", int(sol.wy.kept.sum()), sol.wy.rank)
    msg = warn_if_degenerate(n, sol.wx.rank, sol.wy.rank, what)
    if msg:
        notes.append(msg)
    if precision == "float32":
        notes += float32_error_notes(what, {"side x": sol.wx.max_variance_inflation(be, sxx),
                                            "side y": sol.wy.max_variance_inflation(be, syy)})
    xw = yw = None
    if weights:
        # unit scatter in the rescaled problem -> unit variance (ddof=1) in data units; the
        # blocks hold the data in units of 2**exponent, so the weights are divided by that
        unit = np.sqrt(max(n - 1, 1))
        ex, ey = (source.exponent_x, source.exponent_y) if source is not None else (0, 0)
        xw = _full_weights(p, sol.wx.kept, _scale.scale_pow2(
            be.to_numpy(sol.weights(be, "x")) * unit / np.sqrt(sol.wx.scale), -ex))
        yw = _full_weights(q, sol.wy.kept, _scale.scale_pow2(
            be.to_numpy(sol.weights(be, "y")) * unit / np.sqrt(sol.wy.scale), -ey))
    rho = sol.rho
    return CCAResult(measure=measure, similarity=float(rho.mean()) if rho.size else 0.0,
                     coefficients=rho, n=int(n), p=p, q=q, notes=tuple(notes),
                     kept_x=sol.wx.kept, kept_y=sol.wy.kept, rank_x=sol.wx.rank, rank_y=sol.wy.rank,
                     eps=eps, x_weights=xw, y_weights=yw)


def _full_weights(p, kept, w):
    out = np.zeros((p, w.shape[1]), dtype=w.dtype)
    out[kept] = w
    return out


def cca(x, y=None, *, eps: float = 1e-10, rcond: float | None = None, weights: bool = False,
        backend: str = "auto", precision: str = "float64") -> CCAResult:
    """Canonical correlation analysis of x (n, p) and y (n, q), samples first, or of a Moments.

    Parameters
    ----------
    x, y : array-like or Moments
        Activations x (n, p) and y (n, q), samples first (rows are the same n datapoints),
        float64 / float32 / float16 / integer / bfloat16 NumPy arrays, CPU or CUDA torch
        tensors, CuPy arrays; or a :class:`fastcca.Moments` as ``x`` with ``y`` omitted.
    eps : float, default 1e-10
        Relative regularisation: each side's scatter block is divided by its largest absolute
        entry, neurons whose variance is below ``eps`` times the largest variance of their side
        are dropped (``kept_x``, ``kept_y``), and ``eps * I`` is added as a ridge (the reference
        implementation's semantics; results are invariant to rescaling either side).  ``eps=0``
        is exact CCA with a rank cutoff.
    rcond : float, optional
        Eigenvalue floor of the regularised block, relative to its largest eigenvalue (default
        ``k * 2.2e-16`` for a k x k block); directions below it leave the CCA (``rank_x``).
    weights : bool, default False
        Also return the canonical weights ``x_weights`` (p, r) and ``y_weights`` (q, r).
    backend : {"auto", "cpu", "cuda"}
        Where the moments pass runs; ``"auto"`` follows the input (see :func:`fastcca.get_backend`).
    precision : {"float64", "float32"}
        Arithmetic of the moments pass over arrays (see :class:`fastcca.Moments`); ignored for a
        Moments input.  A float32 result carries its estimated error in ``notes``.

    Returns
    -------
    CCAResult
        ``coefficients``: the ``min(rank_x, rank_y)`` canonical correlations, descending, in
        [0, 1]; ``similarity``: their mean (mean CCA); ``distance = 1 - similarity``.

    Raises
    ------
    ValueError
        Mismatched datapoint counts, wrong rank, empty input, NaN/Inf, a negative ``eps``, an
        unknown choice, an empty Moments, or fewer than 2 datapoints (also after merges).
    TypeError
        A Moments together with ``y``, ``y`` missing, or complex input.
    FloatingPointError
        The moments hold inf/NaN (never from finite input: each side is accumulated in exact
        power-of-two units, docs/numerics.md).
    fastcca.BackendUnavailableError
        ``backend="cuda"`` without CuPy or a GPU.

    Warns
    -----
    fastcca.DegenerateCCAWarning
        Fewer datapoints than the CCA needs (``n - 1 < rank_x + rank_y``): some coefficients are 1
        by construction.
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
    >>> y = x[:, :3] @ rng.standard_normal((3, 4))          # y depends on 3 of x's neurons
    >>> r = fastcca.cca(x, y)
    >>> np.round(r.coefficients, 6)
    array([1., 1., 1., 0.])
    """
    eps = check_nonnegative(eps, "eps")
    m = as_moments(x, y, backend, precision, what="cca")
    return cca_from_blocks(m._be, m.n, m.sxx, m.syy, m.sxy, eps=eps, rcond=rcond, weights=weights,
                           precision="float32" if m.float32_products else "float64", source=m)


def mean_cca(x, y=None, *, eps: float = 1e-10, threshold: float | None = None,
             backend: str = "auto", precision: str = "float64") -> CCAResult:
    """Mean canonical correlation of x (n, p) and y (n, q), or of a Moments.

    Parameters
    ----------
    x, y : array-like or Moments
        Activations x (n, p) and y (n, q), samples first (rows are the same n datapoints),
        float64 / float32 / float16 / integer / bfloat16 NumPy arrays, CPU or CUDA torch
        tensors, CuPy arrays; or a :class:`fastcca.Moments` as ``x`` with ``y`` omitted.
    eps : float, default 1e-10
        Relative regularisation, as in :func:`fastcca.cca`.
    threshold : float in (0, 1], optional
        ``None`` (default): the mean of all coefficients (what the SVCCA tutorials call the CCA
        similarity).  A float: the reference code's ``mean``, over the leading coefficients that
        make up that fraction of their sum (:meth:`CCAResult.threshold_mean`).
    backend : {"auto", "cpu", "cuda"}
        Where the moments pass runs; ``"auto"`` follows the input (see :func:`fastcca.get_backend`).
    precision : {"float64", "float32"}
        Arithmetic of the moments pass over arrays (see :class:`fastcca.Moments`); ignored for a
        Moments input.  A float32 result carries its estimated error in ``notes``.

    Returns
    -------
    CCAResult
        With ``measure="mean_cca"`` and ``similarity`` the mean described above.

    Raises
    ------
    ValueError
        Mismatched datapoint counts, wrong rank, empty input, NaN/Inf, a negative ``eps``, an
        unknown choice, an empty Moments, or fewer than 2 datapoints (also after merges).
    TypeError
        A Moments together with ``y``, ``y`` missing, or complex input.
    FloatingPointError
        The moments hold inf/NaN (never from finite input; docs/numerics.md).
    fastcca.BackendUnavailableError
        ``backend="cuda"`` without CuPy or a GPU.

    Notes
    -----
    The same canonical correlations as :func:`fastcca.cca` (Raghu et al. 2017, section 2);
    only the summary differs.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((1000, 6))
    >>> y = x[:, :3] @ rng.standard_normal((3, 4))
    >>> round(fastcca.mean_cca(x, y).similarity, 6)          # coefficients 1, 1, 1, 0
    0.75
    >>> round(fastcca.mean_cca(x, y, threshold=0.98).similarity, 6)
    1.0
    """
    r = cca(x, y, eps=eps, backend=backend, precision=precision)
    sim = r.similarity if threshold is None else r.threshold_mean(threshold)
    notes = r.notes + ((f"similarity = mean of the leading coefficients reaching {threshold:g} of their sum",)
                       if threshold is not None else ())
    return replace(r, measure="mean_cca", similarity=sim, notes=notes)
