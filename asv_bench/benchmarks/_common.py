"""Shared pieces of the asv suite: sizes, data, backend handling, the measure registry."""
from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np

import fastcca
from fastcca import BackendUnavailableError, get_backend

# the reference baselines live next to this folder (asv_bench/baselines)
_HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.dirname(_HERE) not in sys.path:
    sys.path.insert(0, os.path.dirname(_HERE))
from baselines import reference_numpy as ref  # noqa: E402
from baselines.conv_reference import fourier_ccas_numpy  # noqa: E402

#: BLAS threads for every benchmark (the machines the targets were set for have 2)
THREADS = int(os.environ.get("FASTCCA_BENCH_THREADS", "2"))


def _limit_threads():
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(THREADS)
    except ImportError:
        pass
    # No numba.set_num_threads: fastcca's Numba kernels are serial, and the call would launch
    # Numba's threading layer (a second OpenMP runtime beside torch's; issue [stability]).


_limit_threads()

#: labelled sizes (p = q neurons, n datapoints); "large" still runs in seconds on 2 cores
SIZES = {"small": (64, 2_000), "medium": (256, 10_000), "large": (512, 20_000)}
#: FASTCCA_BENCH_SIZES=small (comma list) restricts the labelled sizes, e.g. for a CI smoke run
SIZE_NAMES = [s for s in os.environ.get("FASTCCA_BENCH_SIZES", ",".join(SIZES)).split(",") if s in SIZES]
BACKENDS = ["cpu", "cuda"]
DTYPES = ["float32", "float64"]


def require_backend(backend: str):
    """The kernels module, or ``NotImplementedError`` (asv: skip) when it cannot run here."""
    try:
        return get_backend(backend)
    except BackendUnavailableError as exc:
        raise NotImplementedError(str(exc)) from None


def to_backend(a, backend: str):
    if backend == "cuda":
        import cupy
        return cupy.asarray(a)
    return a


def pair(p: int, n: int, dtype="float64", seed: int = 0, q: int | None = None):
    """x (n, p), y (n, q) samples first, C-ordered: x with a decaying spectrum (SVCCA keeps a
    realistic share of its directions), y a noisy linear image of x."""
    q = p if q is None else q
    rng = np.random.default_rng(seed)
    decay = np.exp(-np.arange(p) / (p / 8)) + 0.05
    x = rng.standard_normal((n, p)) * decay
    y = x @ (rng.standard_normal((p, q)) / np.sqrt(p))
    y += 0.3 * rng.standard_normal((n, q))
    return x.astype(dtype, copy=False), y.astype(dtype, copy=False)


def stream_moments(p: int, n: int, dtype="float64", backend="cpu", batch: int = 2048, seed: int = 0):
    """A Moments over n datapoints built from batches generated on the fly, so the process never
    holds more than one batch (keeps ``peakmem_`` of a measure about the measure)."""
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((p, p)) / np.sqrt(p)
    decay = np.exp(-np.arange(p) / (p / 8)) + 0.05
    m = fastcca.Moments(backend)
    done = 0
    while done < n:
        b = min(batch, n - done)
        xb = rng.standard_normal((b, p)) * decay
        yb = xb @ mix + 0.3 * rng.standard_normal((b, p))
        m.update(to_backend(xb.astype(dtype, copy=False), backend), to_backend(yb.astype(dtype, copy=False), backend))
        done += b
    return m


#: public measures: name -> callable(x, y_or_None, backend) taking two arrays or a Moments.
#: (conv measures take 4-D arrays: ``CONV_MEASURES`` below.)
MEASURES = {
    "cca": lambda x, y=None, backend="auto": fastcca.cca(x, y, backend=backend),
    "mean_cca": lambda x, y=None, backend="auto": fastcca.mean_cca(x, y, backend=backend),
    "svcca": lambda x, y=None, backend="auto": fastcca.svcca(x, y, backend=backend),
    "pwcca": lambda x, y=None, backend="auto": fastcca.pwcca(x, y, backend=backend),
    "pwcca_reference": lambda x, y=None, backend="auto": fastcca.pwcca(x, y, variant="reference", backend=backend),
    "linear_cka": lambda x, y=None, backend="auto": fastcca.linear_cka(x, y, backend=backend),
}

#: the original algorithms, NEURONS FIRST (p, n) inputs: name -> callable(acts1, acts2).
#: Each fastcca measure with a baseline is timed against it in ``baselines.Speedup``.
#: (the conv reference loop: ``CONV_BASELINES`` below.)
BASELINES = {
    "cca": lambda a, b: ref.cca_reference(a, b)["coef"].mean(),
    "svcca": lambda a, b: ref.svcca_reference(a, b)["similarity"],
    "pwcca": lambda a, b: ref.pwcca_reference(a, b)["similarity"],
    "linear_cka": ref.linear_cka_reference,
}
#: which fastcca measure each baseline is compared with (PWCCA: the paper variant, the default)
BASELINE_OF = {"cca": "cca", "svcca": "svcca", "pwcca": "pwcca", "linear_cka": "linear_cka"}


def median_time(f, *args, repeats: int = 3):
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f(*args)
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


# ------------------------------------------------------------------------------------ [conv]
#: labelled conv sizes, (n images, c channels, h, w), both layers of that shape; "large" runs in
#: seconds on 2 cores for fastcca (the reference loop takes several times longer)
CONV_SIZES = {"small": (200, 16, 8, 8), "medium": (500, 32, 16, 16), "large": (1000, 32, 24, 24)}
CONV_SIZE_NAMES = [s for s in SIZE_NAMES if s in CONV_SIZES]


def require_conv_backend(backend: str):
    """As :func:`require_backend`, and ``NotImplementedError`` (asv: skip) where the conv code
    refuses the backend (``cuda`` without CuPy or a GPU)."""
    be = require_backend(backend)
    try:
        fastcca.ConvMoments(backend=backend)
    except BackendUnavailableError as exc:
        raise NotImplementedError(str(exc)) from None
    return be


def conv_pair(n: int, c: int, h: int, w: int, seed: int = 0, noise: float = 0.5):
    """x, y (n, c, h, w) NCHW float32 (as ``asv_bench/bench_conv.py``): spatially smoothed
    noise, and a noisy channel mix of it."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    x = sum(np.roll(x, (i, j), axis=(2, 3)) for i in (-1, 0, 1) for j in (-1, 0, 1)) / 3
    mix = (rng.standard_normal((c, c)) / np.sqrt(c)).astype(np.float32)
    y = np.einsum("dc,nchw->ndhw", mix, x) + noise * rng.standard_normal(x.shape, dtype=np.float32)
    return np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(y, dtype=np.float32)


#: conv measures: name -> callable(x, y_or_None, backend, precision) on NCHW arrays or a
#: ConvMoments (fft mode, the SVCCA paper's method)
CONV_MEASURES = {
    "conv_cca": lambda x, y=None, backend="auto", precision="float64":
        fastcca.conv_cca(x, y, mode="fft", backend=backend, precision=precision),
    "conv_svcca": lambda x, y=None, backend="auto", precision="float64":
        fastcca.conv_svcca(x, y, mode="fft", backend=backend, precision=precision),
}


def _conv_cca_reference(a, b):
    """Mean per-location coefficient of the reference loop on NHWC arrays, BLAS pinned to one
    thread (its faster configuration on small complex blocks: 14.6 s vs 108 s with 2 threads in
    BENCHMARKS.md, "Conv layers"), so the speed-up is not inflated by oversubscription."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        return float(np.nanmean(fourier_ccas_numpy(a, b)))


#: the original conv algorithm, NHWC inputs: name -> callable(x_nhwc, y_nhwc).  conv_svcca has
#: no reference counterpart (google/svcca's fourier_ccas is CCA only), so no ratio for it.
CONV_BASELINES = {"conv_cca": _conv_cca_reference}


# ------------------------------------------------------------------------------------ [grid]
#: labelled layer-grid sizes, (layers, width p of each, n datapoints)
GRID_SIZES = {"small": (4, 32, 2_000), "medium": (4, 128, 10_000), "large": (6, 128, 20_000)}
GRID_SIZE_NAMES = [s for s in SIZE_NAMES if s in GRID_SIZES]


def layer_stack(layers: int, p: int, n: int, dtype="float64", seed: int = 0):
    """``layers`` activation sets (n, p) on the same datapoints, each a noisy linear image of
    the previous one (``pair``'s construction chained), as a dict ``"l0", "l1", ...``."""
    rng = np.random.default_rng(seed)
    x, _ = pair(p, n, "float64", seed=seed)
    acts = {"l0": x}
    for i in range(1, layers):
        x = x @ (rng.standard_normal((p, p)) / np.sqrt(p)) + 0.3 * rng.standard_normal((n, p))
        acts[f"l{i}"] = x
    return {k: v.astype(dtype, copy=False) for k, v in acts.items()}
