"""Result types: small frozen dataclasses holding the numbers a measure returns, what was kept
or dropped and why.  Every result has ``similarity`` (higher = more similar), ``distance``
(``1 - similarity``) and ``coefficients`` (sorted descending)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ._validation import check_threshold


@dataclass(frozen=True)
class Result:
    """What every measure returns: the similarity, its coefficients, the counts and notes.

    Attributes
    ----------
    measure : str
        The measure's name ("cca", "svcca", ...).
    similarity : float
        Higher = more similar; ``distance = 1 - similarity``.
    coefficients : array
        The measure's coefficients, sorted descending (canonical correlations for the CCA family).
    n : int
        Datapoints.
    p, q : int
        Neurons of x and y (channels for conv results).
    notes : tuple of str
        What was dropped and why (constant neurons, rank deficiency, too few datapoints,
        float32 error estimates).

    Notes
    -----
    Frozen dataclasses; ``str(result)`` prints a summary and :meth:`to_dict` gives JSON-ready
    data.  The subclasses add each measure's own fields.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> x = np.random.default_rng(0).standard_normal((500, 4))
    >>> r = fastcca.cca(x, x[:, ::-1])
    >>> r.measure, r.n, r.p, r.q, round(r.distance, 6)
    ('cca', 500, 4, 4, 0.0)
    >>> sorted(r.to_dict())[:4]
    ['coefficients', 'data_rank_x', 'data_rank_y', 'distance']
    """
    measure: str
    similarity: float
    coefficients: np.ndarray
    n: int
    p: int
    q: int
    notes: tuple = field(default=())

    @property
    def distance(self) -> float:
        """``1 - similarity``."""
        return 1.0 - self.similarity

    def to_dict(self) -> dict:
        """JSON-ready dict (arrays as lists)."""
        out = {}
        for k, v in asdict(self).items():
            if isinstance(v, np.ndarray):
                v = v.tolist()
            elif isinstance(v, tuple):
                v = list(v)
            out[k] = v
        out["distance"] = self.distance
        return out

    def _summary_lines(self) -> list[str]:
        return []

    def __str__(self) -> str:
        c = self.coefficients
        head = ", ".join(f"{v:.4f}" for v in c[:8]) + (", ..." if len(c) > 8 else "")
        lines = [f"{self.measure}: similarity {self.similarity:.6f}  distance {self.distance:.6f}",
                 f"  n={self.n} datapoints, p={self.p}, q={self.q} neurons",
                 f"  {len(c)} coefficients: [{head}]"]
        lines += ["  " + s for s in self._summary_lines()]
        lines += ["  note: " + s for s in self.notes]
        return "\n".join(lines)


@dataclass(frozen=True)
class CCAResult(Result):
    """Canonical correlations of X and Y (:func:`fastcca.cca`, :func:`fastcca.mean_cca`).

    Attributes
    ----------
    measure, similarity, coefficients, n, p, q, notes
        As in :class:`Result`.
    kept_x, kept_y : bool array (p,), (q,)
        The neurons that entered the CCA (neurons whose variance is below ``eps`` times the
        largest variance of their side are dropped).
    rank_x, rank_y : int
        The whitened directions that entered the CCA (there are ``min(rank_x, rank_y)``
        coefficients).
    data_rank_x, data_rank_y : int
        The rank of each side's data: its directions with variance above ``rank_tol`` times the
        largest (see :func:`fastcca.cca`).  ``rank_x``/``rank_y`` equal them unless
        ``rank_tol=None`` kept the deficient directions (or ``rcond`` floored more).
    rank_tol : float or None
        The data-rank tolerance used (None: deficient directions kept, the reference behaviour).
    eps : float
        The regularisation used.
    x_weights, y_weights : array (p, r), (q, r) or None
        The canonical weights when asked for (zero rows for dropped neurons), scaled so the
        canonical variates ``(X - mean_x) @ x_weights`` have unit variance (ddof=1).

    Notes
    -----
    ``similarity`` is the mean of the coefficients (mean CCA); :meth:`threshold_mean` gives the
    reference implementation's ``mean``.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2000, 3))
    >>> r = fastcca.cca(x, x @ rng.standard_normal((3, 3)), weights=True)
    >>> variates = (x - x.mean(0)) @ r.x_weights
    >>> np.round(variates.std(0, ddof=1), 6)
    array([1., 1., 1.])
    """
    kept_x: np.ndarray = None
    kept_y: np.ndarray = None
    rank_x: int = 0
    rank_y: int = 0
    eps: float = 0.0
    x_weights: np.ndarray | None = None
    y_weights: np.ndarray | None = None
    data_rank_x: int = 0
    data_rank_y: int = 0
    rank_tol: float | None = None

    def threshold_mean(self, threshold: float = 0.98) -> float:
        """The reference implementation's ``mean``: the mean of the leading coefficients.

        Parameters
        ----------
        threshold : float in (0, 1], default 0.98
            ``rho[:i]`` is averaged, ``i`` the first index with
            ``sum(rho[:i]) / sum(rho) >= threshold``.

        Returns
        -------
        float

        Raises
        ------
        ValueError, TypeError
            ``threshold`` is not a fraction in (0, 1] (0, a negative, NaN, above 1, a string).
        """
        threshold = check_threshold(threshold)
        rho = self.coefficients
        total = rho.sum()
        if total <= 0:
            return 0.0
        frac = np.concatenate([[0.0], np.cumsum(rho)]) / total
        i = int(np.argmax(frac >= threshold)) if np.any(frac >= threshold) else len(rho)
        return float(np.mean(rho[:i])) if i > 0 else float("nan")

    def _summary_lines(self):
        return [f"kept neurons: x {int(self.kept_x.sum())}/{self.p}, y {int(self.kept_y.sum())}/{self.q}; "
                f"whitened rank x {self.rank_x}, y {self.rank_y} (data rank x {self.data_rank_x}, "
                f"y {self.data_rank_y}); eps={self.eps:g}"]


@dataclass(frozen=True)
class SVCCAResult(Result):
    """SVCCA (Raghu et al. 2017): CCA between the top ``k_x``/``k_y`` singular directions.

    Attributes
    ----------
    measure, similarity, coefficients, n, p, q, notes
        As in :class:`Result`.
    k_x, k_y : int
        The singular directions kept on each side.
    keep, keep_rule : float or int, str
        How ``k_x``/``k_y`` were chosen.
    singular_values_x, singular_values_y : array
        Singular values of the centred activations, descending (all of them, or the top ones
        when a truncated solver ran).
    cca : CCAResult
        The CCA of the reduced representations.
    x_directions, y_directions : array (p, k_x), (q, k_y) or None
        With ``directions=True``: the kept singular directions (orthonormal columns, the top
        eigenvectors of each side's covariance, descending; each column's largest-magnitude
        entry positive).  ``(X - mean_x) @ x_directions`` is the data's top-k_x SVD projection.
    x_weights, y_weights : array (p, m), (q, m) or None
        With ``directions=True``: the SVCCA weights in neuron space; the SVCCA variates
        ``(X - mean_x) @ x_weights`` have unit variance (ddof=1), are uncorrelated, lie in the
        span of the kept directions, and the i-th pair correlates by ``coefficients[i]``.

    Notes
    -----
    ``similarity`` is the mean of the ``min(k_x, k_y)`` canonical correlations.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> x = np.random.default_rng(0).standard_normal((500, 10))
    >>> r = fastcca.svcca(x, x, keep=3)
    >>> r.k_x, r.k_y, len(r.coefficients)
    (3, 3, 3)
    """
    k_x: int = 0
    k_y: int = 0
    keep: float | int = 0.99
    keep_rule: str = "sum"
    singular_values_x: np.ndarray = None
    singular_values_y: np.ndarray = None
    cca: CCAResult | None = None
    x_directions: np.ndarray | None = None
    y_directions: np.ndarray | None = None
    x_weights: np.ndarray | None = None
    y_weights: np.ndarray | None = None

    def _summary_lines(self):
        return [f"kept directions: x {self.k_x}/{self.p}, y {self.k_y}/{self.q} "
                f"(keep={self.keep!r}, rule={self.keep_rule!r})"]


@dataclass(frozen=True)
class PWCCAResult(Result):
    """Projection-weighted CCA (Morcos et al. 2018): ``similarity = sum_i weights_i rho_i``.

    Attributes
    ----------
    measure, similarity, coefficients, n, p, q, notes
        As in :class:`Result`.
    weights : array
        The projection weights (sum 1), aligned with ``coefficients``.
    side : {"x", "y"}
        Whose neurons weighted the directions.
    variant : {"paper", "reference"}
        The paper's definition or the reference code's formula.
    cca : CCAResult
        The underlying CCA.

    Notes
    -----
    Morcos et al. 2018, section 2.2.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> x = np.random.default_rng(0).standard_normal((500, 6))
    >>> r = fastcca.pwcca(x, x[:, :4])
    >>> r.weights.shape, r.side
    ((4,), 'x')
    """
    weights: np.ndarray = None
    side: str = "x"
    variant: str = "paper"
    cca: CCAResult | None = None

    def _summary_lines(self):
        return [f"weights from side {self.side!r}, variant {self.variant!r}"]


@dataclass(frozen=True)
class CKAResult(Result):
    """Linear CKA (Kornblith et al. 2019): ``||Sxy||_F^2 / (||Sxx||_F ||Syy||_F)`` on centred data.

    Attributes
    ----------
    measure, similarity, coefficients, n, p, q, notes
        As in :class:`Result`.

    Notes
    -----
    ``coefficients`` holds, when ``spectrum=True`` was asked, the contributions
    ``sigma_i(Sxy)^2 / (||Sxx||_F ||Syy||_F)`` (descending; they sum to ``similarity``);
    otherwise it is empty.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> x = np.random.default_rng(0).standard_normal((500, 6))
    >>> r = fastcca.linear_cka(x, x[:, :3], spectrum=True)
    >>> bool(np.isclose(r.coefficients.sum(), r.similarity))
    True
    """


@dataclass(frozen=True)
class ConvResult(Result):
    """CCA-family similarity of two conv layers (:func:`fastcca.conv_cca`, ``conv_svcca``, ``conv_pwcca``).

    Attributes
    ----------
    measure, similarity, coefficients, n, p, q, notes
        As in :class:`Result`.
    mode, layout : str
        How the layers were compared and their axis order.
    eps : float
        The regularisation used.
    frequencies : int array (F, 2), fft mode
        The representative integer frequencies ``(a, b)`` of the F computed classes.
    multiplicity : int array (F,), fft mode
        How many of the h*w locations each class stands for (1 or 2).
    per_frequency : array (F, m), fft mode
        Each block's canonical correlations, descending, NaN after the first
        ``per_frequency_count[f]`` entries.
    per_frequency_count : int array (F,)
    rank_x, rank_y : int array (F,)
        The whitened ranks per frequency.
    k_x, k_y : int array (F,)
        ``conv_svcca``: the directions kept per frequency.
    grid : FrequencyGrid
        The compared frequencies (fft mode).
    inner : Result or None
        ``"fold"``, ``"flatten"``, ``"mean"``: the plain measure's result on the reshaped
        activations (``coefficients``/``similarity`` are its own).

    Notes
    -----
    In fft mode (Raghu et al. 2017, section 3) the pooled ``coefficients`` are the union of the
    blocks' coefficients, each class counted ``multiplicity`` times, padded with zeros to
    ``min(sum mult*rank_x, sum mult*rank_y)`` entries: on a translation-invariant dataset
    exactly the canonical correlations of the flattened h*w*c neurons.  ``similarity`` is their
    mean.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> x = np.random.default_rng(0).standard_normal((200, 3, 4, 4))
    >>> r = fastcca.conv_cca(x, x)
    >>> r.mode, int(r.multiplicity.sum()), r.per_location()[1].shape    # 4 x 4 locations
    ('fft', 16, (16, 3))
    """
    mode: str = "fft"
    layout: str = "nchw"
    eps: float = 0.0
    frequencies: np.ndarray | None = None
    multiplicity: np.ndarray | None = None
    per_frequency: np.ndarray | None = None
    per_frequency_count: np.ndarray | None = None
    rank_x: np.ndarray | None = None
    rank_y: np.ndarray | None = None
    k_x: np.ndarray | None = None
    k_y: np.ndarray | None = None
    grid: object = None
    inner: Result | None = None

    @property
    def per_frequency_similarity(self) -> np.ndarray | None:
        """(F,) mean canonical correlation of each frequency block (0.0 for an empty block)."""
        if self.per_frequency is None:
            return None
        pf = np.nan_to_num(self.per_frequency, nan=0.0)
        cnt = np.maximum(self.per_frequency_count, 1)
        return pf.sum(axis=1) / cnt

    def per_location(self) -> tuple[np.ndarray, np.ndarray]:
        """``(locations (h*w, 2), coefficients (h*w, m))``: the per-frequency coefficients
        expanded to every compared location, in ``numpy.fft.fft2`` order (row-major over the
        index of ``fftfreq``), the layout of google/svcca ``fourier_ccas``."""
        if self.grid is None:
            raise ValueError(f"per_location: only mode='fft' has per-frequency results (mode={self.mode!r})")
        return self.grid.locations, self.per_frequency[self.grid.location_class]

    def to_dict(self) -> dict:
        """JSON-ready dict (arrays as lists; the frequency grid left out, ``inner`` nested)."""
        out = Result.to_dict(self)
        out["grid"] = None
        if self.inner is not None:
            out["inner"] = self.inner.to_dict()
        return out

    def _summary_lines(self):
        if self.mode != "fft":
            return [f"mode={self.mode!r} (layout {self.layout!r}): {self.inner.measure} on the reshaped "
                    f"activations, p={self.inner.p}, q={self.inner.q}"]
        h, w = self.grid.size
        return [f"mode='fft': {len(self.frequencies)} frequency classes for {h}x{w} locations, "
                f"eps={self.eps:g}"]


@dataclass(frozen=True)
class ShapeResult(Result):
    """A generalised shape metric (Williams et al. 2021) or the orthogonal Procrustes distance.

    Attributes
    ----------
    measure, coefficients, n, p, q, notes
        As in :class:`Result`.  ``coefficients``: the singular values of the normalised aligned
        cross block (descending; they sum to ``similarity``).
    similarity : float
        ``cos theta`` in [0, 1]: the cosine of the angle between the two (partially whitened)
        representations after the best rotation.
    dist : float
        The distance itself (what :attr:`distance` returns): the angle ``theta`` in [0, pi/2]
        (``kind="angular"``), the Euclidean distance in the data's units (``"euclidean"``) or
        the normalised Procrustes distance in [0, sqrt(2)] (``"procrustes"``).
    alpha : float
        The regularisation: 0 whitens fully (CCA), 1 not at all (Procrustes).
    kind : {"angular", "euclidean", "procrustes"}
    rank_x, rank_y : int
        Directions of each side that were whitened (above ``rank_tol``; all of them for ``alpha=1``).

    Notes
    -----
    These are metrics: symmetric, zero on a representation and itself, and they satisfy the
    triangle inequality.  ``cos theta`` within its rounding (``8 k`` float64 epsilons for k
    coefficients) of 1 counts as 1: angles below ~1e-7 are not resolved and read 0.
    docs/measures.md.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((500, 5))
    >>> q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    >>> r = fastcca.shape_metric(x, x @ q, alpha=1.0)         # a rotated copy
    >>> round(r.distance, 6), round(r.similarity, 6)
    (0.0, 1.0)
    """
    dist: float = 0.0
    alpha: float = 1.0
    kind: str = "angular"
    rank_x: int = 0
    rank_y: int = 0

    @property
    def distance(self) -> float:
        """The metric's value (not ``1 - similarity``): see :attr:`dist`."""
        return self.dist

    def _summary_lines(self):
        return [f"{self.kind} distance {self.dist:.6g} (alpha={self.alpha:g}); whitened directions "
                f"x {self.rank_x}/{self.p}, y {self.rank_y}/{self.q}"]


@dataclass(frozen=True)
class PLSResult(Result):
    """Partial least squares of X and Y: the SVD of their cross-covariance (google/svcca ``numpy_pls``).

    Attributes
    ----------
    measure, n, p, q, notes
        As in :class:`Result`.
    coefficients : array (k,)
        The singular values of the cross-covariance ``Sxy / (n - 1)``, descending, in the data's
        units (the reference's ``eigenvals``).
    similarity : float
        The covariance-weighted mean correlation of the PLS score pairs,
        ``sum_i s_i r_i / sum_i s_i`` (in [0, 1]).
    correlations : array (k,)
        ``r_i = corr(Xc u_i, Yc v_i)``, the correlation of each pair of PLS scores.
    x_directions, y_directions : array (p, k), (q, k)
        The PLS directions (unit-norm columns; the largest entry of each x direction positive).
    covariance_explained : array (k,)
        ``s_i^2 / sum_j s_j^2``: each pair's share of the squared cross-covariance.

    Notes
    -----
    :func:`fastcca.pls`; PLS-SVD (Wold 1975), the reference's ``numpy_pls``.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((1000, 4))
    >>> q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    >>> r = fastcca.pls(x, 2 * x @ q, n_components=2)        # a rotated, scaled copy
    >>> r.x_directions.shape, np.round(r.correlations, 6)
    ((4, 2), array([1., 1.]))
    """
    correlations: np.ndarray = None
    x_directions: np.ndarray = None
    y_directions: np.ndarray = None
    covariance_explained: np.ndarray = None

    def _summary_lines(self):
        return [f"{len(self.coefficients)} PLS pairs; first pair's score correlation "
                f"{self.correlations[0]:.4f}" if len(self.coefficients) else "no PLS pair"]


@dataclass(frozen=True)
class PCAResult:
    """Principal components of one activation set (google/svcca ``numpy_pca``), from moments.

    Attributes
    ----------
    n, p : int
        Datapoints and neurons.
    singular_values : array (k,)
        Singular values of the centred activations, descending (the reference's ``eigenvals``).
    explained_variance : array (k,)
        ``singular_values^2 / (n - 1)`` (ddof=1, as scikit-learn's ``PCA``).
    explained_variance_ratio : array (k,)
        Each component's share of the total variance (of all p components).
    components : array (k, p)
        The principal directions as rows (scikit-learn's ``components_`` layout; the reference's
        ``neuron_coefs``), each with its largest entry positive.
    mean : array (p,)
        The column means (``variant="paper"``); None for the reference variant, which centres
        each datapoint across neurons instead.
    variant : {"paper", "reference"}
    notes : tuple of str

    Notes
    -----
    :func:`fastcca.pca`.  Not a comparison of two representations, so not a :class:`Result`
    (no similarity) and not in the measure registry.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> x = np.random.default_rng(0).standard_normal((1000, 3)) * [3.0, 2.0, 1.0]
    >>> r = fastcca.pca(x)
    >>> np.round(r.explained_variance_ratio, 1)
    array([0.6, 0.3, 0.1])
    """
    n: int
    p: int
    singular_values: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    components: np.ndarray
    mean: np.ndarray | None = None
    variant: str = "paper"
    notes: tuple = ()

    def to_dict(self) -> dict:
        """JSON-ready dict (arrays as lists)."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else list(v) if isinstance(v, tuple) else v)
                for k, v in asdict(self).items()}

    def __str__(self) -> str:
        k = len(self.singular_values)
        head = ", ".join(f"{v:.4f}" for v in self.explained_variance_ratio[:8]) + (", ..." if k > 8 else "")
        lines = [f"pca ({self.variant}): n={self.n} datapoints, p={self.p} neurons, {k} components",
                 f"  explained variance ratio: [{head}]"]
        return "\n".join(lines + ["  note: " + s for s in self.notes])


@dataclass(frozen=True)
class PredictivityResult(Result):
    """Linear predictivity: the ridge-regression R^2 of one representation from the other.

    Attributes
    ----------
    measure, n, p, q, notes
        As in :class:`Result`.
    similarity : float
        The R^2 asked for (``direction``: y from x, x from y, or the mean of both; ``score``:
        of the fit or its GCV estimate out of sample).  R^2 can be negative out of sample.
    coefficients : array
        Per-neuron R^2 of the predicted side (``direction="x->y"``: y's neurons; otherwise x's
        predicted from y when only that was asked; empty for ``"both"``), NaN for constant neurons.
    direction : {"x->y", "y->x", "both"}
    score : {"fit", "gcv"}
    average : {"variance", "uniform"}
    r2_xy, r2_yx : float or None
        R^2 of y from x and of x from y (the ``score`` asked for); None when not computed.
    fit_xy, fit_yx, gcv_xy, gcv_yx : float or None
        Both scores of each direction computed: in-sample R^2 and its GCV estimate.
    ridge_xy, ridge_yx : float or None
        The ridge penalty used, in the data's units (``||Y - X B||^2 + ridge ||B||^2``).
    df_xy, df_yx : float or None
        Effective degrees of freedom of each fit, ``sum_i lam_i / (lam_i + ridge)``.

    Notes
    -----
    :func:`fastcca.linear_predictivity`; ``distance`` is ``1 - similarity``.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2000, 5))
    >>> y = x @ rng.standard_normal((5, 3)) + rng.standard_normal((2000, 3))
    >>> r = fastcca.linear_predictivity(x, y, ridge=0.0, direction="x->y")
    >>> 0.7 < r.similarity < 0.9
    True
    """
    direction: str = "both"
    score: str = "fit"
    average: str = "variance"
    r2_xy: float | None = None
    r2_yx: float | None = None
    fit_xy: float | None = None
    fit_yx: float | None = None
    gcv_xy: float | None = None
    gcv_yx: float | None = None
    ridge_xy: float | None = None
    ridge_yx: float | None = None
    df_xy: float | None = None
    df_yx: float | None = None

    def _summary_lines(self):
        out = []
        for tag, r2, ridge, df in (("y from x", self.r2_xy, self.ridge_xy, self.df_xy),
                                   ("x from y", self.r2_yx, self.ridge_yx, self.df_yx)):
            if r2 is not None:
                out.append(f"R^2 ({self.score}) of {tag}: {r2:.6f} (ridge {ridge:.4g}, df {df:.1f})")
        return out
