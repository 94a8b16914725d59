"""Numba loops that fuse memory-bound passes NumPy would make separately.

Each function here has a plain-NumPy twin it is benchmarked against
(``asv_bench/benchmarks/primitives.py``); they stay only while they win.

* ``center_checked``: one read of a (n, p) batch gives the finiteness check and the column
  means, a second read writes the float64 centred copy.  NumPy needs ``isfinite`` (a
  temporary bool array of n*p bytes), ``mean`` and a subtraction: four passes, two temporaries.
* ``column_stats`` + ``subtract_scaled``: the same two reads for the scale-robust centring of
  ``Moments`` (issue [numerics]): the first also gives every column's minimum and maximum (the
  spread that fixes the batch's power-of-two exponent, and which neurons are constant), the
  second multiplies by that power of two as it writes (exact; free in a memory-bound loop).
* ``add_scatter_rank1``: ``S += B + c * outer(u, v)`` in one pass over S, where NumPy
  allocates the (p, q) outer product and walks S twice.
"""
from __future__ import annotations

import numba as nb
import numpy as np

_JIT = dict(cache=True, nogil=True)

# Serial loops, deliberately.  With parallel=True the kernels stalled 10-60x whenever the machine
# was busy (OpenMP workers spinning against OpenBLAS threads and other processes), Numba's
# "workqueue" layer aborts the process when two Python threads launch parallel kernels at once
# (seen under Dask's threaded scheduler), and on a quiet machine parallelism saved ~1% of a
# moments pass (asv_bench: center_checked 32 vs 52 ms at 50k x 1024, against a ~2 s pass).
# Serial nogil kernels are thread-safe, so callers may run updates from several threads.
_PARALLEL = False
#: row chunks of ``center_checked``'s column sums (was 4 x Numba's thread count: 8 on 2 cores)
_CHUNKS = 8


@nb.njit(parallel=_PARALLEL, **_JIT)
def _column_sums_finite(x, nchunks):
    n, p = x.shape
    partial = np.zeros((nchunks, p), dtype=np.float64)
    bad = np.zeros(nchunks, dtype=np.bool_)
    step = (n + nchunks - 1) // nchunks
    for c in nb.prange(nchunks):
        lo = c * step
        hi = min(n, lo + step)
        acc = partial[c]
        for i in range(lo, hi):
            row = x[i]
            for j in range(p):
                v = np.float64(row[j])
                acc[j] += v
                # v - v is NaN for both NaN and +-Inf: one test covers non-finite values.
                if v - v != 0.0:
                    bad[c] = True
    sums = np.zeros(p, dtype=np.float64)
    for c in range(nchunks):
        sums += partial[c]
    return sums, bad.any()


@nb.njit(parallel=_PARALLEL, **_JIT)
def _subtract_rows(x, mean, out):
    n, p = x.shape
    for i in nb.prange(n):
        row = x[i]
        orow = out[i]
        for j in range(p):
            orow[j] = np.float64(row[j]) - mean[j]


def center_checked(x: np.ndarray, out_dtype=np.float64):
    """Finite check, column means and centred copy of a C-ordered (n, p) array.

    The subtraction is done in float64 and stored as ``out_dtype`` (float32 stores the same
    values ``astype(float32)`` of the float64 result would, without the float64 copy).
    Returns ``(centred, mean, finite)``; when ``finite`` is False the other two are
    meaningless and nothing should be merged.
    """
    # A fixed number of row chunks, each with its own partial sums (pairwise-like accuracy, and the
    # same summation order on every machine).  Not ``nb.get_num_threads()``: that call launches
    # Numba's threading layer, whose "omp" layer loads the system libgomp beside torch's bundled
    # copy -- two OpenMP runtimes in one process (issue [stability]); these kernels are serial.
    nchunks = min(_CHUNKS, max(1, x.shape[0] // 64))
    sums, bad = _column_sums_finite(x, nchunks)
    if bad:
        return None, None, False
    mean = sums / x.shape[0]
    out = np.empty(x.shape, dtype=out_dtype)
    _subtract_rows(x, mean, out)
    return out, mean, True


@nb.njit(**_JIT)
def _column_stats_chunks(x, nchunks, c0, c1, partial, lows, highs):
    """Row chunks ``c0 .. c1 - 1`` of :func:`column_stats` into their rows of the partials."""
    n, p = x.shape
    step = (n + nchunks - 1) // nchunks
    for c in range(c0, c1):
        lo = c * step
        hi = min(n, lo + step)
        acc = partial[c]
        mn = lows[c]
        mx = highs[c]
        for j in range(p):
            mn[j] = np.inf
            mx[j] = -np.inf
        for i in range(lo, hi):
            row = x[i]
            for j in range(p):
                v = np.float64(row[j])
                # a NaN makes its column sum NaN and an Inf its minimum/maximum infinite: the
                # caller's finiteness test needs no per-element branch here
                acc[j] += v
                mn[j] = min(mn[j], v)
                mx[j] = max(mx[j], v)


@nb.njit(**_JIT)
def _column_stats_combine(partial, lows, highs):
    nchunks, p = partial.shape
    sums = np.zeros(p, dtype=np.float64)
    low = np.full(p, np.inf)
    high = np.full(p, -np.inf)
    for c in range(nchunks):
        sums += partial[c]
        for j in range(p):
            low[j] = min(low[j], lows[c, j])
            high[j] = max(high[j], highs[c, j])
    return sums, low, high


def column_stats(x: np.ndarray, run_chunks=None):
    """Column sums (float64, in the fixed chunked order of :func:`center_checked`), minima and
    maxima of a C-ordered (n, p) float32/float64 array, in one read.  NaN shows as a NaN sum,
    +-Inf as an infinite minimum or maximum (or sum); the caller tests finiteness.

    ``run_chunks(f, nchunks)``, optional, runs ``f(c0, c1)`` over ranges covering the row chunks
    (e.g. on several threads: the kernel is serial and releases the GIL); the partial sums are
    combined in chunk order either way, so the result does not depend on how they were run."""
    p = x.shape[1]
    nchunks = min(_CHUNKS, max(1, x.shape[0] // 64))
    partial = np.zeros((nchunks, p), dtype=np.float64)
    lows = np.empty((nchunks, p), dtype=np.float64)
    highs = np.empty((nchunks, p), dtype=np.float64)

    def f(c0, c1):
        _column_stats_chunks(x, nchunks, c0, c1, partial, lows, highs)
    if run_chunks is None:
        f(0, nchunks)
    else:
        run_chunks(f, nchunks)
    return _column_stats_combine(partial, lows, highs)


@nb.njit(parallel=_PARALLEL, **_JIT)
def _subtract_scaled(x, mean, factor, out):
    n, p = x.shape
    for i in nb.prange(n):
        row = x[i]
        orow = out[i]
        for j in range(p):
            orow[j] = (np.float64(row[j]) - mean[j]) * factor


def subtract_scaled(x: np.ndarray, mean: np.ndarray, factor: float, out_dtype=np.float64) -> np.ndarray:
    """``(x - mean) * factor`` computed in float64 and stored as ``out_dtype``, in one pass;
    ``factor`` is a power of two (exact), 1.0 for the plain centring."""
    out = np.empty(x.shape, dtype=out_dtype)
    if factor == 1.0:
        _subtract_rows(x, mean, out)
    else:
        _subtract_scaled(x, mean, float(factor), out)
    return out


def add_scatter_rank1(s, b, u, v, c):
    """In place: ``s += b + c * outer(u, v)``; s, b are (p, q) float64 C-ordered."""
    _add_scatter_rank1(s, b, u, v, c)


@nb.njit(parallel=_PARALLEL, **_JIT)
def _add_scatter_rank1(s, b, u, v, c):
    p, q = s.shape
    for i in nb.prange(p):
        cu = c * u[i]
        srow = s[i]
        brow = b[i]
        for j in range(q):
            srow[j] += brow[j] + cu * v[j]


def gather_frequencies(z: np.ndarray, flat: np.ndarray, out: np.ndarray, lo: int) -> None:
    """Frequency-major gather of a chunk's ``rfft2`` output: ``out[f, lo + i, j] = z[i, j, flat[f]]``
    for ``z`` (b, c, P) complex C-ordered (the transform of b images, c channels, P = h (w//2+1)
    frequencies), ``flat`` (F,) int64, ``out`` (F, B, c) of z's dtype.

    One image at a time: its (c, P) tile (at most a few hundred KiB) stays in cache while every
    frequency's row of ``c`` values is written contiguously.  NumPy's fancy indexing of the
    moved-axis view makes the same copy 1.4-4x slower (``asv_bench/bench_conv.py``, kernels)."""
    _gather_frequencies(z, flat, out, lo)


@nb.njit(**_JIT)
def _gather_frequencies(z, flat, out, lo):
    b, c = z.shape[0], z.shape[1]
    nf = flat.shape[0]
    for i in range(b):
        zi = z[i]
        for f in range(nf):
            k = flat[f]
            o = out[f, lo + i]
            for j in range(c):
                o[j] = zi[j, k]


def real_view_to_complex(p: np.ndarray) -> np.ndarray:
    """(F, 2a, 2b) float64 real-view products -> (F, a, b) complex128
    ``(P_rr + P_ii) + i (P_ri - P_ir)`` in one pass, written through the float64 view of the
    output (NumPy's four strided slices took 3.7 ms against 1.0 ms for 136 blocks of 64 x 64)."""
    f, ta, tb = p.shape
    out = np.empty((f, ta // 2, tb // 2), dtype=np.complex128)
    _real_view_to_complex(np.ascontiguousarray(p, dtype=np.float64), out.view(np.float64))
    return out


@nb.njit(**_JIT)
def _real_view_to_complex(p, o):
    f, a, b2 = o.shape
    for k in range(f):
        for i in range(a):
            r0 = p[k, 2 * i]
            r1 = p[k, 2 * i + 1]
            oo = o[k, i]
            for j in range(b2 // 2):
                oo[2 * j] = r0[2 * j] + r1[2 * j + 1]
                oo[2 * j + 1] = r0[2 * j + 1] - r1[2 * j]
