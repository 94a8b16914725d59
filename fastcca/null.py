"""What unrelated representations of the same size score: the null baseline of any measure.

A similarity between two representations means little without the value two INDEPENDENT
representations of the same n, p, q would get: with n not >> p + q, CCA-family values of pure
noise are far from 0 (Raghu et al. 2017, section 2, and the google/svcca tutorials compare with
random data for this reason).  :func:`null_baseline` draws that distribution by simulation and
says where the observed value lies in it; :func:`cca_null` gives the analytic answer for CCA.

Simulation without the data
---------------------------
The centred scatter of n independent Gaussian rows N(mu, Sigma) is Wishart, ``W_{p+q}(n - 1,
Sigma)``, whatever mu.  So each null draw samples the (p + q) x (p + q) joint scatter directly
(Bartlett's decomposition, ``A A^T`` with A lower triangular, chi-square diagonal and standard
normal below; or ``Z^T Z`` with Z (n - 1, p + q) Gaussian when ``n - 1 < p + q``): O((p + q)^3)
per draw, independent of n -- never an (n, p) array.  X and Y are independent by construction
(``Sigma`` block diagonal):

* ``spectra="white"``: ``Sigma = I``;
* ``spectra="observed"``: ``Sigma_x = Sxx / (n - 1)`` and ``Sigma_y = Syy / (n - 1)`` from the
  observed moments (each side keeps its own covariance, eigenvectors included, so a measure that
  depends on the spectrum -- SVCCA's kept directions, PLS, Procrustes, PWCCA's weights -- sees
  the same shapes), but the two sides are independent.

Every measure invariant to invertible linear maps of each side (CCA, mean CCA, the shape metric
at alpha = 0) has the same null under both.

Analytic null of CCA (Wachter 1980)
-----------------------------------
For independent Gaussian X (p) and Y (q), p <= q, with m = n - 1 degrees of freedom, the squared
canonical correlations are the eigenvalues of a matrix Beta_p(q/2, (m - q)/2) (the Jacobi /
MANOVA ensemble): ``E[mean rho^2] = q / m`` exactly, and as p, q, m grow with
``c1 = p/m``, ``c2 = q/m`` (``c1 + c2 < 1``) their distribution tends to Wachter's law on
``[l-, l+]``, ``l+- = (sqrt(c1 (1 - c2)) +- sqrt(c2 (1 - c1)))^2``, with density
``sqrt((x - l-)(l+ - x)) / (2 pi c1 x (1 - x))``; with ``c1 + c2 > 1`` a fraction
``(c1 + c2 - 1) / c1`` of them sits at 1 (the degenerate coefficients).  ``sqrt(l+)`` is the
largest canonical correlation noise reaches.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from ._validation import DegenerateCCAWarning, check_choice, describe
from .measures import registry
from .measures._inputs import as_moments
from .moments import Moments

SPECTRA = ("white", "observed")


@dataclass(frozen=True)
class NullResult:
    """A measure's observed value against its distribution on independent data of the same shape.

    Attributes
    ----------
    measure : str
    kind : {"similarity", "distance"}
        What the values are (the registry's ``kind``).
    observed : float
        The measure on the data.
    draws : array (draws,)
        The measure on independent simulated data of the same n, p, q (and spectra).
    mean, std : float
        Of ``draws``.
    quantiles : dict
        Quantiles of ``draws`` at 0.01, 0.05, 0.5, 0.95, 0.99.
    z : float
        ``(observed - mean) / std``: how many null standard deviations the observed value lies
        above the null mean (below, negative; for a distance, more alike than chance is negative).
    p_value : float
        One-sided Monte Carlo p-value of "no more alike than independent data":
        ``(1 + #{draws at least as alike as observed}) / (draws + 1)``.
    excess : float
        ``observed - mean``.
    analytic : dict or None
        For ``cca``/``mean_cca``: :func:`cca_null` of the same n, p, q.
    n, p, q : int
    spectra : {"white", "observed"}
    seed : int or None
    params : dict
        The measure's settings.

    Notes
    -----
    A small p-value says the two representations are more alike than independent data of
    their size would be; it says nothing about how alike.  ``z`` and ``excess`` put the value
    on the null's scale; module docstring for how the draws are made.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((200, 20))
    >>> r = fastcca.null_baseline(x, x[:, :10] + rng.standard_normal((200, 10)), measure="cca", draws=50)
    >>> r.observed > r.quantiles[0.99], round(r.analytic["mean_rho"], 2)
    (True, 0.3)
    """
    measure: str
    kind: str
    observed: float
    draws: np.ndarray
    mean: float
    std: float
    quantiles: dict
    z: float
    p_value: float
    excess: float
    n: int
    p: int
    q: int
    spectra: str = "white"
    seed: int | None = None
    analytic: dict | None = None
    params: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dict (arrays as lists)."""
        d = asdict(self)
        d["draws"] = self.draws.tolist()
        d["quantiles"] = {str(k): v for k, v in self.quantiles.items()}
        return d

    def __str__(self) -> str:
        lines = [f"{self.measure} ({self.kind}): observed {self.observed:.6g}; null ({len(self.draws)} draws, "
                 f"{self.spectra} spectra, n={self.n}, p={self.p}, q={self.q}): mean {self.mean:.6g}, "
                 f"std {self.std:.3g}, 95% in [{self.quantiles[0.05]:.4g}, {self.quantiles[0.95]:.4g}]",
                 f"  observed - null mean = {self.excess:.4g} ({self.z:.3g} null std); one-sided p = "
                 f"{self.p_value:.3g}"]
        if self.analytic:
            a = self.analytic
            lines.append(f"  analytic (Wachter): mean canonical correlation {a['mean_rho']:.4g}, E[mean rho^2] = "
                         f"{a['mean_rho2']:.4g}, largest null coefficient ~{a['edge']:.4g}")
        return "\n".join(lines)


def _check_count(v, name: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name}: expected a positive int, got {describe(v)}")
    if v < 2:
        raise ValueError(f"{name}: expected an int >= 2, got {v!r}")
    return int(v)


def wishart_scatter(rng: np.random.Generator, dof: int, dim: int) -> np.ndarray:
    """A draw of ``W_dim(dof, I)``: the centred scatter of ``dof + 1`` independent standard
    normal rows (Bartlett's decomposition when ``dof >= dim``, else ``Z^T Z``)."""
    if dof < dim:
        z = rng.standard_normal((dof, dim))
        return z.T @ z
    a = np.tril(rng.standard_normal((dim, dim)), -1)
    a[np.diag_indices(dim)] = np.sqrt(rng.chisquare(dof - np.arange(dim)))
    return a @ a.T


def _root(be, s, n: int):
    """``R`` with ``R R^T = s / (n - 1)`` (host), from the symmetric square root."""
    w, v = np.linalg.eigh(be.to_numpy(s) / max(n - 1, 1))
    return (v * np.sqrt(np.maximum(w, 0.0))) @ v.T


def null_moments(m: Moments, rng: np.random.Generator, spectra: str = "white", roots=None,
                 data: bool = False) -> Moments:
    """One draw of the null: the Moments of independent Gaussian x and y with the count, sizes
    (and, for ``spectra="observed"``, covariances and power-of-two units) of ``m``.  ``data``:
    simulate the (n, p + q) Gaussian data in batches instead (the measures that need statistics
    beyond the moments, e.g. debiased CKA; O(n (p + q)^2) per draw)."""
    p, q, n = m.p, m.q, m.n
    if data:
        return _null_by_data(m, rng, spectra, roots)
    w = wishart_scatter(rng, n - 1, p + q)
    sxx, syy, sxy = w[:p, :p], w[p:, p:], w[:p, p:]
    if spectra == "observed":
        rx, ry = roots
        sxx, syy, sxy = rx @ sxx @ rx.T, ry @ syy @ ry.T, rx @ sxy @ ry.T
    be = m._be
    out = Moments._with_backend_module(be)
    out.n = n
    out.mean_x, out.mean_y = be.xp.zeros(p), be.xp.zeros(q)
    out.sxx, out.syy, out.sxy = (be.xp.asarray(np.ascontiguousarray(a)) for a in (sxx, syy, sxy))
    if spectra == "observed":       # the observed covariances, in the observed power-of-two units
        out.exponent_x, out.exponent_y = m.exponent_x, m.exponent_y
    return out


def _null_by_data(m: Moments, rng: np.random.Generator, spectra: str, roots) -> Moments:
    out = m._like()
    rx, ry = roots if spectra == "observed" else (None, None)
    rows = max(1, (1 << 22) // (m.p + m.q))          # ~32 MiB of float64 per batch
    done = 0
    while done < m.n:
        b = min(rows, m.n - done)
        xb, yb = rng.standard_normal((b, m.p)), rng.standard_normal((b, m.q))
        if rx is not None:
            xb, yb = xb @ rx.T, yb @ ry.T
        out.update(m._be.xp.asarray(xb), m._be.xp.asarray(yb))
        done += b
    return out


def null_baseline(x, y=None, *, measure: str = "cca", draws: int = 100, seed: int | None = 0,
                  spectra: str = "white", backend: str = "auto", **params) -> NullResult:
    """The distribution of ``measure`` for independent data of the same n, p, q, and where the observed value lies in it.

    Parameters
    ----------
    x, y : array-like or Moments
        Activations x (n, p) and y (n, q), samples first, or a :class:`fastcca.Moments` as ``x``.
    measure : str, default "cca"
        A name of :data:`fastcca.REGISTRY` (``"cka"`` accepted for ``"linear_cka"``).
    draws : int, default 100
        Independent null draws (>= 2).  The Monte Carlo p-value cannot go below
        ``1 / (draws + 1)``.
    seed : int or None, default 0
        Seed of ``numpy.random.default_rng``: the same seed gives the same draws.
    spectra : {"white", "observed"}, default "white"
        ``"white"``: independent standard normal x and y.  ``"observed"``: each side Gaussian
        with its observed covariance (eigenvectors included), the two sides independent.
    backend : {"auto", "cpu", "cuda"}
        Where the moments pass over arrays runs.
    **params
        The measure's settings (its registry entry's ``params``, e.g. ``keep=0.99`` for svcca,
        ``alpha=0.5`` for the shape metrics).

    Returns
    -------
    NullResult
        ``observed``, the null ``draws`` and their summary, ``z``, ``p_value``; for CCA the
        analytic expectation (:func:`cca_null`).

    Raises
    ------
    ValueError
        An unknown measure or ``spectra``, ``draws`` < 2, or any error the measure raises on
        the data.
    TypeError
        An argument the measure does not take, or a non-integer ``draws``.

    Notes
    -----
    Each draw samples the joint centred scatter from its Wishart distribution (module
    docstring): O((p + q)^3) per draw, whatever n, then computes the measure from those moments
    exactly as on the data.  A measure that needs statistics beyond the moments
    (``debiased_cka``) draws Gaussian data in batches instead: O(n (p + q)^2) per draw.  The p-value counts draws at least as alike as the observed value
    (``>=`` for a similarity, ``<=`` for a distance).  docs/measures.md, *Null baseline*.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.standard_normal((100, 30)), rng.standard_normal((100, 30))   # unrelated
    >>> r = fastcca.null_baseline(x, y, measure="svcca", draws=30)
    >>> r.observed > 0.3, r.p_value > 0.05                  # far from 0, yet not above chance
    (True, True)
    """
    spec = registry.get(measure)
    kw = spec.validate(params)
    draws = _check_count(draws, "draws")
    spectra = check_choice(spectra, "spectra", SPECTRA)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed: expected an int or None, got {describe(seed)}")
    m = as_moments(x, y, backend, what="null_baseline")
    observed = spec.value(spec(m, **kw))
    rng = np.random.default_rng(seed)
    roots = (_root(m._be, m.sxx, m.n), _root(m._be, m.syy, m.n)) if spectra == "observed" else None
    vals = np.empty(draws)
    with warnings.catch_warnings():
        # the observed call has warned already; the same warning per draw says nothing new
        warnings.simplefilter("ignore", DegenerateCCAWarning)
        for i in range(draws):
            vals[i] = spec.value(spec(null_moments(m, rng, spectra, roots, data=bool(spec.extras)), **kw))
    mean, std = float(vals.mean()), float(vals.std(ddof=1))
    alike = vals >= observed if spec.kind == "similarity" else vals <= observed
    analytic = cca_null(m.n, m.p, m.q) if spec.name in ("cca", "mean_cca") else None
    return NullResult(measure=spec.name, kind=spec.kind, observed=observed, draws=vals, mean=mean, std=std,
                      quantiles={k: float(np.quantile(vals, k)) for k in (0.01, 0.05, 0.5, 0.95, 0.99)},
                      z=(observed - mean) / std if std > 0 else (0.0 if observed == mean else math.copysign(math.inf, observed - mean)),
                      p_value=float((1 + alike.sum()) / (draws + 1)), excess=observed - mean, n=m.n, p=m.p,
                      q=m.q, spectra=spectra, seed=None if seed is None else int(seed), analytic=analytic,
                      params={k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()})


def cca_null(n: int, p: int, q: int) -> dict:
    """Analytic null of CCA for independent Gaussian data: n datapoints, p and q neurons.

    Parameters
    ----------
    n : int
        Datapoints (the centred scatter has ``m = n - 1`` degrees of freedom).
    p, q : int
        Neurons of the two sides (full data rank assumed).

    Returns
    -------
    dict
        ``mean_rho2``: ``E[mean rho_i^2]`` over the ``min(p, q)`` coefficients, exactly
        ``max(p, q) / m`` (forced ones included); ``mean_rho``: the
        expected mean canonical correlation (the similarity of :func:`fastcca.cca`) under
        Wachter's limit law; ``edge``: ``sqrt(l+)``, where the largest null coefficient
        concentrates; ``forced``: the fraction of coefficients equal to 1 by construction.

    Raises
    ------
    ValueError
        Counts below 1, or ``n < 2``.

    Notes
    -----
    Wachter (1980); Johnstone (2008), "Multivariate analysis and Jacobi ensembles".  The limit
    is accurate to about 1e-3 for p, q >= 20 (tested against simulation).  Module docstring.

    Examples
    --------
    >>> import fastcca
    >>> a = fastcca.cca_null(n=1001, p=100, q=100)
    >>> round(a["mean_rho2"], 3), round(a["mean_rho"], 3), round(a["edge"], 3)
    (0.1, 0.271, 0.6)
    """
    for v, name in ((n, "n"), (p, "p"), (q, "q")):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name}: expected a positive int, got {describe(v)}")
    if n < 2 or p < 1 or q < 1:
        raise ValueError(f"cca_null: need n >= 2 and p, q >= 1, got n={n}, p={p}, q={q}")
    m = n - 1
    small, large = min(p, q), max(p, q)
    forced = max(0, min(small, small + large - m)) / small
    c1, c2 = small / m, large / m
    if forced >= 1.0 or c2 >= 1.0:
        return dict(mean_rho=1.0, mean_rho2=1.0, edge=1.0, forced=1.0)
    a, b = math.sqrt(c1 * (1 - c2)), math.sqrt(c2 * (1 - c1))
    lo, hi = (a - b) ** 2, min((a + b) ** 2, 1.0)
    from scipy.integrate import quad

    def density(x):
        return math.sqrt(max((x - lo) * (hi - x), 0.0)) / (2 * math.pi * c1 * x * (1 - x))
    cont_rho = quad(lambda x: math.sqrt(x) * density(x), lo, hi, limit=200)[0]
    # E[mean rho^2] = max(p, q) / m exactly (the mean of the matrix Beta law), forced ones included
    return dict(mean_rho=float(cont_rho + forced), mean_rho2=c2, edge=math.sqrt(hi), forced=float(forced))
