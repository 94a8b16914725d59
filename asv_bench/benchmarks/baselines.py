"""The plain-NumPy original algorithms (``asv_bench/baselines/reference_numpy.py``) at the same
sizes as ``measures``, and the speed-up of fastcca over each, recorded by every run.

``Baseline.time_baseline`` / ``peakmem_baseline``: the reference algorithm on neurons-first
float64 (p, n) arrays, its own layout.  ``Speedup.track_speedup``: median over 3 interleaved
runs of (baseline time / fastcca time), fastcca from the samples-first arrays with its moments
pass included: the figure BENCHMARKS.md quotes, so a regression in either shows up as a drop.
"""
from __future__ import annotations

import time

import numpy as np

from ._common import BASELINE_OF, BASELINES, MEASURES, SIZE_NAMES, SIZES, pair

BASELINE_NAMES = list(BASELINES)


class Baseline:
    params = (BASELINE_NAMES, SIZE_NAMES)
    param_names = ["measure", "size"]
    timeout = 900

    def setup(self, measure, size):
        p, n = SIZES[size]
        x, y = pair(p, n)
        self.a, self.b = np.ascontiguousarray(x.T), np.ascontiguousarray(y.T)
        self.f = BASELINES[measure]

    def time_baseline(self, measure, size):
        self.f(self.a, self.b)

    def peakmem_baseline(self, measure, size):
        self.f(self.a, self.b)


class Speedup:
    params = (BASELINE_NAMES, SIZE_NAMES)
    param_names = ["measure", "size"]
    unit = "x (baseline time / fastcca time)"
    timeout = 1800
    repeats = 3

    def setup(self, measure, size):
        p, n = SIZES[size]
        self.x, self.y = pair(p, n)
        self.a, self.b = np.ascontiguousarray(self.x.T), np.ascontiguousarray(self.y.T)
        self.fast = MEASURES[BASELINE_OF[measure]]
        self.ref = BASELINES[measure]
        self.fast(*pair(16, 4096))                      # compile the kernels
        self.fast(self.x, self.y)                       # warm

    def track_speedup(self, measure, size):
        tf, tb = [], []
        for _ in range(self.repeats):                   # interleaved: same machine load for both
            t0 = time.perf_counter()
            self.fast(self.x, self.y)
            tf.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            self.ref(self.a, self.b)
            tb.append(time.perf_counter() - t0)
        return float(np.median(tb) / np.median(tf))
