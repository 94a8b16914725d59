#!/usr/bin/env python
"""Calibration of the float32 error estimate (``fastcca.measures._precision``): on data sets
from benign to nearly collinear, the error of ``precision="float32"`` against float64 for CCA,
PWCCA and SVCCA, next to the estimate ``2^-24 x max variance inflation factor`` and whether the
result carried a ``Float32PrecisionWarning``.

    PYTHONPATH=. python asv_bench/float32_error_sweep.py [--n 20000] [--p 256] [--json OUT]

Error of a measure = max(|similarity difference|, max |coefficient difference|), or 1 when the
two precisions keep different numbers of directions.  Exits 1 if any error above 1e-4 came
without the warning (the estimate missed it), so this check can fail.
"""
import argparse
import json
import os
import sys
import warnings

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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--p", type=int, default=256)
    ap.add_argument("--json")
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
    out = dict(n=a.n, p=a.p, warn_above=FLOAT32_ERROR_WARN, rows=rows, summary=summary,
               missed=[dict(data=d, measure=m, error=e) for d, m, e in missed])
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
