"""Linear predictivity: ridge-regression R^2 of one representation from the other, both ways,
with the ridge given or chosen by generalised cross-validation -- all from moments.

Ridge regression of Y (n, q) on X (n, p) with an unpenalised intercept minimises
``||Yc - Xc B||_F^2 + ridge ||B||_F^2``; ``B = (Sxx + ridge I)^-1 Sxy`` (scikit-learn's
``Ridge(alpha=ridge)`` with ``fit_intercept=True``).  In the eigenbasis ``Sxx = V diag(lam) V^T``
with ``C = V^T Sxy`` the residual sum of squares of output j is

    RSS_j = Syy_jj - sum_i C_ij^2 (lam_i + 2 ridge) / (lam_i + ridge)^2,

and the effective degrees of freedom ``df = sum_i lam_i / (lam_i + ridge)`` (the trace of the
centred hat matrix), so every candidate ridge costs O(p q) after one ``eigh`` and one product.

* R^2 of the fit: ``1 - sum_j RSS_j / sum_j Syy_jj`` (``average="variance"``, the fraction of
  Y's variance explained; scikit-learn's ``variance_weighted``) or the mean of the per-neuron
  ``1 - RSS_j / Syy_jj`` (``"uniform"``; constant neurons left out).
* GCV (Golub, Heath & Wahba 1979), the intercept counted as one more degree of freedom:
  ``GCV(ridge) = (RSS / n) / (1 - (1 + df) / n)^2`` estimates the mean squared prediction error
  on new datapoints; ``ridge="gcv"`` picks the candidate that minimises it (one ridge shared by
  all outputs), and ``R^2_gcv = 1 - RSS / ((1 - (1 + df) / n)^2 sum_j Syy_jj)`` is the matching
  out-of-sample estimate (``score="gcv"``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._canonical import RANK_TOL
from .._validation import check_choice, check_number
from ..results import PredictivityResult
from ._blocks import Side, eigh_desc, reported_in_units, sides
from ._inputs import as_moments
from ._precision import direction_inflation, float32_error_notes

DIRECTIONS = ("x->y", "y->x", "both")
SCORES = ("fit", "gcv")
AVERAGES = ("variance", "uniform")
#: ``ridge="gcv"`` candidates: this many values, log-spaced over ``GCV_SPAN`` decades around the
#: mean eigenvalue ``tr(Sxx) / p`` of the predicting side
GCV_CANDIDATES = 49
GCV_SPAN = (-8.0, 4.0)


@dataclass
class PredictSide:
    """One side prepared as target (the diagonal ``var`` of its scatter) and, on first use as
    predictor, its eigenbasis (``lam``, ``vecs``); stored units ``4**exponent``."""
    side: Side
    var: np.ndarray
    lam: np.ndarray = None
    vecs: object = None

    @property
    def exponent(self) -> int:
        return self.side.exponent

    @property
    def n(self) -> int:
        return self.side.n

    @property
    def p(self) -> int:
        return self.side.p

    def basis(self):
        if self.lam is None:
            self.lam, self.vecs = eigh_desc(self.side.be, self.side.s)
        return self.lam, self.vecs


def check_ridge(ridge):
    """``"gcv"``, a number >= 0 (data units), or a sequence of candidates for GCV."""
    if isinstance(ridge, str):
        check_choice(ridge, "ridge", ("gcv",))
        return "gcv"
    if isinstance(ridge, (list, tuple, np.ndarray)):
        vals = np.asarray(ridge)
        if vals.ndim != 1 or vals.size == 0 or vals.dtype.kind not in "fiu":
            raise ValueError(f"ridge: expected a non-empty 1-D sequence of numbers >= 0, got {ridge!r}")
        return tuple(check_number(float(v), "ridge", low=0.0) for v in vals)
    return check_number(ridge, "ridge", low=0.0, expected='"gcv", a number >= 0 or a sequence of them')


def prepare(side: Side) -> PredictSide:
    be = side.be
    return PredictSide(side, np.maximum(be.to_numpy(be.xp.diagonal(side.s)), 0.0))


def _fit(be, src: PredictSide, dst: PredictSide, cross, ridge, average: str, score_is_gcv: bool = False) -> dict:
    """Ridge of ``dst`` on ``src`` with cross scatter ``cross`` = ``S_src,dst`` (stored units);
    with float32 products, ``inflation`` (:func:`regression_inflation`, of the GCV score when
    ``score_is_gcv``), else 0."""
    n = src.n
    lam, vecs = src.basis()
    c2 = be.to_numpy(vecs.T @ cross) ** 2                          # (p_src, p_dst)
    notes = []
    if ridge == "gcv":
        mean_eig = lam.sum() / max(len(lam), 1)
        cands = mean_eig * np.logspace(*GCV_SPAN, GCV_CANDIDATES) if mean_eig > 0 else np.zeros(1)
    else:
        # data units -> stored ones (4**e); beyond float64 the penalty is infinite: R^2 -> 0, its limit
        with np.errstate(over="ignore", under="ignore"):
            cands = np.ldexp(np.atleast_1d(np.asarray(ridge, dtype=np.float64)), -2 * src.exponent)
        cands = np.minimum(cands, np.finfo(np.float64).max)
    top = lam[0] if len(lam) else 0.0
    use = lam > RANK_TOL * top
    rss, df = [], []
    total = dst.var.sum()
    for r in cands:
        if r > 0:
            w = (lam + 2 * r) / (lam + r) ** 2
            d = float(np.sum(lam / (lam + r)))
        else:   # least squares: the pseudo-inverse on the data's rank
            w = np.where(use, 1.0 / np.where(use, lam, 1.0), 0.0)
            d = float(use.sum())
        rss.append(np.maximum(dst.var - w @ c2, 0.0))
        df.append(d)
    rss, df = np.asarray(rss), np.asarray(df)
    shrink = (1.0 - (1.0 + df) / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        gcv = np.where(shrink > 0, rss.sum(axis=1) / n / np.where(shrink > 0, shrink, 1.0) ** 2, np.inf)
    best = int(np.argmin(gcv)) if len(cands) > 1 else 0
    if len(cands) > 1 and best in (0, len(cands) - 1) and np.isfinite(gcv[best]):
        notes.append(f"the GCV-chosen ridge is at the {'lower' if best == 0 else 'upper'} end of the "
                     "candidates; pass a wider ridge=[...]")
    if not np.isfinite(gcv[best]):
        notes.append(f"GCV is undefined: 1 + df = {1 + df[best]:.1f} >= n = {n} (more effective parameters "
                     "than datapoints); the GCV R^2 is -inf")
    rss_b = rss[best]
    const = dst.var <= 0
    if total > 0:
        fit_var = 1.0 - rss_b.sum() / total
        gcv_r2 = 1.0 - (rss_b.sum() / total) / shrink[best] ** 2 if shrink[best] > 0 else -np.inf
    else:
        fit_var, gcv_r2 = 0.0, 0.0
        notes.append("the predicted side has no variance (all neurons constant): R^2 = 0 by convention")
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(const, np.nan, 1.0 - rss_b / np.where(const, 1.0, dst.var))
    if const.any() and total > 0:
        notes.append(f"{int(const.sum())} constant neuron(s) of the predicted side have no R^2 (NaN in "
                     "coefficients) and are left out of average='uniform'")
    if average == "uniform" and (~const).any():
        fit = float(np.mean(per[~const]))
        g = 1.0 - (1.0 - fit) / shrink[best] ** 2 if shrink[best] > 0 else -np.inf
    else:
        fit, g = float(fit_var), float(gcv_r2)
    ridge_used, big = reported_in_units(cands[best], 2 * src.exponent, "the ridge")
    infl = 0.0
    if src.side.float32 or dst.side.float32:
        infl = regression_inflation(be, src, dst, lam, vecs, c2, cands[best], use, average)
        infl = infl / shrink[best] ** 2 if score_is_gcv and shrink[best] > 0 else infl
    return dict(fit=fit, gcv=g, per=per, ridge=float(ridge_used), df=float(df[best]), notes=notes + big,
                inflation=infl)


def regression_inflation(be, src: PredictSide, dst: PredictSide, lam, vecs, c2, ridge, use, average: str) -> float:
    """How much the ridge fit amplifies float32 rounding in R^2.  In the predictor's eigenbasis
    the explained variance of output j is ``F_j = sum_i C_ij^2 g_i`` with ``g_i = (lam_i + 2
    ridge) / (lam_i + ridge)^2`` (``1 / lam_i`` on the data rank for ridge 0).  A scatter error
    ``|dS_kl| ~ u sd_k sd_l`` moves ``lam_i + ridge`` by a relative ``u c_i``, ``c_i = v_i^T
    diag(S) v_i / (lam_i + ridge)`` (:func:`fastcca.measures._precision.direction_inflation`),
    and ``C_ij`` by ``u sqrt(c_i (lam_i + ridge)) sd_j``; to first order ``F_j`` moves by about
    ``u (Q_j + 2 sqrt(Q_j Syy_jj))`` with ``Q_j = sum_i C_ij^2 g_i c_i``, so R^2_j by
    ``u (1 + sqrt(Q_j / Syy_jj))^2`` with the target's own error.  Returned: that factor
    averaged as the score averages outputs (``"variance"``: ``sum_j (sd_j + sqrt(Q_j))^2 /
    sum_j Syy_jj``; ``"uniform"``: the mean over non-constant outputs).  Large when a direction
    of small variance (nearly collinear predictors) carries explained variance and the ridge
    does not damp it: it plays the part of the variance inflation factor."""
    denom = lam + ridge if ridge > 0 else np.where(use, lam, 0.0)
    g = np.where(denom > 0, (lam + 2 * ridge) / np.where(denom > 0, denom, 1.0) ** 2, 0.0)
    c = direction_inflation(be, src.side.s, vecs, denom)
    q = np.sqrt(np.maximum((g * c) @ c2, 0.0))                     # sqrt(Q_j), (p_dst,)
    sd = np.sqrt(dst.var)
    live = dst.var > 0
    if not live.any():
        return 0.0
    if average == "uniform":
        return float(np.mean((1.0 + q[live] / sd[live]) ** 2))
    return float(np.sum((sd + q) ** 2) / np.sum(dst.var))


def predictivity_pair(be, a: PredictSide, b: PredictSide, sab, *, ridge="gcv", direction: str = "both",
                      score: str = "fit", average: str = "variance",
                      measure: str = "linear_predictivity", report: bool = True) -> PredictivityResult:
    """Linear predictivity of two prepared sides (``sab``: cross scatter, stored units);
    ``report=False``: the float32 note without its warning (a grid warns once)."""
    gcv = score == "gcv"
    xy = _fit(be, a, b, sab, ridge, average, gcv) if direction in ("x->y", "both") else None
    yx = _fit(be, b, a, sab.T, ridge, average, gcv) if direction in ("y->x", "both") else None
    parts = [d for d in (xy, yx) if d is not None]
    sim = float(np.mean([d[score] for d in parts]))
    coef = xy["per"] if direction == "x->y" else yx["per"] if direction == "y->x" else np.zeros(0)
    notes = []
    for tag, d in (("y from x", xy), ("x from y", yx)):
        if d is not None:
            notes += [f"{tag}: {s}" for s in d["notes"]]
    if a.side.float32 or b.side.float32:
        notes += float32_error_notes(measure, {tag: d["inflation"] for tag, d in (("y from x", xy), ("x from y", yx))
                                               if d is not None},
                                     factor="regression inflation", values="the R^2",
                                     cause="large cancelling ridge coefficients (nearly collinear predictors) for",
                                     warn=report)

    def get(d, k):
        return None if d is None else d[k]
    return PredictivityResult(measure=measure, similarity=sim, coefficients=coef, n=int(a.n), p=a.p, q=b.p,
                              notes=tuple(notes), direction=direction, score=score, average=average,
                              r2_xy=get(xy, score), r2_yx=get(yx, score), fit_xy=get(xy, "fit"),
                              fit_yx=get(yx, "fit"), gcv_xy=get(xy, "gcv"), gcv_yx=get(yx, "gcv"),
                              ridge_xy=get(xy, "ridge"), ridge_yx=get(yx, "ridge"), df_xy=get(xy, "df"),
                              df_yx=get(yx, "df"))


def linear_predictivity(x, y=None, *, ridge="gcv", direction: str = "both", score: str = "fit",
                        average: str = "variance", backend: str = "auto",
                        precision: str = "float64") -> PredictivityResult:
    """Ridge-regression R^2 of y from x and of x from y (n datapoints, samples first), or of a Moments.

    Parameters
    ----------
    x, y, backend, precision
        As in :func:`fastcca.shape_metric`: two activation arrays or one Moments.  A float32
        result estimates the error of its R^2 (``2^-24 x`` the regression inflation of
        :func:`fastcca.measures.predictivity.regression_inflation`, per direction; above 1e-5 a
        note and a :class:`fastcca.Float32PrecisionWarning`): a small ridge on nearly collinear
        predictors amplifies float32 rounding (docs/definitions.md, *Precision*).
    ridge : "gcv", float >= 0 or sequence of floats, default "gcv"
        The penalty on ``||B||_F^2`` in the data's units of the predicting side's scatter
        (``X^T X``, not divided by n: scikit-learn's ``Ridge(alpha=ridge)``).  ``"gcv"``:
        chosen by generalised cross-validation among 49 values log-spaced from 1e-8 to 1e4
        times the mean eigenvalue of ``X^T X``; a sequence: chosen by GCV among those.  0 is
        least squares (on the data's rank).
    direction : {"both", "x->y", "y->x"}, default "both"
        ``"x->y"``: R^2 of y predicted from x; ``"y->x"``: the reverse; ``"both"``: their mean
        (symmetric).
    score : {"fit", "gcv"}, default "fit"
        ``"fit"``: R^2 of the fitted ridge on these datapoints (optimistic when p is not << n);
        ``"gcv"``: its generalised cross-validation estimate on new datapoints (can be < 0).
    average : {"variance", "uniform"}, default "variance"
        ``"variance"``: fraction of the predicted side's total variance explained;
        ``"uniform"``: mean of the per-neuron R^2 (constant neurons left out).

    Returns
    -------
    PredictivityResult
        ``similarity``: the R^2 asked for; ``r2_xy``/``r2_yx``, both scores of each direction,
        the ridge used and the effective degrees of freedom; ``coefficients``: per-neuron R^2
        for a single direction.

    Raises
    ------
    ValueError, TypeError, fastcca.BackendUnavailableError
        As :func:`fastcca.shape_metric`, plus a negative, non-finite or non-numeric ``ridge``
        and an unknown ``direction``, ``score`` or ``average``.

    Notes
    -----
    Closed form from the moments (module docstring): ``B = (Sxx + ridge I)^-1 Sxy``; the fit's
    residuals and the GCV score need only ``eigh(Sxx)`` and ``V^T Sxy``.  Used as a model-to-brain
    and model-to-model comparison ("linear predictivity", e.g. Yamins et al. 2014; Schrimpf et al.
    2018 use cross-validated per-neuron fits).  Matches scikit-learn's ``Ridge`` + ``r2_score``
    to rounding.  docs/measures.md.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((1000, 20))
    >>> y = x[:, :5] @ rng.standard_normal((5, 8))                # y is a linear map of x
    >>> r = fastcca.linear_predictivity(x, y)
    >>> round(r.r2_xy, 4), r.r2_yx < 0.5                          # y from x: all of it; x from y: a quarter
    (1.0, True)
    """
    ridge = check_ridge(ridge)
    direction = check_choice(direction, "direction", DIRECTIONS)
    score = check_choice(score, "score", SCORES)
    average = check_choice(average, "average", AVERAGES)
    m = as_moments(x, y, backend, precision, what="linear_predictivity")
    sx, sy, sxy = sides(m)
    name = {"both": "linear_predictivity", "x->y": "linear_predictivity_xy", "y->x": "linear_predictivity_yx"}
    return predictivity_pair(m._be, prepare(sx), prepare(sy), sxy, ridge=ridge, direction=direction,
                             score=score, average=average, measure=name[direction])
