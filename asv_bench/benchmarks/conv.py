"""Conv layers (fft mode, SVCCA paper section 3): the FFT block-moment primitive, the conv
measures, and the speed-up over the reference's per-frequency loop.

Sizes: ``_common.CONV_SIZES`` (n, c, h, w), both layers of that shape, NCHW float32 inputs (as
activations come from a network).  ``precision`` is the arithmetic of the FFT and of each chunk's
block products (``ConvMoments(precision=...)``; the state is float64 either way).

``ConvMomentUpdate``: ``ConvMoments.update`` of one batch of n/2 images into a non-empty
accumulator (rfft2, frequency-major gather, block GEMMs, Chan merge).
``ConvFromArrays`` / ``ConvFromMoments``: ``conv_cca`` and ``conv_svcca`` from whole arrays (the
moments pass included) and from an accumulated ``ConvMoments`` (the batched per-frequency
decompositions only).
``ConvBaseline``: ``asv_bench/baselines/conv_reference.py`` (plain-NumPy ``fourier_ccas``, BLAS
pinned to one thread) on NHWC copies.  ``ConvSpeedup.track_speedup``: median over 3
interleaved runs of (baseline time / ``conv_cca`` time), float64 precision; its setup fails if
the two similarities differ by more than 1e-6.
"""
from __future__ import annotations

import time

import numpy as np

import fastcca

from ._common import (BACKENDS, CONV_BASELINES, CONV_MEASURES, CONV_SIZE_NAMES, CONV_SIZES, DTYPES,
                      conv_pair, require_conv_backend)

CONV_MEASURE_NAMES = list(CONV_MEASURES)
CONV_BASELINE_NAMES = list(CONV_BASELINES)


def _warm(f, backend, precision):
    xs, ys = conv_pair(8, 4, 4, 4)                  # compile the kernels outside the timing
    return f(xs, ys, backend, precision)


class ConvMomentUpdate:
    """``ConvMoments.update`` of one (n/2, c, h, w) batch per side into a non-empty accumulator."""
    params = (CONV_SIZE_NAMES, DTYPES, BACKENDS)
    param_names = ["size", "precision", "backend"]
    timeout = 300

    def setup(self, size, precision, backend):
        require_conv_backend(backend)
        n, c, h, w = CONV_SIZES[size]
        x, y = conv_pair(n, c, h, w)
        half = n // 2
        self.x, self.y = x[:half], y[:half]
        self.m = fastcca.ConvMoments(backend=backend, precision=precision).update(x[half:], y[half:])

    def time_update(self, size, precision, backend):
        self.m.update(self.x, self.y)

    def peakmem_update(self, size, precision, backend):
        self.m.update(self.x, self.y)


class ConvFromArrays:
    params = (CONV_MEASURE_NAMES, CONV_SIZE_NAMES, DTYPES, BACKENDS)
    param_names = ["measure", "size", "precision", "backend"]
    timeout = 600

    def setup(self, measure, size, precision, backend):
        require_conv_backend(backend)
        self.x, self.y = conv_pair(*CONV_SIZES[size])
        self.f = CONV_MEASURES[measure]
        _warm(self.f, backend, precision)

    def time_from_arrays(self, measure, size, precision, backend):
        self.f(self.x, self.y, backend, precision)

    def peakmem_from_arrays(self, measure, size, precision, backend):
        self.f(self.x, self.y, backend, precision)


class ConvFromMoments:
    params = (CONV_MEASURE_NAMES, CONV_SIZE_NAMES, BACKENDS)
    param_names = ["measure", "size", "backend"]
    timeout = 600

    def setup(self, measure, size, backend):
        require_conv_backend(backend)
        x, y = conv_pair(*CONV_SIZES[size])
        self.m = fastcca.ConvMoments(backend=backend).update(x, y)
        self.f = CONV_MEASURES[measure]
        _warm(self.f, backend, "float64")

    def time_from_moments(self, measure, size, backend):
        self.f(self.m, None, backend)

    def peakmem_from_moments(self, measure, size, backend):
        self.f(self.m, None, backend)


def _nhwc(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


class ConvBaseline:
    params = (CONV_BASELINE_NAMES, CONV_SIZE_NAMES)
    param_names = ["measure", "size"]
    timeout = 900

    def setup(self, measure, size):
        x, y = conv_pair(*CONV_SIZES[size])
        self.a, self.b = _nhwc(x), _nhwc(y)
        self.f = CONV_BASELINES[measure]

    def time_baseline(self, measure, size):
        self.f(self.a, self.b)

    def peakmem_baseline(self, measure, size):
        self.f(self.a, self.b)


class ConvSpeedup:
    params = (CONV_BASELINE_NAMES, CONV_SIZE_NAMES)
    param_names = ["measure", "size"]
    unit = "x (baseline time / fastcca time)"
    timeout = 1800
    repeats = 3

    def setup(self, measure, size):
        self.x, self.y = conv_pair(*CONV_SIZES[size])
        self.a, self.b = _nhwc(self.x), _nhwc(self.y)
        self.fast = CONV_MEASURES[measure]
        self.ref = CONV_BASELINES[measure]
        _warm(self.fast, "cpu", "float64")
        got, want = self.fast(self.x, self.y, "cpu").similarity, self.ref(self.a, self.b)
        if not abs(got - want) <= 1e-6:                 # a ratio of two different results means nothing
            raise AssertionError(f"{measure} at {size}: fastcca {got!r} vs baseline {want!r}")

    def track_speedup(self, measure, size):
        tf, tb = [], []
        for _ in range(self.repeats):                   # interleaved: same machine load for both
            t0 = time.perf_counter()
            self.fast(self.x, self.y, "cpu")
            tf.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            self.ref(self.a, self.b)
            tb.append(time.perf_counter() - t0)
        return float(np.median(tb) / np.median(tf))
