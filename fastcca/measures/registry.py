"""The measure registry: one entry per measure, the one list the command line, the layer grid
(:func:`fastcca.similarity_grid`, :mod:`fastcca.torch`), the null baseline, the jackknife, the
plots and the documentation read.

Each :class:`MeasureSpec` says what a measure's number is (a similarity, higher = more alike,
or a distance), whether swapping x and y leaves it unchanged, whether it is a metric, the
keyword arguments a grid or the command line may pass to it, and the range of its values.

Every measure a grid offers is written as a per-side ``prepare`` and a
``pair(prepared_a, prepared_b, cross_block)`` and carries those two functions here, so a layer
grid prepares each layer once for all its pairs, with the same code as the single-pair function.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable

from .._canonical import RANK_TOL
from .._validation import check_choice, check_tolerance
from . import decompositions as _pls
from . import predictivity as _pred
from . import shape as _shape
from .cca import cca, mean_cca
from .cca import pair as _cca_pair, prepare as _cca_prepare
from .cka import debiased_cka, linear_cka
from .cka import pair as _cka_pair, prepare as _cka_prepare
from .pwcca import pwcca
from .pwcca import pair as _pwcca_pair, prepare as _pwcca_prepare
from .svcca import svcca
from .svcca import pair as _svcca_pair, prepare as _svcca_prepare


@dataclass(frozen=True)
class MeasureSpec:
    """One measure of the registry.

    Attributes
    ----------
    name : str
        The name the command line, grids and :func:`fastcca.null_baseline` accept.
    function : callable
        The single-pair function, ``function(x, y, **params)`` or ``function(moments, **params)``.
    kind : {"similarity", "distance"}
        What the measure's number is: the grid value, the command line's headline and the null
        baseline's statistic are ``result.similarity`` or ``result.distance`` accordingly.
    symmetric : bool
        ``f(x, y) == f(y, x)``: a grid computes each unordered pair once.
    metric : bool
        A distance satisfying the triangle inequality (and symmetry, identity).
    summary : str
        One line for tables (command-line help, docs).
    params : dict
        The keyword arguments a grid or the command line may pass, with their defaults.
    fixed : dict
        Keyword arguments this entry always passes (e.g. a direction).
    value_range : tuple of (float or None)
        The range of the values, for plots (None: unbounded on that side).
    reference : str
        Where the definition comes from.
    prepare, pair : callable or None
        ``prepare(side, params)`` -> per-layer state and ``pair(backend, prep_a, prep_b, s_ab,
        params)`` -> Result, for measures written that way (``side``: a
        ``fastcca.measures._blocks.Side``; ``s_ab``: the cross scatter).
    check : callable or None
        ``check(params)`` validates a dict of keyword arguments and fills in the defaults (used
        by :meth:`validate`; None: the measure takes none).
    grid : bool
        Whether :func:`fastcca.similarity_grid` offers it.
    extras : tuple of str
        Statistics beyond the moments the measure needs (``("hsic",)``: a Moments made with
        ``debiased_cka=True``).
    scale_invariant : bool
        Whether the value (at the default ``params``) is unchanged when either side is multiplied
        by a positive number (False: a distance in the data's units).
    whitens : bool
        The CCA family: ``prepare`` gives a :class:`fastcca.measures._whitened.Whitened`, so a
        grid gives each layer's notes once and sums the degenerate pairs and float32 estimates
        over the grid.  (Every ``pair`` takes ``report=False``: no warning of its own; a grid
        warns once.)

    Notes
    -----
    The order of :data:`REGISTRY` is the documentation's; :func:`get` resolves aliases.

    Examples
    --------
    >>> import fastcca
    >>> spec = fastcca.REGISTRY["procrustes"]
    >>> spec.kind, spec.symmetric, spec.metric
    ('distance', True, True)
    """
    name: str
    function: Callable
    kind: str
    symmetric: bool
    metric: bool
    summary: str
    params: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)
    value_range: tuple = (0.0, 1.0)
    reference: str = ""
    prepare: Callable | None = None
    pair: Callable | None = None
    check: Callable | None = None
    grid: bool = True
    extras: tuple = ()
    scale_invariant: bool = True
    whitens: bool = False

    def validate(self, params: dict) -> dict:
        """``params`` checked before any work (names and values), defaults filled in.

        Raises
        ------
        TypeError
            An argument the measure does not take, or a value of the wrong type.
        ValueError
            A value out of range; the message names the argument.
        """
        if self.check is None:
            _check_known(self.name, params, ())
            return {}
        return self.check(dict(params))

    def value(self, result) -> float:
        """The number this measure reports from one of its results."""
        return float(result.distance if self.kind == "distance" else result.similarity)

    def __call__(self, x, y=None, **params):
        """``function(x, y, **fixed, **params)``."""
        return self.function(x, y, **self.fixed, **params)


def _check_known(name: str, kw: dict, allowed) -> None:
    unknown = sorted(set(kw) - set(allowed), key=str)
    if unknown:
        raise TypeError(f"unexpected argument(s) {unknown} for measure {name!r}; it takes "
                        f"{', '.join(allowed) if allowed else 'none'}")


def _shape_check(name):
    def check(kw):
        _check_known(name, kw, ("alpha", "rank_tol"))
        return dict(alpha=_shape.check_alpha(kw.get("alpha", 1.0)),
                    rank_tol=check_tolerance(kw.get("rank_tol", RANK_TOL), "rank_tol"))
    return check


def _shape_entry(kind: str) -> MeasureSpec:
    name = f"shape_{kind}"
    return MeasureSpec(
        name=name, function=_shape.shape_metric, kind="distance", symmetric=True, metric=True,
        summary=(f"{'angle' if kind == 'angular' else 'Euclidean distance'} between partially whitened "
                 "representations after the best rotation; alpha=0 CCA, alpha=1 Procrustes"),
        params={"alpha": 1.0, "rank_tol": RANK_TOL}, fixed={"kind": kind},
        value_range=(0.0, math.pi / 2) if kind == "angular" else (0.0, None),
        reference="Williams, Kunz, Kornblith & Linderman 2021, section 2.3 (netrep LinearMetric)",
        prepare=lambda side, kw: _shape.prepare(side, kw["alpha"], kw["rank_tol"]),
        pair=lambda be, a, b, sab, kw, **opts: _shape.pair(be, a, b, sab, kind, measure=name, **opts),
        check=_shape_check(name), scale_invariant=kind == "angular")


def _procrustes_check(kw):
    _check_known("procrustes", kw, ("normalize",))
    norm = kw.get("normalize", True)
    if not isinstance(norm, bool):
        raise TypeError(f"normalize: expected True or False, got {norm!r}")
    return dict(normalize=norm)


def _pred_check(name):
    def check(kw):
        _check_known(name, kw, ("ridge", "score", "average"))
        return dict(ridge=_pred.check_ridge(kw.get("ridge", "gcv")),
                    score=check_choice(kw.get("score", "fit"), "score", _pred.SCORES),
                    average=check_choice(kw.get("average", "variance"), "average", _pred.AVERAGES))
    return check


def _pred_entry(direction: str) -> MeasureSpec:
    directed = direction != "both"
    name = "linear_predictivity_xy" if directed else "linear_predictivity"
    return MeasureSpec(
        name=name, function=_pred.linear_predictivity, kind="similarity", symmetric=not directed, metric=False,
        summary=("ridge R^2 of y (columns) from x (rows)" if directed else
                 "ridge R^2, mean of y from x and x from y; ridge by GCV"),
        params={"ridge": "gcv", "score": "fit", "average": "variance"}, fixed={"direction": direction},
        value_range=(None, 1.0), reference="ridge regression (Hoerl & Kennard 1970), GCV (Golub, Heath & Wahba 1979)",
        prepare=lambda side, kw: _pred.prepare(side),
        pair=lambda be, a, b, sab, kw, **opts: _pred.predictivity_pair(be, a, b, sab, direction=direction,
                                                                      measure=name, **kw, **opts),
        check=_pred_check(name))


def _cca_family_check(name, allowed):
    def check(kw):
        from ..grid import check_measure_arguments
        _check_known(name, kw, allowed)
        full = check_measure_arguments(name, kw)
        return {k: full[k] for k in allowed}
    return check


_ENTRIES = [
    MeasureSpec("svcca", svcca, "similarity", True, False,
                "CCA of the top singular directions (keep 99% of the singular values' sum)",
                params={"keep": 0.99, "keep_rule": "sum", "eps": 1e-10, "rank_tol": RANK_TOL},
                reference="Raghu, Gilmer, Yosinski & Sohl-Dickstein 2017, section 2",
                check=_cca_family_check("svcca", ("keep", "keep_rule", "eps", "rank_tol")),
                prepare=lambda side, kw: _svcca_prepare(side, keep=kw["keep"], keep_rule=kw["keep_rule"],
                                                        eps=kw["eps"], rank_tol=kw["rank_tol"]),
                pair=lambda be, a, b, sab, kw, **opts: _svcca_pair(be, a, b, sab, **opts), whitens=True),
    MeasureSpec("pwcca", pwcca, "similarity", False, False,
                "canonical correlations weighted by how much of x's neurons each direction holds",
                params={"eps": 1e-10, "side": "x", "rank_tol": RANK_TOL},
                reference="Morcos, Raghu & Bengio 2018, section 2.2",
                check=_cca_family_check("pwcca", ("eps", "side", "rank_tol")),
                prepare=lambda side, kw: _pwcca_prepare(side, eps=kw["eps"], rank_tol=kw["rank_tol"]),
                pair=lambda be, a, b, sab, kw, **opts: _pwcca_pair(be, a, b, sab, side=kw["side"], **opts),
                whitens=True),
    MeasureSpec("cca", cca, "similarity", True, False, "mean canonical correlation",
                params={"eps": 1e-10, "rcond": None, "rank_tol": RANK_TOL}, reference="Hotelling 1936",
                check=_cca_family_check("cca", ("eps", "rcond", "rank_tol")),
                prepare=lambda side, kw: _cca_prepare(side, eps=kw["eps"], rcond=kw["rcond"], rank_tol=kw["rank_tol"]),
                pair=lambda be, a, b, sab, kw, **opts: _cca_pair(be, a, b, sab, **opts), whitens=True),
    MeasureSpec("mean_cca", mean_cca, "similarity", True, False, "mean canonical correlation (as cca)",
                params={"eps": 1e-10, "rcond": None, "rank_tol": RANK_TOL}, reference="Hotelling 1936",
                check=_cca_family_check("mean_cca", ("eps", "rcond", "rank_tol")),
                prepare=lambda side, kw: _cca_prepare(side, eps=kw["eps"], rcond=kw["rcond"], rank_tol=kw["rank_tol"]),
                pair=lambda be, a, b, sab, kw, **opts: _cca_pair(be, a, b, sab, measure="mean_cca", **opts),
                whitens=True),
    MeasureSpec("linear_cka", linear_cka, "similarity", True, False,
                "||Sxy||_F^2 / (||Sxx||_F ||Syy||_F): centred kernel alignment, linear kernel",
                reference="Kornblith, Norouzi, Lee & Hinton 2019",
                prepare=lambda side, kw: _cka_prepare(side), pair=lambda be, a, b, sab, kw, **opts: _cka_pair(be, a, b, sab)),
    MeasureSpec("debiased_cka", debiased_cka, "similarity", True, False,
                "linear CKA with the unbiased HSIC estimator: ~0 for unrelated representations at any n",
                value_range=(None, 1.0), reference="Song et al. 2012 (unbiased HSIC); Nguyen, Raghu & Kornblith 2021",
                grid=False, extras=("hsic",)),
    _shape_entry("angular"),
    _shape_entry("euclidean"),
    MeasureSpec(
        "procrustes", _shape.procrustes, "distance", True, True,
        "orthogonal Procrustes distance of the unit-norm centred representations, in [0, sqrt 2]",
        params={"normalize": True}, value_range=(0.0, math.sqrt(2.0)),
        reference="Schoenemann 1966; Ding, Denain & Steinhardt 2021; Williams et al. 2021",
        prepare=lambda side, kw: _shape.prepare(side, 1.0),
        pair=lambda be, a, b, sab, kw, **opts: _shape.pair(
            be, a, b, sab, "procrustes" if kw["normalize"] else "euclidean",
            measure="procrustes", normalize=kw["normalize"], **opts),
        check=_procrustes_check),
    MeasureSpec(
        "pls", _pls.pls, "similarity", True, False,
        "PLS-SVD of the cross-covariance; covariance-weighted mean correlation of the score pairs",
        reference="google/svcca numpy_pls.py; Wold 1975",
        prepare=lambda side, kw: side,
        pair=lambda be, a, b, sab, kw, **opts: _pls.pls_pair(be, a, b, sab, **opts)),
    _pred_entry("both"),
    _pred_entry("x->y"),
]

#: name -> :class:`MeasureSpec`, in the order of the documentation (read-only)
REGISTRY = MappingProxyType({e.name: e for e in _ENTRIES})
#: other names the command line accepts
ALIASES = MappingProxyType({"cka": "linear_cka"})


def get(name: str) -> MeasureSpec:
    """The :class:`MeasureSpec` named ``name`` (an alias such as ``"cka"`` allowed).

    Parameters
    ----------
    name : str
        A key of :data:`REGISTRY` or of :data:`ALIASES`.

    Returns
    -------
    MeasureSpec

    Raises
    ------
    ValueError
        An unknown name; the message lists the known ones.

    Notes
    -----
    The one lookup the command line, the grids and :func:`fastcca.null_baseline` use.

    Examples
    --------
    >>> from fastcca.measures import registry
    >>> registry.get("cka").name, registry.get("shape_angular").value_range[1] > 1.5
    ('linear_cka', True)
    """
    key = ALIASES.get(name, name) if isinstance(name, str) else name
    if key not in REGISTRY:
        raise ValueError(f"measure: expected one of {', '.join(map(repr, REGISTRY))}, got {name!r}")
    return REGISTRY[key]
