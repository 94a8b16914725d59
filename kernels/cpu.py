"""CPU backend: the array-module backend of ``kernels/_xp_backend.py`` on NumPy/SciPy
(OpenBLAS/LAPACK), with its own paths where the CPU does better than the generic code: fused
Numba reads, in-place BLAS updates, LAPACK's subset eigensolver, and small-block stacks and the
conv transform shared between block threads (:class:`CpuBackend` lists them).

Every backend module (this one, ``cuda``) exposes the same names (the ``fastcca.backend.Backend``
protocol; the generic ones here are bound from :data:`_impl`):

``NAME``, ``xp``                       backend name and its array module
``as_matrix(a, name)``                 validated 2-D real array on this backend (errors name ``name``)
``to_numpy(a)``                        host NumPy array
``center_checked(x)``                  (centred float64 copy, column means) of an (n, p) batch,
                                       or ``None`` if it holds NaN/Inf
``center_scaled(x, dtype, min_exp)``   ``fastcca.kernels._scale.Centered``: the batch centred and scaled by
                                       its power-of-two exponent, means, column min/max; or ``None``
``scatter(a, b)``                      ``a.T @ b`` in float64 (SYRK when ``a is b``)
``add_scatter_rank1(s, b, u, v, c)``   in place ``s += b + c * outer(u, v)`` (Chan's merge)
``eigh(a)``                            ascending eigenpairs of symmetric/Hermitian ``a`` (batched)
``eigvalsh(a)``                        ascending eigenvalues only (batched)
``eigh_top(a, k)``                     top-k eigenpairs, descending, without a full eigh
``cholesky(a)``                        lower Cholesky factor, ``None`` if ``a`` is not PD
``solve_lower(l, b, trans=False)``     ``l^-1 b`` (or ``l^-H b``) for lower-triangular ``l``
``svdvals(a)``, ``svd(a)``             singular values (descending); thin SVD ``(u, s, vh)``
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from . import _scale
from ._xp_backend import XpBackend
from . import _batched, _numba_cpu
from . import _lapack_blocks
from ._blas_threads import one_thread_blas, one_thread_scipy_blas

NAME = "cpu"
xp = np

#: below this many columns the Numba launch overhead is larger than what fusing saves
_NUMBA_MIN_ELEMENTS = 1 << 14




def center_checked(x: np.ndarray, out_dtype=np.float64):
    """Centre an (n, p) batch on its own column means, in float64.

    Returns ``(xc, mean)`` with ``xc`` a new C-ordered array of ``out_dtype`` (float64, or
    float32 for ``precision="float32"``: the float64 differences rounded once, no float64
    copy), or ``None`` when ``x`` holds NaN or Inf.  One fused Numba pass for C-ordered float32/float64 input of useful
    size; NumPy otherwise (other dtypes, other orders are first made C-ordered float64 by
    NumPy itself).
    """
    if x.dtype in (np.float32, np.float64) and x.flags.c_contiguous and x.size >= _NUMBA_MIN_ELEMENTS:
        xc, mean, finite = _numba_cpu.center_checked(x, out_dtype)
        return (xc, mean) if finite else None
    out = center_checked_numpy(x)
    if out is None or out_dtype == np.float64:
        return out
    return out[0].astype(out_dtype), out[1]


def column_stats(x: np.ndarray, threaded: bool = False):
    """``(sums, minima, maxima)`` of the columns of an (n, p) array, float64: one fused Numba
    read for C-ordered float32/float64 input of useful size, NumPy otherwise.  Non-finite values
    show as non-finite entries (see :func:`fastcca.kernels._numba_cpu.column_stats`).
    ``threaded``: the row chunks are shared between the block threads (same result)."""
    if x.dtype in (np.float32, np.float64) and x.flags.c_contiguous and x.size >= _NUMBA_MIN_ELEMENTS:
        return _numba_cpu.column_stats(x, _run_chunks if threaded else None)
    x64 = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):   # an overflowing sum is handled by the caller
        return x64.sum(axis=0), x64.min(axis=0), x64.max(axis=0)


def _run_chunks(f, nchunks: int) -> None:
    """``f(c0, c1)`` over ranges of ``nchunks`` chunks, one range per block thread."""
    k = min(BLOCK_THREADS, nchunks)
    if k <= 1 or in_block_thread():
        f(0, nchunks)
        return
    cuts = np.linspace(0, nchunks, k + 1).astype(int)
    for fu in [_pool().submit(f, int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:])]:
        fu.result()


def center_scaled(x: np.ndarray, out_dtype=np.float64, min_exponent=None):
    """Centre an (n, p) batch on its column means and scale it by its power-of-two exponent
    (``fastcca.kernels._scale``): returns ``Centered(xc, mean, exponent, lo, hi)`` with
    ``xc = (x - mean) * 2**-exponent`` a new C-ordered ``out_dtype`` array, ``mean`` in the same
    units, ``lo``/``hi`` the column minima/maxima in the data's units; ``None`` when ``x`` holds
    NaN or Inf.  ``min_exponent``: scale by at least this (the state's exponent).

    Two reads of ``x`` as in :func:`center_checked` (stats, then the fused subtract-and-scale);
    the exponent is 0 -- no multiplication -- for data of ordinary size.  Data of magnitude near
    the float64 limit (``>= _scale.HUGE``) is scaled before its means are formed (NumPy, rare)."""
    n = x.shape[0]
    sums, lo, hi = column_stats(x)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        return None
    sums_ok = bool(np.isfinite(sums).all())
    if not sums_ok and not np.isfinite(x).all():   # a NaN hides from min/max in the fused pass
        return None
    e = _scale.batch_exponent(lo, hi, min_exponent)
    factor = _scale.pow2(-e)
    if not sums_ok or max(float(np.abs(lo).max()), float(np.abs(hi).max())) >= _scale.HUGE:
        # sums of such values overflow: scale first (exact), then centre
        xs = np.multiply(x, factor, dtype=np.float64)
        mean = xs.mean(axis=0)
        xs -= mean
        return _scale.Centered(np.ascontiguousarray(xs, dtype=out_dtype), mean, e, lo, hi)
    mean = sums / n
    fused = x.dtype in (np.float32, np.float64) and x.flags.c_contiguous and x.size >= _NUMBA_MIN_ELEMENTS
    if fused:
        xc = _numba_cpu.subtract_scaled(x, mean, factor, out_dtype)
    else:
        xc = np.subtract(x, mean, dtype=np.float64)
        if e:
            xc *= factor
        xc = np.ascontiguousarray(xc, dtype=out_dtype)
    return _scale.Centered(xc, mean * factor if e else mean, e, lo, hi)


def center_checked_numpy(x: np.ndarray):
    """The plain-NumPy twin of :func:`center_checked` (the benchmark baseline, and the path
    for small or oddly laid-out batches)."""
    x64 = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x64).all():
        return None
    mean = x64.mean(axis=0)
    return np.ascontiguousarray(x64 - mean), mean



def add_scatter_rank1(s, b, u, v, c: float) -> None:
    if s.flags.c_contiguous and b.flags.c_contiguous and s.size >= _NUMBA_MIN_ELEMENTS:
        _numba_cpu.add_scatter_rank1(s, np.ascontiguousarray(b), u, v, float(c))
    else:
        add_scatter_rank1_numpy(s, b, u, v, c)


def add_scatter_rank1_numpy(s, b, u, v, c: float) -> None:
    s += b
    s += c * np.multiply.outer(u, v)




def eigh_top(a: np.ndarray, k: int):
    """Top-``k`` eigenpairs of a symmetric (p, p) matrix, eigenvalues descending.

    LAPACK's subset solver (``syevr`` through SciPy) reduces to tridiagonal form once and
    computes only ``k`` eigenvectors; measured against a full ``eigh`` it wins while
    ``k <= p / 4`` (see ``asv_bench``), so above that the full solver is used.
    """
    p = a.shape[-1]
    k = int(min(max(k, 0), p))
    if k == 0:
        return np.zeros(0), np.zeros((p, 0))
    if 4 * k > p:
        w, v = np.linalg.eigh(a)
        return w[::-1][:k].copy(), v[:, ::-1][:, :k].copy()
    with one_thread_scipy_blas():   # SciPy's OpenBLAS is a second thread pool: see _blas_threads
        w, v = sla.eigh(a, subset_by_index=[p - k, p - 1], driver="evr", check_finite=False)
    return w[::-1].copy(), v[:, ::-1].copy()







def scatter_update_upper(s: np.ndarray, xc: np.ndarray, d=None, c: float = 0.0) -> None:
    """In place, on the UPPER triangle of the C-ordered float64 (p, p) ``s`` only:
    ``s += xc^T xc + c * outer(d, d)`` for a centred float64 batch ``xc`` (b, p).

    BLAS ``syrk``/``syr`` with ``beta = 1`` accumulate straight into ``s``: no (p, p)
    temporary, so a streaming scatter costs ``8 p^2`` bytes, not twice that.  The strictly
    lower triangle is left stale; :func:`symmetrize_upper` restores it.  (A C-ordered ``s`` is
    passed to Fortran BLAS as ``s.T``, whose lower triangle is ``s``'s upper one.)
    """
    if s.dtype != np.float64 or not s.flags.c_contiguous:
        raise ValueError("s: expected a C-contiguous float64 array")
    from scipy.linalg import blas as _blas
    xc = np.ascontiguousarray(xc, dtype=np.float64)
    out = _blas.dsyrk(1.0, xc.T, beta=1.0, c=s.T, trans=0, lower=1, overwrite_c=1)
    if not np.shares_memory(out, s):  # pragma: no cover - guards a SciPy behaviour change
        raise RuntimeError("scatter_update_upper: BLAS syrk did not update in place")
    if d is not None and c != 0.0:
        _blas.dsyr(float(c), np.ascontiguousarray(d, dtype=np.float64), lower=1, a=s.T, overwrite_a=1)


def scatter_update_upper_f32(s: np.ndarray, xc: np.ndarray, d=None, c: float = 0.0,
                             panel: int = 128) -> None:
    """:func:`scatter_update_upper` with the batch product in SINGLE precision: in place on the
    upper triangle of the C-ordered float64 ``s`` (p, p), ``s += xc^T xc + c * outer(d, d)`` for
    a centred float32 batch ``xc`` (b, p).

    The product is formed by column panels of ``panel`` columns: ``sgemm`` of ``xc[:, :hi]^T``
    and ``xc[:, lo:hi]`` (the panel's upper part, float32 (hi, panel) temporary, at most
    ``4 p panel`` bytes) added into the float64 ``s`` -- float32 arithmetic per batch, float64
    accumulation across batches, no (p, p) float32 temporary.  The rank-1 term is float64 ``dsyr``.
    """
    if s.dtype != np.float64 or not s.flags.c_contiguous:
        raise ValueError("s: expected a C-contiguous float64 array")
    xc = np.ascontiguousarray(xc, dtype=np.float32)
    p = s.shape[0]
    for lo in range(0, p, panel):
        hi = min(p, lo + panel)
        s[:hi, lo:hi] += xc[:, :hi].T @ xc[:, lo:hi]
    if d is not None and c != 0.0:
        from scipy.linalg import blas as _blas
        _blas.dsyr(float(c), np.ascontiguousarray(d, dtype=np.float64), lower=1, a=s.T, overwrite_a=1)


def symmetrize_upper(s: np.ndarray, block: int = 512) -> None:
    """Copy the upper triangle of the square ``s`` onto its lower triangle, in place, by row
    blocks (no (p, p) temporary)."""
    p = s.shape[0]
    for lo in range(0, p, block):
        hi = min(p, lo + block)
        s[lo:hi, :lo] = s[:lo, lo:hi].T
        sub = s[lo:hi, lo:hi]
        il = np.tril_indices(hi - lo, -1)
        sub[il] = sub.T[il]

# ---------------------------------------------------------------------------------------------
# Conv layers: spatial FFT block moments and batched small decompositions (fastcca.conv).
#
# ``spatial_stats_checked(x, min_exp)``  (mean image in units 2**e, e): the batch's power-of-two
#                                        exponent (``fastcca.kernels._scale``), or ``None`` for NaN/Inf
# ``spatial_rfft_blocks(x, m, flat, dt, f)``  2-D real FFT of ``x * f - m`` gathered frequency-major:
#                                        (F, b, c) complex128; ``rfft_mean(m, flat)``: (F, c)
# ``block_scatter_accumulate(a, b, p)``  in place ``p += real-view(a)^T real-view(b)`` (F, 2ca, 2cb)
# ``real_view_to_complex(p)``            that real form -> the complex blocks ``a^H b`` (F, ca, cb)
# ``block_scatter(a, b)``                batched ``a[f]^H b[f]``: (F, b, ca), (F, b, cb) -> (F, ca, cb)
# ``add_block_scatter_rank1(s, b, u, v, c)``  in place ``s += b + c * conj(u)[:, :, None] v[:, None, :]``
# ``cholesky_batched(a)``                (lower factors, ok mask): blocks that are not PD get ok False
# ``inv_lower_batched(l)``               ``l^-1`` for a stack of lower-triangular blocks
# ``batched_region()``                   context: BLAS on one thread around many small calls
# (``eigh``, ``eigvalsh``, ``svdvals`` above already accept stacks.)
# ---------------------------------------------------------------------------------------------
import os as _os
import threading as _threading
from concurrent.futures import ThreadPoolExecutor as _ThreadPoolExecutor

import scipy.fft as _sfft

#: threads that share the frequency blocks of one batched product (each runs 1-thread BLAS)
BLOCK_THREADS = max(1, min(4, _os.cpu_count() or 1))
#: bound on one thread's transient centred copy and ``rfft2`` output in ``spatial_rfft_blocks``
#: (cache-sized: the gather reads what the transform just wrote)
TRANSFORM_STEP_BYTES = 4 << 20
_POOL = None


def _pool():
    global _POOL
    if _POOL is None:
        _POOL = _ThreadPoolExecutor(BLOCK_THREADS, thread_name_prefix="fastcca-blocks")
    return _POOL


#: Context manager: every BLAS on one thread while many small products/decompositions run
#: (re-entrant; see :mod:`fastcca.kernels._blas_threads` for the measurements).
batched_region = one_thread_blas


def spatial_stats_checked(x: np.ndarray, min_exponent=None):
    """The mean image of a (b, c, h, w) batch (any strides) in units of the batch's power-of-two
    exponent (``fastcca.kernels._scale``; ``min_exponent``: at least this), and that exponent:
    ``(mean_img (c, h, w) float64, exponent)``, or ``None`` when the batch holds NaN or Inf.

    One fused read (:func:`column_stats`) when the batch is C-ordered in NCHW or NHWC (the
    transposed view :func:`fastcca.conv._inputs.as_conv_batch` makes of an NHWC array); NumPy
    reductions otherwise."""
    b, c, h, w = x.shape
    if x.flags.c_contiguous:
        flat, back = x.reshape(b, -1), (lambda v: v.reshape(c, h, w))
    elif x.transpose(0, 2, 3, 1).flags.c_contiguous:
        flat, back = x.transpose(0, 2, 3, 1).reshape(b, -1), (lambda v: v.reshape(h, w, c).transpose(2, 0, 1))
    else:
        flat, back = None, None
    if flat is not None:
        sums, lo, hi = column_stats(flat, threaded=True)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            sums, lo, hi = (x.sum(axis=0, dtype=np.float64), x.min(axis=0).astype(np.float64),
                            x.max(axis=0).astype(np.float64))
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        return None
    sums_ok = bool(np.isfinite(sums).all())
    if not sums_ok and not np.isfinite(x).all():
        return None
    e = _scale.batch_exponent(lo, hi, min_exponent)
    factor = _scale.pow2(-e)
    if not sums_ok or max(float(np.abs(lo).max()), float(np.abs(hi).max())) >= _scale.HUGE:
        return np.multiply(x, factor, dtype=np.float64).mean(axis=0), e
    mean = sums / b
    if back is not None:
        mean = back(mean)
    return np.ascontiguousarray(mean * factor if e else mean), e


def spatial_rfft_blocks(x: np.ndarray, mean_img: np.ndarray, flat: np.ndarray,
                        dtype=np.float64, factor: float = 1.0, out=None, at: int = 0) -> np.ndarray:
    """2-D real FFT of every channel of ``x * factor - mean_img``, gathered frequency-major.

    ``x`` (b, c, h, w) real (any strides: an NHWC array passed as a transposed view works),
    ``mean_img`` (c, h, w) float64 (in the units of ``x * factor``), ``flat`` (F,) indices into
    the ``rfft2`` output flattened over (h, w // 2 + 1); ``factor`` a power of two (the batch's
    units, ``fastcca.kernels._scale``; exact).  Returns (F, b, c) complex, C-ordered: complex128 for
    ``dtype`` float64 (default, whatever the input dtype), complex64 for float32 (pocketfft via
    ``scipy.fft`` keeps single precision; half the memory traffic).  With ``out`` (F, B, c) of
    that dtype, the blocks are written to ``out[:, at:at + b]`` instead (and ``out`` returned), so
    a caller can fill one large stack for its block products from several calls.

    The images are split between the block threads; each runs the whole chain on its share, a
    few MiB of images at a time -- centring cast, a one-worker ``rfft2``, and the
    frequency-major gather (:func:`fastcca.kernels._numba_cpu.gather_frequencies`) into its rows
    of the output -- so the temporaries stay in cache from one step to the next, never exceed
    :data:`TRANSFORM_STEP_BYTES` per thread, and no step waits for the other thread.
    """
    b, c = x.shape[:2]
    dtype = np.dtype(dtype)
    cdt = np.complex64 if dtype == np.float32 else np.complex128
    flat = np.ascontiguousarray(flat, dtype=np.int64)
    if out is None:
        out, at = np.empty((len(flat), b, c), dtype=cdt), 0
    m = mean_img.astype(dtype, copy=False)
    per_image = 3 * dtype.itemsize * max(int(np.prod(x.shape[1:])), 1)   # centred copy + rfft2 output
    step = max(1, TRANSFORM_STEP_BYTES // per_image)

    def share(lo, hi):
        # one scratch buffer per share, reused step by step: a fresh centred copy per step cost
        # 2-3x in page faults and allocator traffic (1000 x 32 x 32 x 32 float64: 58 -> 20 ms)
        buf = np.empty((min(step, hi - lo),) + tuple(x.shape[1:]), dtype=dtype)
        for a in range(lo, hi, step):
            e = min(hi, a + step)
            xs = x[a:e]
            if factor != 1.0:
                xs = np.multiply(xs, factor)        # before any cast: float32 could not hold x itself
            xc = buf[:e - a]
            np.subtract(xs, m, out=xc)
            z = _sfft.rfft2(xc, axes=(2, 3), workers=1)
            _numba_cpu.gather_frequencies(z.reshape(e - a, c, -1), flat, out, at + a)

    parts = _image_shares(b)
    if len(parts) == 1 or in_block_thread():
        share(0, b)
    else:
        for fu in [_pool().submit(share, lo, hi) for lo, hi in parts]:
            fu.result()
    return out


def _image_shares(b: int):
    """(lo, hi) image ranges, one per block thread (at least 8 images each)."""
    k = max(1, min(BLOCK_THREADS, b // 8))
    cuts = np.linspace(0, b, k + 1).astype(int)
    return list(zip(cuts[:-1], cuts[1:]))



def _scatter_slice(a, b, out, lo, hi):
    # a float32 product (complex64 blocks) is added into the float64 accumulator
    sa = a[lo:hi]
    out[lo:hi] += _batched.real_view_product(np, sa, sa if b is a else b[lo:hi])


def block_scatter_accumulate(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """In place ``out += Ra^T Rb`` with ``Ra``, ``Rb`` the zero-copy real views (F, n, 2c)
    of C-ordered complex a (F, n, ca), b (F, n, cb) (:func:`fastcca.kernels._batched.real_view_product`;
    complex128, or complex64 for the float32 path); ``out`` (F, 2ca, 2cb) float64.
    :func:`real_view_to_complex` turns it into ``a^H b``.

    The F products are shared between ``BLOCK_THREADS`` threads, each with single-threaded BLAS:
    many small GEMMs under a multi-threaded OpenBLAS were measured up to 20x slower on the
    loaded 2-core machine; at the benchmark sizes the split beats NumPy's complex matmul by
    1.5-4.4x (``asv_bench/bench_conv.py``, kernels).
    """
    f = a.shape[0]
    nthreads = min(BLOCK_THREADS, f)
    with batched_region():
        if nthreads <= 1 or in_block_thread():
            _scatter_slice(a, b, out, 0, f)
            return
        cuts = np.linspace(0, f, nthreads + 1).astype(int)
        futs = [_pool().submit(_scatter_slice, a, b, out, lo, hi) for lo, hi in zip(cuts[:-1], cuts[1:])]
        for fu in futs:
            fu.result()


def real_view_to_complex(p: np.ndarray) -> np.ndarray:
    """(F, 2ca, 2cb) real-view products -> (F, ca, cb) complex ``a^H b``
    (:func:`fastcca.kernels._batched.real_view_to_complex`; one Numba pass for float64 stacks of
    useful size)."""
    if p.dtype == np.float64 and p.size >= _NUMBA_MIN_ELEMENTS:
        return _numba_cpu.real_view_to_complex(p)
    return _batched.real_view_to_complex(np, p)


def block_scatter(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched ``a[f]^H b[f]`` for C-ordered complex128 a (F, n, ca), b (F, n, cb)."""
    p = np.zeros((a.shape[0], 2 * a.shape[2], 2 * b.shape[2]))
    block_scatter_accumulate(a, b, p)
    return real_view_to_complex(p)


def block_scatter_numpy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The plain-NumPy twin of :func:`block_scatter` (benchmark baseline)."""
    return np.matmul(a.conj().transpose(0, 2, 1), b)


def run_pair(f, g):
    """``(f(), g())`` with ``f`` on a block thread and ``g`` in the caller, each using
    single-threaded BLAS (their batched calls run inline there: :func:`blockwise`).  For two
    independent stacks of small-block work (the two sides' whitenings): the NumPy glue between
    the LAPACK calls then overlaps too, where splitting each call between the threads leaves one
    core idle during it."""
    if BLOCK_THREADS < 2 or in_block_thread():
        return f(), g()
    with batched_region():
        fu = _pool().submit(f)
        try:
            b = _run_as_block_thread(g)
        finally:
            a = fu.result()
    return a, b


_LOCAL = _threading.local()


def _run_as_block_thread(g):
    _LOCAL.inline = getattr(_LOCAL, "inline", 0) + 1
    try:
        return g()
    finally:
        _LOCAL.inline -= 1


def in_block_thread() -> bool:
    """Whether the caller runs on one of the block threads (work is then done in place, never
    handed to the pool it is part of)."""
    return getattr(_LOCAL, "inline", 0) > 0 or _threading.current_thread().name.startswith("fastcca-blocks")


def blockwise(f, *stacks, combine: bool = True, min_blocks: int = 2):
    """``f(*stacks)`` with the stacks' leading (block) axis split between ``BLOCK_THREADS``
    threads, each with single-threaded BLAS (:data:`batched_region`); the parts' results are
    concatenated along that axis (a tuple result per part: element by element), or returned as a
    list with ``combine=False``.

    Why: a batched LAPACK or GEMM call over many small blocks uses one core -- OpenBLAS does not
    thread across the batch, and its threads within one small block only spin (NumPy's batched
    ``eigh`` of 528 blocks of 32 x 32 complex: 1.48 s with 2 BLAS threads, 0.12 s with 1 on the
    loaded 2-core machine).  NumPy's batched linalg releases the GIL, so two threads on two
    halves use both cores.  Runs in the calling thread when it is itself a block thread, when
    there are fewer than ``2 * min_blocks`` blocks, or with one thread."""
    nb = stacks[0].shape[0]
    nthreads = min(BLOCK_THREADS, nb // max(min_blocks, 1))
    with batched_region():
        if nthreads <= 1 or in_block_thread():
            out = f(*stacks)
            return out if combine else [out]
        cuts = np.linspace(0, nb, nthreads + 1).astype(int)
        futs = [_pool().submit(f, *(s[lo:hi] for s in stacks)) for lo, hi in zip(cuts[:-1], cuts[1:])]
        parts = [fu.result() for fu in futs]
    if not combine:
        return parts
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(list(p)) for p in zip(*parts))
    return np.concatenate(parts)


# ---------------------------------------------------------------------------------------------
# The backend object: the array-module backend on NumPy, with the paths above as its own.
# ---------------------------------------------------------------------------------------------
def _solve_triangular(a, b, lower=True, trans="N"):
    # one thread: SciPy's OpenBLAS is a second pool beside NumPy's (see _blas_threads), and a
    # triangular solve between NumPy calls ran 1.8x faster so at p = 512
    with one_thread_scipy_blas():
        return sla.solve_triangular(a, b, lower=lower, trans=trans, check_finite=False)


def _host_only(a):
    # every array is a host array to the CPU backend: ``device_array`` is always None and
    # ``as_matrix`` always validates through ``as_host_matrix``
    return None


class CpuBackend(XpBackend):
    """The array-module backend (:class:`fastcca.kernels._xp_backend.XpBackend`) on NumPy, with
    the CPU's own paths in place of the generic ones:

    * fused Numba reads: ``center_checked``, ``center_scaled``, ``add_scatter_rank1``,
      ``real_view_to_complex`` (and the capability ``column_stats``);
    * in-place BLAS: the capabilities ``scatter_update_upper`` (``_f32``) and
      ``symmetrize_upper`` (JointMoments' streaming scatter without a (p, p) temporary);
    * LAPACK's subset eigensolver for ``eigh_top``, one-thread SciPy BLAS for ``solve_lower``,
      one LAPACK call per block for ``cholesky_batched`` and ``inv_lower_batched``;
    * the block threads: stacks of small blocks (``eigh``, ``eigvalsh``, ``svdvals``,
      ``cholesky_batched``, ``inv_lower_batched``, ``block_matmul``,
      ``block_scatter_accumulate``) are split between :data:`BLOCK_THREADS` threads with
      one-thread BLAS (:func:`blockwise`), and the conv transform runs by image shares
      (``spatial_stats_checked``, ``spatial_rfft_blocks``; pocketfft, one worker per thread).

    Everything else -- ``as_matrix``, ``to_numpy``, ``scatter``, ``svd``, ``cholesky``, the
    rank-1 merges of the block stacks, ``rfft_mean``, the batch-size defaults (``None``: host
    memory already holds the input) -- is the generic code, the same that runs on CuPy.  The
    module-level names of this module are this object's (``fastcca.get_backend("cpu")`` returns
    the module).
    """

    def __init__(self):
        super().__init__(np, _solve_triangular, NAME, device_view=_host_only)

    center_checked = staticmethod(center_checked)
    center_scaled = staticmethod(center_scaled)
    add_scatter_rank1 = staticmethod(add_scatter_rank1)
    eigh_top = staticmethod(eigh_top)
    real_view_to_complex = staticmethod(real_view_to_complex)
    spatial_stats_checked = staticmethod(spatial_stats_checked)
    spatial_rfft_blocks = staticmethod(spatial_rfft_blocks)
    block_scatter_accumulate = staticmethod(block_scatter_accumulate)
    # the optional capabilities (fastcca.backend.CAPABILITIES)
    column_stats = staticmethod(column_stats)
    scatter_update_upper = staticmethod(scatter_update_upper)
    scatter_update_upper_f32 = staticmethod(scatter_update_upper_f32)
    symmetrize_upper = staticmethod(symmetrize_upper)
    batched_region = staticmethod(batched_region)
    run_pair = staticmethod(run_pair)

    def eigh(self, a):
        """Ascending eigenpairs; a stack (B, k, k) is shared between the block threads."""
        return blockwise(super().eigh, a) if np.ndim(a) > 2 else super().eigh(a)

    def eigvalsh(self, a):
        """Ascending eigenvalues; stacks as in :meth:`eigh`."""
        return blockwise(super().eigvalsh, a) if np.ndim(a) > 2 else super().eigvalsh(a)

    def svdvals(self, a):
        """Singular values, descending; stacks as in :meth:`eigh`."""
        return blockwise(super().svdvals, a) if np.ndim(a) > 2 else super().svdvals(a)

    def cholesky_batched(self, a):
        """Lower Cholesky factors of a stack (B, k, k) and a (B,) bool mask of the positive
        definite blocks (the factor of a failed block is garbage and must not be used): one
        LAPACK ``potrf`` per block (:func:`fastcca.kernels._lapack_blocks.cholesky_stack`, faster
        than NumPy's batched call: 3.0 vs 4.0 ms for 514 blocks of 32, 9.1 vs 22.5 for 34 of
        128), the blocks shared between the block threads."""
        parts = blockwise(_lapack_blocks.cholesky_stack, a, combine=False)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def inv_lower_batched(self, l):
        """``l^-1`` for a stack (B, k, k) of lower-triangular blocks: one LAPACK ``trtri`` per
        block (:func:`fastcca.kernels._lapack_blocks.inv_lower`; the generic backend's batched
        GEMMs took 13.4 vs 8.1 ms for 514 blocks of 32), shared between the block threads."""
        return blockwise(_lapack_blocks.inv_lower, l)

    def block_matmul(self, a, b):
        """Batched ``a @ b`` over stacks of small blocks, shared between the block threads."""
        return blockwise(super().block_matmul, a, b)


_impl = CpuBackend()

# the generic primitives, and the block-thread forms of the stacked ones, as module names (the
# CPU's own paths above are module functions already)
as_matrix = _impl.as_matrix
to_numpy = _impl.to_numpy
is_device_array = _impl.is_device_array
device_array = _impl.device_array
scatter = _impl.scatter
eigh = _impl.eigh
eigvalsh = _impl.eigvalsh
svdvals = _impl.svdvals
svd = _impl.svd
cholesky = _impl.cholesky
solve_lower = _impl.solve_lower
cholesky_batched = _impl.cholesky_batched
inv_lower_batched = _impl.inv_lower_batched
block_matmul = _impl.block_matmul
rfft_mean = _impl.rfft_mean
add_block_scatter_rank1 = _impl.add_block_scatter_rank1
default_batch_rows = _impl.default_batch_rows
default_conv_batch_images = _impl.default_conv_batch_images
