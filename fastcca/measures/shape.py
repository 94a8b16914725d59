"""Generalised shape metrics (Williams, Kunz, Kornblith & Linderman 2021, "Generalized shape
metrics on neural representations", NeurIPS; section 2.3 and the authors' ``netrep``
``LinearMetric``) and the orthogonal Procrustes distance, from moments.

Definition (centred X (n, p), scatter ``Sxx = Xc^T Xc = V diag(lam) V^T``):

* partial whitening ``Z_alpha = V diag(d) V^T`` with ``d_i = alpha + (1 - alpha) lam_i^-1/2``
  (``lam_i`` in the data's units, as netrep), then rescaled so that ``X_alpha = Xc Z_alpha``
  keeps the total variance ``tr(Sxx)`` (netrep's ``preserve_variance``).  ``alpha = 1`` leaves
  X as it is (Procrustes), ``alpha = 0`` whitens it fully (CCA).  Directions of (near-)zero
  variance, ``lam_i <= rank_tol * lam_max``, get only the identity part (``d_i = alpha``):
  whitening them would amplify rounding noise (netrep floors ``lam`` at 1e-7 instead);
* after the best rotation ``Q`` (orthogonal Procrustes; the smaller side zero-padded),
  ``cos theta = ||X_alpha^T Y_alpha||_* / (||X_alpha||_F ||Y_alpha||_F)``;
  angular distance ``theta = arccos(cos theta)``, Euclidean distance
  ``min_Q ||X_alpha Q - Y_alpha||_F = sqrt(tr Sxx + tr Syy - 2 sqrt(tr Sxx tr Syy) cos theta)``.

From moments: ``X_alpha^T Y_alpha`` is ``Z_x Sxy Z_y``; in each side's eigenbasis that is
``T_x Sxy T_y^T`` with the operator ``T = diag(d) V^T`` (the rescaling cancels in the angle),
so a pair costs two products and the singular values of a (p, q) block; ``alpha = 1`` needs
no eigendecomposition at all (``||Sxy||_*``).  Each side's ``T`` is prepared once
(:func:`prepare`), so a layer grid reuses it for every pair (:func:`pair`).

Both distances are metrics on representations (of the same datapoints): symmetric, zero for a
representation and a rotation of it, and they satisfy the triangle inequality (each side is
mapped on its own, then compared modulo rotations).  ``procrustes`` is ``alpha = 1`` on
unit-Frobenius-norm data, ``sqrt(2 - 2 cos theta)`` (Ding, Denain & Steinhardt 2021), or in the
data's units with ``normalize=False``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._canonical import RANK_TOL
from .._validation import check_choice, check_number, check_tolerance
from ..results import ShapeResult
from ._blocks import Side, eigh_desc, in_units, sides
from ._inputs import as_moments
from ._precision import UNIT_ROUNDOFF_32, direction_inflation, float32_error_notes

KINDS = ("angular", "euclidean")
#: relative rounding of a sum of singular values, per term (a few float64 epsilons)
_ROUNDING = 8 * np.finfo(np.float64).eps


@dataclass
class ShapeSide:
    """One side prepared for any pair: ``op`` = ``T`` (p, p) (None for ``alpha = 1``), ``norm2``
    = ``||X_alpha||_F^2`` before rescaling (stored units), ``trace`` = ``tr S`` (stored units),
    ``rank`` = whitened directions, ``exponent`` = the side's power-of-two units; ``float32``:
    float32 products in its block, then (for ``alpha < 1``) ``amp`` and ``share`` of its principal
    directions (host (p,); :func:`whitening_amplification`), else None."""
    alpha: float
    op: object
    norm2: float
    trace: float
    rank: int
    exponent: int
    p: int
    n: int
    float32: bool = False
    amp: np.ndarray = None
    share: np.ndarray = None


def check_alpha(alpha) -> float:
    return check_number(alpha, "alpha", low=0.0, high=1.0)


def prepare(side: Side, alpha: float, rank_tol: float | None = RANK_TOL) -> ShapeSide:
    """The partial-whitening operator of one side (see the module docstring)."""
    be, s = side.be, side.s
    xp = be.xp
    trace = float(xp.trace(s))
    if alpha == 1.0 or trace <= 0.0:
        return ShapeSide(alpha, None, trace, trace, side.p, side.exponent, side.p, side.n, side.float32)
    lam, vecs = eigh_desc(be, s)
    tol = 0.0 if rank_tol is None else float(rank_tol)
    kept = lam > tol * lam[0]
    # d_i = alpha + (1 - alpha) lam_i^-1/2 with lam_i in the data's units, lam_i = 4**e * stored;
    # any factor common to a side cancels, so d is formed as a + b lam_stored^-1/2 with (a, b) =
    # (alpha, (1 - alpha) 2**-e) / max(...): finite whatever the exponent
    a, b = alpha, math.ldexp(1.0 - alpha, -side.exponent) if alpha < 1.0 else 0.0
    top = max(a, b)
    a, b = a / top, b / top
    inv = np.zeros_like(lam)
    inv[kept] = 1.0 / np.sqrt(lam[kept])
    d = a + b * inv
    op = vecs.T * xp.asarray(d)[:, None]
    norm2 = float(np.sum(d * d * lam))
    amp = share = None
    if side.float32 and norm2 > 0.0:
        amp, share = whitening_amplification(be, s, lam, vecs, d, b * inv), d * d * lam / norm2
    return ShapeSide(alpha, op, norm2, trace, int(kept.sum()), side.exponent, side.p, side.n, side.float32,
                     amp, share)


def whitening_amplification(be, s, lam, vecs, d, whitened) -> np.ndarray:
    """``w_i c_i`` for each principal direction: ``w_i = b lam_i^-1/2 / d_i`` the whitened part of
    its scaling (0 at ``alpha = 1``, 1 at ``alpha = 0``) and ``c_i = v_i^T diag(S) v_i / lam_i``
    (:func:`fastcca.measures._precision.direction_inflation`): a float32 error ``E`` of the
    scatter changes ``Z = f(S)`` by ``dZ = Z R``, and in the eigenbasis the diagonal of ``R`` is
    ``-(1/2) w_i E'_ii / lam_i ~ u w_i c_i / 2`` (its off-diagonal part ``(1/2) E'_ij / sqrt(lam_i
    lam_j)`` times a number between ``w_i`` and ``w_j``).  See :func:`pair_inflation`."""
    w = np.where(d > 0, whitened / np.where(d > 0, d, 1.0), 0.0)
    return w * direction_inflation(be, s, vecs, np.where(whitened > 0, lam, 0.0))


def pair_inflation(side: ShapeSide, weight, cos: float) -> float:
    """How much partial whitening amplifies float32 rounding in ``cos theta`` of one pair, from
    one side: ``(1/2) sum_i (r_i + cos e_i) w_i c_i`` over the side's principal directions, with
    ``r_i`` the norm of direction i's row (column, for side y) of the normalised aligned cross
    block, ``e_i = d_i^2 lam_i / ||X_alpha||_F^2`` its share of the side's norm and ``w_i c_i``
    from :func:`whitening_amplification`.  Why: to first order ``d cos`` is ``sum_k sigma_k
    p_k^T R p_k`` (singular triplets of the normalised cross block) less ``cos`` times the
    relative change of the norms ``sum_i e_i R_ii``, and ``sum_k sigma_k p_ki^2 <= r_i``.  A
    direction counts when it is whitened (``w_i``), small against the neurons (``c_i``) and
    carries the cross block or the norm: at ``alpha = 0`` (CCA) this is of the order of
    ``u`` x the mean variance inflation factor.  Measured against float64 in
    ``asv_bench/float32_error_sweep.py`` (docs/definitions.md, *Precision*); 0 at ``alpha = 1``."""
    if side.amp is None:
        return 0.0
    return 0.5 * float(np.sum((np.asarray(weight) + cos * side.share) * side.amp))


def pair(be, a: ShapeSide, b: ShapeSide, sab, kind: str, measure: str = "shape_metric",
         normalize: bool = True, report: bool = True) -> ShapeResult:
    """The shape distance of two prepared sides with cross scatter ``sab`` (stored units).
    ``kind``: "angular", "euclidean" or "procrustes" (``normalize``: unit-norm data);
    ``report=False``: the float32 note without its warning (a grid warns once)."""
    notes = []
    infl = (0.0, 0.0)
    if a.trace <= 0.0 or b.trace <= 0.0:
        # a constant side is one point: at right angles to anything but another constant side
        cos, coef = (1.0, np.zeros(0)) if a.trace <= 0.0 and b.trace <= 0.0 else (0.0, np.zeros(0))
        notes.append("a side has no variance (all neurons constant): cos theta = "
                     f"{cos:g} by convention (1 if both sides are constant, else 0)")
    else:
        m = sab if a.op is None else a.op @ sab
        m = m if b.op is None else m @ b.op.T
        scale = math.sqrt(a.norm2) * math.sqrt(b.norm2)
        sv = np.maximum(be.to_numpy(be.svdvals(m)), 0.0) / scale
        cos, coef = min(float(sv.sum()), 1.0), sv
        if a.amp is not None or b.amp is not None:
            infl = (pair_inflation(a, be.to_numpy(be.xp.linalg.norm(m, axis=1)) / scale, cos),
                    pair_inflation(b, be.to_numpy(be.xp.linalg.norm(m, axis=0)) / scale, cos))
        # cos theta carries a rounding error of ~k eps, i.e. theta one of ~sqrt(2 k eps) ~ 1e-7:
        # within it the two are the same representation, reported at distance exactly 0
        if cos > 1.0 - _ROUNDING * max(len(sv), 1):
            cos = 1.0
    # how much an error of cos theta moves the distance (relative for the Euclidean one); at
    # distance 0 (cos theta 1 to rounding: a layer against itself shares its float32 products, so
    # the error cancels) by nothing more
    if kind == "angular":
        dist = math.acos(cos)
        gain = 1.0 / math.sin(dist) if dist > 0 else 1.0
    elif kind == "procrustes" and normalize:
        dist = math.sqrt(max(2.0 - 2.0 * cos, 0.0))
        gain = 1.0 / dist if dist > 0 else 1.0
    else:
        # sqrt(Ta + Tb - 2 sqrt(Ta Tb) cos) with sqrt(T) = 2**e sqrt(stored trace), in one scale
        top = max(a.exponent, b.exponent)
        ra = math.ldexp(math.sqrt(max(a.trace, 0.0)), a.exponent - top)
        rb = math.ldexp(math.sqrt(max(b.trace, 0.0)), b.exponent - top)
        scaled = math.sqrt((ra - rb) ** 2 + 2.0 * ra * rb * (1.0 - cos))
        gain = ra * rb / scaled ** 2 if scaled > 0 else 1.0
        dist = in_units(scaled, top, f"{measure} distance")
    if a.float32 or b.float32:
        notes += float32_error_notes(f"shape metric ({measure})", {
            f"side {label}": distance_inflation(v, gain) for label, v in zip("xy", infl)},
            factor="whitening inflation", values="cos theta and the distance", warn=report)
    return ShapeResult(measure=measure, similarity=cos, coefficients=coef, n=int(a.n), p=a.p, q=b.p,
                       notes=tuple(notes), dist=dist, alpha=a.alpha, kind=kind, rank_x=a.rank, rank_y=b.rank)


def distance_inflation(inflation: float, gain: float) -> float:
    """The inflation of the distance from that of ``cos theta`` (``u x inflation``), with ``gain``
    = d distance / d cos (the Euclidean one relative): the error ``delta`` of ``cos theta`` moves
    the angle by ``delta / sin theta``, at most by ``sqrt(2 delta)`` (near theta = 0)."""
    if inflation <= 0.0:
        return 0.0
    delta = UNIT_ROUNDOFF_32 * inflation
    return max(inflation, min(delta * gain, math.sqrt(2.0 * delta)) / UNIT_ROUNDOFF_32)


def shape_metric(x, y=None, *, alpha: float = 1.0, kind: str = "angular",
                 rank_tol: float | None = RANK_TOL, backend: str = "auto",
                 precision: str = "float64") -> ShapeResult:
    """Generalised shape metric of x (n, p) and y (n, q) (Williams et al. 2021), or of a Moments.

    Parameters
    ----------
    x, y : array-like or Moments
        Activations x (n, p) and y (n, q), samples first (rows are the same n datapoints), any
        input :func:`fastcca.cca` accepts; or a :class:`fastcca.Moments` as ``x`` with ``y`` omitted.
    alpha : float in [0, 1], default 1.0
        Partial whitening ``d_i = alpha + (1 - alpha) lam_i^-1/2`` of each side's principal
        directions (``lam_i``: eigenvalues of the centred scatter ``X^T X``, in the data's
        units, as netrep's ``LinearMetric``): 0 is CCA (every direction whitened), 1 is
        orthogonal Procrustes (none).  In between, the mix depends on the data's scale and on
        n (as in netrep), so compare values at one ``alpha`` on data of one scale.
    kind : {"angular", "euclidean"}
        ``"angular"``: the angle ``theta = arccos(cos theta)`` in [0, pi/2].  ``"euclidean"``:
        ``min_Q ||X_alpha Q - Y_alpha||_F`` in the data's units (it grows like ``sqrt(n)``;
        divide by ``sqrt(n)`` for a root-mean-square distance).
    rank_tol : float in [0, 1) or None, default 1e-12
        Directions with ``lam_i <= rank_tol * lam_max`` are not whitened (``d_i = alpha``): they
        hold rounding noise, not data.  None: only exact zeros.
    backend : {"auto", "cpu", "cuda"}
        Where the moments pass runs; ``"auto"`` follows the input.
    precision : {"float64", "float32"}
        Arithmetic of the moments pass over arrays (see :class:`fastcca.Moments`).  A float32
        result with ``alpha < 1`` estimates its error (``2^-24 x`` the whitening inflation of
        :func:`fastcca.measures.shape.pair_inflation`): above 1e-5, a note and a
        :class:`fastcca.Float32PrecisionWarning`.  At ``alpha = 1`` nothing is whitened and the
        float32 error stayed at rounding level (at most 9.2e-7 measured; docs/definitions.md, *Precision*).

    Returns
    -------
    ShapeResult
        ``distance``: the metric; ``similarity``: ``cos theta``; ``coefficients``: the singular
        values of the normalised aligned cross block (they sum to ``cos theta``).

    Raises
    ------
    ValueError
        Mismatched datapoint counts, wrong rank, empty input, NaN/Inf, ``alpha`` outside [0, 1],
        an unknown ``kind``, or an empty Moments.
    TypeError
        A Moments together with ``y``, ``y`` missing, complex or non-numeric input.
    FloatingPointError
        ``kind="euclidean"`` on data so large (~1e150 and beyond) that the distance itself does
        not fit in float64.
    fastcca.BackendUnavailableError
        ``backend="cuda"`` without CuPy or a GPU.

    Notes
    -----
    Williams et al. 2021, section 2.3 (partial whitening, angular and Euclidean shape metrics),
    as implemented by netrep's ``LinearMetric(alpha, score_method=...)`` with centred columns:
    equal to it when every eigenvalue exceeds netrep's floor of 1e-7.  With p != q, netrep
    zero-pads the smaller side before whitening; here the padded directions are simply absent
    (the angle is the same; the Euclidean distance can differ from netrep's by its floor of the
    padded eigenvalues).  For ``alpha = 0`` and full-rank sides, ``cos theta = sum rho_i /
    sqrt(p q)`` over the canonical correlations ``rho_i`` (mean CCA when p = q).  docs/measures.md.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2000, 6))
    >>> y = x @ rng.standard_normal((6, 6))                      # an invertible linear map of x
    >>> round(fastcca.shape_metric(x, y, alpha=0.0).distance, 6)   # CCA end: identical
    0.0
    >>> fastcca.shape_metric(x, y, alpha=1.0).distance > 0.1       # Procrustes end: not a rotation
    True
    """
    alpha = check_alpha(alpha)
    kind = check_choice(kind, "kind", KINDS)
    rank_tol = check_tolerance(rank_tol, "rank_tol")
    m = as_moments(x, y, backend, precision, what="shape_metric")
    sx, sy, sxy = sides(m)
    return pair(m._be, prepare(sx, alpha, rank_tol), prepare(sy, alpha, rank_tol), sxy, kind,
                measure=f"shape_{kind}")


def procrustes(x, y=None, *, normalize: bool = True, backend: str = "auto",
               precision: str = "float64") -> ShapeResult:
    """Orthogonal Procrustes distance of x (n, p) and y (n, q), samples first, or of a Moments.

    Parameters
    ----------
    x, y : array-like or Moments
        Activations (see :func:`fastcca.shape_metric`), or a :class:`fastcca.Moments` as ``x``.
    normalize : bool, default True
        True: both centred sets scaled to unit Frobenius norm first, so the distance is
        ``sqrt(2 - 2 ||Sxy||_* / sqrt(tr Sxx tr Syy))`` in [0, sqrt(2)], invariant to scaling
        either side (Ding, Denain & Steinhardt 2021 use its square).  False:
        ``min_Q ||Xc Q - Yc||_F = sqrt(tr Sxx + tr Syy - 2 ||Sxy||_*)`` in the data's units
        (``shape_metric(x, y, alpha=1, kind="euclidean")``).
    backend, precision
        As in :func:`fastcca.shape_metric`.  It whitens nothing: its float32 error stayed at
        rounding level (at most 9.2e-7 measured, from benign to nearly collinear data; docs/definitions.md, *Precision*),
        so it carries no per-call estimate.

    Returns
    -------
    ShapeResult
        ``distance``: the Procrustes distance; ``similarity``: ``||Sxy||_* / sqrt(tr Sxx tr Syy)``.

    Raises
    ------
    ValueError, TypeError, FloatingPointError, fastcca.BackendUnavailableError
        As :func:`fastcca.shape_metric`.

    Notes
    -----
    Schoenemann (1966) for the rotation; from moments it needs only the singular values of the
    (p, q) cross scatter and two traces.  A metric (chordal distance between the unit-norm
    representations modulo rotations).

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((1000, 4))
    >>> q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    >>> round(fastcca.procrustes(x, 5 * x @ q).distance, 6)     # rotated and scaled
    0.0
    """
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize: expected True or False, got {normalize!r}")
    m = as_moments(x, y, backend, precision, what="procrustes")
    sx, sy, sxy = sides(m)
    return pair(m._be, prepare(sx, 1.0), prepare(sy, 1.0), sxy,
                "procrustes" if normalize else "euclidean", measure="procrustes", normalize=bool(normalize))
