#!/usr/bin/env python
"""Calibration of the float32 error estimate (``fastcca.measures._precision``): on data sets
from benign to nearly collinear, the error of ``precision="float32"`` against float64 for CCA,
PWCCA and SVCCA, next to the estimate ``2^-24 x max variance inflation factor`` and whether the
result carried a ``Float32PrecisionWarning``; with ``--other`` (the default) the same for the
other measures (shape metrics, Procrustes, PLS, PCA, linear predictivity, linear and debiased
CKA), each next to its own estimate where it has one (``OTHER`` below).

    PYTHONPATH=. python asv_bench/float32_error_sweep.py [--n 20000] [--p 256] [--json OUT]

Error of a CCA-family measure = max(|similarity difference|, max |coefficient difference|), or 1
when the two precisions keep different numbers of directions; of the other measures, the max
difference of the headline and of the scale-free arrays they return (``_other_errors``).
Exits 1 if any error above 1e-4 came without the warning (the estimate missed it, or a measure
without an estimate left rounding level), so this check can fail.
"""
import argparse
import contextlib
import functools
import json
import os
import sys
import warnings
from unittest import mock

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fastcca  # noqa: E402
from fastcca.measures._precision import FLOAT32_ERROR_WARN, UNIT_ROUNDOFF_32  # noqa: E402

MISSED_IF_ABOVE = 1e-4


def data_sets(n, p, seed=1):
    """(name, x, y): low rank (32) + isotropic noise of decreasing size (collinear neurons),
    log-spaced neuron scales (badly scaled but not collinear), stacks of random ReLU layers."""
    rng = np.random.default_rng(seed)
    for noise in (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001):
        z = rng.standard_normal((n, 32))
        x = z @ rng.standard_normal((32, p)) + noise * rng.standard_normal((n, p))
        y = z @ rng.standard_normal((32, p)) + noise * rng.standard_normal((n, p)) + 5.0
        yield f"low rank + noise {noise:g}", x, y
    for smallest in (1e-1, 1e-2, 1e-3, 1e-4):
        x = rng.standard_normal((n, p)) * np.logspace(0, np.log10(smallest), p)
        y = x @ rng.standard_normal((p, p)) / np.sqrt(p) + 0.3 * rng.standard_normal((n, p))
        yield f"log-spaced scales down to {smallest:g}", x, y
    z = rng.standard_normal((n, 64))
    for depth in (1, 2, 3):
        h = z
        for _ in range(depth):
            h = np.maximum(h @ rng.standard_normal((h.shape[1], p)) / np.sqrt(h.shape[1]), 0.0)
        yield f"{depth} random ReLU layer(s)", h, np.maximum(h @ rng.standard_normal((p, p)) / np.sqrt(p), 0.0)


def _error(a, b):
    d = abs(a.similarity - b.similarity)
    if len(a.coefficients) != len(b.coefficients):
        return 1.0
    return float(max(d, np.max(np.abs(a.coefficients - b.coefficients), initial=0.0)))


def _estimates(m):
    """The estimate each measure computes on float32 moments ``m`` (default eps and keep), for
    every data set, not only the warned ones: 2^-24 x the largest variance inflation factor."""
    from fastcca._canonical import canonical_correlations
    from fastcca.measures.svcca import kept_space_inflation, top_directions
    be = m._be
    sol = canonical_correlations(be, m.sxx, m.syy, m.sxy, eps=1e-10)
    cca = max(sol.wx.max_variance_inflation(be, m.sxx), sol.wy.max_variance_inflation(be, m.syy))
    kx, lx, px = top_directions(be, m.sxx, 0.99, "sum")
    ky, ly, py = top_directions(be, m.syy, 0.99, "sum")
    sv = max(kept_space_inflation(be, m.sxx, lx, px), kept_space_inflation(be, m.syy, ly, py))
    return {"cca": UNIT_ROUNDOFF_32 * cca, "pwcca": UNIT_ROUNDOFF_32 * cca, "svcca": UNIT_ROUNDOFF_32 * sv}


#: the other measures: name -> whether it estimates its float32 error (the rest are checked to stay
#: at rounding level: an error above MISSED_IF_ABOVE is a miss, as an unwarned one is)
OTHER = {"shape_angular a=0": True, "shape_angular a=0.5": True, "shape_euclidean a=0.5": True,
         "shape_angular a=1": False, "procrustes": False, "pls": True, "pca": True,
         "linear_predictivity": True, "linear_predictivity ridge=0": True, "linear_predictivity_xy": True,
         "linear_cka": False, "debiased_cka": False}


def _diff(a, b, scale=None):
    """max |a - b| (relative to max |a| with ``scale="max"``, elementwise to |a| with "each")."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0:
        return 0.0
    if a.shape != b.shape:
        return 1.0
    d = np.abs(a - b)
    if scale == "max":
        d = d / max(float(np.max(np.abs(a))), 1e-300)
    elif scale == "each":
        d = np.where(np.abs(a) > 0, d / np.where(np.abs(a) > 0, np.abs(a), 1.0), d)
    return float(np.max(d))


def _call_(f, *args, recorder=None, **kw):
    """``f(*args, **kw)``, whether it warned about float32 precision and (with a ``recorder``) the
    estimate it computed, ``2^-24 x max(1, inflation)`` (None when it computes none)."""
    if recorder is not None:
        recorder.last = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", fastcca.Float32PrecisionWarning)
        r = f(*args, **kw)
    warned = any(issubclass(w.category, fastcca.Float32PrecisionWarning) for w in caught)
    last = None if recorder is None else recorder.last
    return r, warned, None if last is None else UNIT_ROUNDOFF_32 * max(last, 1.0)


class _Recorder:
    """Stands in for ``float32_error_notes`` in the other measures' modules: records the largest
    inflation each call passes (the measure's own per-call estimate, also below the warning
    level), then gives the notes and warning as usual."""

    def __init__(self):
        from fastcca.measures import _precision
        self.original, self.last = _precision.float32_error_notes, None

    def __call__(self, measure, inflation, **kw):
        self.last = max([self.last or 0.0, *inflation.values()])
        return self.original(measure, inflation, **kw)

    @contextlib.contextmanager
    def installed(self):
        from fastcca.measures import decompositions, predictivity, shape
        with contextlib.ExitStack() as stack:
            for mod in (decompositions, predictivity, shape):
                stack.enter_context(mock.patch.object(mod, "float32_error_notes", self))
            yield self


def _other_results(m, rec=None):
    """The other measures on moments ``m`` (made with ``debiased_cka=True``): name -> (result,
    warned, estimate) (``rec``: a :class:`_Recorder` installed)."""
    _call = functools.partial(_call_, recorder=rec)
    out = {}
    for alpha in (0.0, 0.5, 1.0):
        out[f"shape_angular a={alpha:g}"] = _call(fastcca.shape_metric, m, alpha=alpha)
    out["shape_euclidean a=0.5"] = _call(fastcca.shape_metric, m, alpha=0.5, kind="euclidean")
    out["procrustes"] = _call(fastcca.procrustes, m)
    out["pls"] = _call(fastcca.pls, m)
    out["pca"] = _call(fastcca.pca, m)
    out["linear_predictivity"] = _call(fastcca.linear_predictivity, m)
    out["linear_predictivity ridge=0"] = _call(fastcca.linear_predictivity, m, ridge=0.0)
    out["linear_predictivity_xy"] = _call(fastcca.linear_predictivity, m, direction="x->y")
    out["linear_cka"] = _call(fastcca.linear_cka, m, spectrum=True)
    out["debiased_cka"] = _call(fastcca.debiased_cka, m)
    return out


def _other_errors(name, a, b):
    """{part: error} of float32 result ``b`` against float64 ``a``; the parts the estimate covers
    make the error, the rest (directions, components: determined only up to rounding / eigengap,
    in float64 too) are reported beside it."""
    if name.startswith("shape_euclidean"):
        return dict(distance_rel=abs(a.distance - b.distance) / a.distance, cos=abs(a.similarity - b.similarity))
    if name.startswith(("shape", "procrustes")):
        return dict(distance=abs(a.distance - b.distance), cos=abs(a.similarity - b.similarity),
                    coefficients=_diff(a.coefficients, b.coefficients))
    if name == "pls":
        return dict(similarity=abs(a.similarity - b.similarity), coefficients_rel=_diff(a.coefficients, b.coefficients, "max"),
                    covariance_explained=_diff(a.covariance_explained, b.covariance_explained),
                    correlations=_diff(a.correlations, b.correlations))
    if name == "pca":
        return dict(explained_variance_ratio=_diff(a.explained_variance_ratio, b.explained_variance_ratio),
                    explained_variance_each=_diff(a.explained_variance, b.explained_variance, "each"),
                    singular_values_each=_diff(a.singular_values, b.singular_values, "each"))
    if name.startswith("linear_predictivity"):
        return dict(similarity=abs(a.similarity - b.similarity), r2_xy=abs(a.r2_xy - b.r2_xy),
                    coefficients=_diff(a.coefficients, b.coefficients))
    return dict(similarity=abs(a.similarity - b.similarity), coefficients=_diff(a.coefficients, b.coefficients))


def _beside(name, a, b):
    """Parts reported but not judged: PLS directions and PCA components (sign-fixed; within
    nearly equal singular values / eigenvalues they are not determined, in float64 either)."""
    if name == "pls":
        return dict(x_directions=_diff(a.x_directions, b.x_directions))
    if name == "pca":
        return dict(components=_diff(a.components, b.components))
    return {}


def other_rows(n, p, missed):
    """The other measures on the sweep's data sets and one pair of unrelated sides."""
    rows = []
    rng = np.random.default_rng(7)
    sets = list(data_sets(n, p)) + [("unrelated sides", rng.standard_normal((n, p)), rng.standard_normal((n, p)))]
    # a target with much variance of its own (R^2 ~ 0.67) from nearly collinear predictors: the
    # case where rounding adds spurious explained variance to linear predictivity
    for noise in (0.01, 0.001):
        z = rng.standard_normal((n, 32))
        x = z @ rng.standard_normal((32, p)) + noise * rng.standard_normal((n, p))
        sets.append((f"noisy target, x noise {noise:g}", x, z @ rng.standard_normal((32, p)) + 4.0 * rng.standard_normal((n, p))))
    for name, x, y in sets:
        m64 = fastcca.Moments.from_arrays(x, y, debiased_cka=True)
        m32 = fastcca.Moments.from_arrays(x, y, precision="float32", debiased_cka=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r64 = {k: r[0] for k, r in _other_results(m64).items()}
        with _Recorder().installed() as rec:
            res32 = _other_results(m32, rec)
        row = dict(data=name)
        for measure, (r32, warned, estimate) in res32.items():
            parts = _other_errors(measure, r64[measure], r32)
            err = max(parts.values())
            row[measure] = dict(error=err, warned=warned, estimate=estimate if OTHER[measure] else None, parts=parts,
                                beside=_beside(measure, r64[measure], r32))
            if err > MISSED_IF_ABOVE and not warned:
                missed.append((name, measure, err))
        rows.append(row)
        print(f"  {name:32s} " + "  ".join(
            f"{k} {row[k]['error']:7.1e}{' W' if row[k]['warned'] else ''}"
            + (f" ({row[k]['estimate']:.0e})" if row[k]["estimate"] is not None else "") for k in OTHER), flush=True)
    return rows


def _ratio_summary(rows, measures, key=lambda r, k: r[k]["estimate"]):
    ratios = [(r[k]["error"] / key(r, k), r[k]["error"]) for r in rows for k in measures
              if key(r, k) and r[k]["error"] < 1.0]
    big = [q for q, e in ratios if e > MISSED_IF_ABOVE]
    return dict(ratio_min=min(q for q, _ in ratios), ratio_max=max(q for q, _ in ratios),
                ratio_max_where_error_above_1e_4=max(big) if big else None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--p", type=int, default=256)
    ap.add_argument("--json")
    ap.add_argument("--no-other", dest="other", action="store_false", help="the CCA family only")
    a = ap.parse_args()
    rows, missed = [], []
    print(f"n={a.n} p=q={a.p}; warning when 2^-24 x max VIF > {FLOAT32_ERROR_WARN:g}")
    for name, x, y in data_sets(a.n, a.p):
        m64 = fastcca.Moments.from_arrays(x, y)
        m32 = fastcca.Moments.from_arrays(x, y, precision="float32")
        row = dict(data=name)
        est = _estimates(m32)
        for measure in ("cca", "pwcca", "svcca"):
            f = getattr(fastcca, measure)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", fastcca.DegenerateCCAWarning)
                r64 = f(m64)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", fastcca.Float32PrecisionWarning)
                    r32 = f(m32)
            warned = any(issubclass(w.category, fastcca.Float32PrecisionWarning) for w in caught)
            err = _error(r64, r32)
            row[measure] = dict(error=err, warned=warned, estimate=est[measure])
            if err > MISSED_IF_ABOVE and not warned:
                missed.append((name, measure, err))
        rows.append(row)
        print(f"  {name:32s} " + "  ".join(
            f"{k} err {row[k]['error']:7.1e} {'WARN' if row[k]['warned'] else '    '}"
            + f" (est {row[k]['estimate']:.1e})" for k in ("cca", "pwcca", "svcca")), flush=True)
    # how far the error strays from the estimate: over all cases, and where the error matters
    ratios = [(r[k]["error"] / r[k]["estimate"], r[k]["error"]) for r in rows for k in ("cca", "pwcca", "svcca")
              if r[k]["estimate"] > 0 and r[k]["error"] < 1.0]
    big = [q for q, e in ratios if e > MISSED_IF_ABOVE]
    summary = dict(ratio_min=min(q for q, _ in ratios), ratio_max=max(q for q, _ in ratios),
                   ratio_max_where_error_above_1e_4=max(big) if big else None)
    print(f"error / estimate: {summary['ratio_min']:.2f} - {summary['ratio_max']:.2f} over all cases"
          + (f", up to {summary['ratio_max_where_error_above_1e_4']:.2f} where the error exceeds {MISSED_IF_ABOVE:g}" if big else "")
          + " (cases where the precisions keep different numbers of directions left out)")
    out = dict(n=a.n, p=a.p, warn_above=FLOAT32_ERROR_WARN, rows=rows, summary=summary)
    if a.other:
        print("other measures (error, W = warned, (estimate) where the measure has one):")
        other = other_rows(a.n, a.p, missed)
        per = {}
        for k, has in OTHER.items():
            errs = [r[k]["error"] for r in other]
            per[k] = dict(max_error=max(errs), warned=sum(r[k]["warned"] for r in other))
            if has:
                per[k].update(_ratio_summary(other, (k,)))
            print(f"  {k:30s} max error {per[k]['max_error']:.1e}, warned on {per[k]['warned']}/{len(other)}"
                  + (f", error / estimate {per[k]['ratio_min']:.2g} - {per[k]['ratio_max']:.2g}" if has else "")
                  + (f" (up to {per[k]['ratio_max_where_error_above_1e_4']:.2g} where the error exceeds "
                     f"{MISSED_IF_ABOVE:g})" if has and per[k]["ratio_max_where_error_above_1e_4"] else ""))
        out.update(other_rows=other, other_summary=per)
    out["missed"] = [dict(data=d, measure=m, error=e) for d, m, e in missed]
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    if missed:
        print(f"MISSED: {len(missed)} error(s) above {MISSED_IF_ABOVE:g} without a warning: {missed}")
        return 1
    print(f"every error above {MISSED_IF_ABOVE:g} came with a Float32PrecisionWarning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
