"""The measures of docs/measures.md (shape metrics, Procrustes, PLS, PCA, linear predictivity,
the null baseline) at the suite's sizes.

``FromMoments.time_from_moments``: the measure from an accumulated Moments (independent of n).
``Speedup.track_speedup``: median over interleaved runs of (straightforward implementation on the
stored activations, ``baselines/straightforward.py``) / (fastcca from the arrays, moments pass
included); ``track_cca_ratio`` records CCA's own ratio in the same process, the yardstick of
issue [measures] (the full-size figures: ``asv_bench/bench_measures.py``, docs/benchmarks.md).
"""
from __future__ import annotations

import time

import numpy as np

import fastcca

from ._common import BASELINES, SIZE_NAMES, SIZES, pair, stream_moments
from baselines import straightforward as sf  # noqa: E402  (on sys.path through _common)

#: name -> (fastcca on (x, y) arrays or a Moments as x, straightforward baseline on arrays)
CASES = {
    "debiased_cka": (lambda x, y=None: fastcca.debiased_cka(x, y), sf.debiased_cka),
    "shape_angular": (lambda x, y=None: fastcca.shape_metric(x, y, alpha=0.5), lambda x, y: sf.shape_angular(x, y, 0.5)),
    "procrustes": (lambda x, y=None: fastcca.procrustes(x, y), sf.procrustes),
    "pls": (lambda x, y=None: fastcca.pls(x, y), sf.pls),
    "pca": (lambda x, y=None: fastcca.pca(x), sf.pca),
    "linear_predictivity": (lambda x, y=None: fastcca.linear_predictivity(x, y), sf.linear_predictivity),
    "null_cca": (lambda x, y=None: fastcca.null_baseline(x, y, measure="cca", draws=3),
                 lambda x, y: sf.null_cca(x, y, draws=3)),
}
NAMES = list(CASES)


class FromMoments:
    params = (NAMES, SIZE_NAMES)
    param_names = ["measure", "size"]
    timeout = 600

    def setup(self, measure, size):
        p, n = SIZES[size]
        if measure == "debiased_cka":
            x, y = pair(p, n)
            self.m = fastcca.Moments.from_arrays(x, y, debiased_cka=True)
        else:
            self.m = stream_moments(p, n)
        self.f = CASES[measure][0]

    def time_from_moments(self, measure, size):
        self.f(self.m)


class Speedup:
    params = (NAMES, SIZE_NAMES)
    param_names = ["measure", "size"]
    unit = "x (baseline time / fastcca time)"
    timeout = 1800
    repeats = 3

    def setup(self, measure, size):
        p, n = SIZES[size]
        self.x, self.y = pair(p, n)
        self.fast, self.ref = CASES[measure]
        self.fast(*pair(16, 4096))
        self.fast(self.x, self.y)

    def _ratio(self, fast, ref):
        tf, tb = [], []
        for _ in range(self.repeats):
            t0 = time.perf_counter()
            fast()
            tf.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ref()
            tb.append(time.perf_counter() - t0)
        return float(np.median(tb) / np.median(tf))

    def track_speedup(self, measure, size):
        return self._ratio(lambda: self.fast(self.x, self.y), lambda: self.ref(self.x, self.y))

    def track_cca_ratio(self, measure, size):
        a, b = np.ascontiguousarray(self.x.T), np.ascontiguousarray(self.y.T)
        return self._ratio(lambda: fastcca.cca(self.x, self.y), lambda: BASELINES["cca"](a, b))
