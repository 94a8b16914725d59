"""CPU backend: the primitives every measure is written on, with NumPy/SciPy (OpenBLAS/LAPACK)
for dense products and decompositions and Numba where a fused loop beats NumPy.

Every backend module (this one, ``cuda``) exposes the same names:

``NAME``, ``xp``                       backend name and its array module
``as_matrix(a, name)``                 validated 2-D real array on this backend (errors name ``name``)
``to_numpy(a)``                        host NumPy array
``center_checked(x)``                  (centred float64 copy, column means) of an (n, p) batch,
                                       or ``None`` if it holds NaN/Inf
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

from .._validation import as_host_matrix
from . import _numba_cpu

NAME = "cpu"
xp = np

#: below this many columns the Numba launch overhead is larger than what fusing saves
_NUMBA_MIN_ELEMENTS = 1 << 14


def as_matrix(a, name: str) -> np.ndarray:
    return as_host_matrix(a, name)


def to_numpy(a):
    return np.asarray(a)


def center_checked(x: np.ndarray):
    """Centre an (n, p) batch on its own column means, in float64.

    Returns ``(xc, mean)`` with ``xc`` a new C-ordered float64 array, or ``None`` when ``x``
    holds NaN or Inf.  One fused Numba pass for C-ordered float32/float64 input of useful
    size; NumPy otherwise (other dtypes, other orders are first made C-ordered float64 by
    NumPy itself).
    """
    if x.dtype in (np.float32, np.float64) and x.flags.c_contiguous and x.size >= _NUMBA_MIN_ELEMENTS:
        xc, mean, finite = _numba_cpu.center_checked(x)
        return (xc, mean) if finite else None
    return center_checked_numpy(x)


def center_checked_numpy(x: np.ndarray):
    """The plain-NumPy twin of :func:`center_checked` (the benchmark baseline, and the path
    for small or oddly laid-out batches)."""
    x64 = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x64).all():
        return None
    mean = x64.mean(axis=0)
    return np.ascontiguousarray(x64 - mean), mean


def scatter(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # NumPy dispatches ``a.T @ a`` on one buffer to SYRK, half the flops of a GEMM.
    return a.T @ b


def add_scatter_rank1(s, b, u, v, c: float) -> None:
    if s.flags.c_contiguous and b.flags.c_contiguous and s.size >= _NUMBA_MIN_ELEMENTS:
        _numba_cpu.add_scatter_rank1(s, np.ascontiguousarray(b), u, v, float(c))
    else:
        add_scatter_rank1_numpy(s, b, u, v, c)


def add_scatter_rank1_numpy(s, b, u, v, c: float) -> None:
    s += b
    s += c * np.multiply.outer(u, v)


def eigh(a):
    return np.linalg.eigh(a)


def eigvalsh(a):
    return np.linalg.eigvalsh(a)


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
    w, v = sla.eigh(a, subset_by_index=[p - k, p - 1], driver="evr", check_finite=False)
    return w[::-1].copy(), v[:, ::-1].copy()


def cholesky(a):
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        return None


def solve_lower(l, b, trans: bool = False):
    return sla.solve_triangular(l, b, lower=True, trans="C" if trans else "N", check_finite=False)


def svdvals(a):
    return np.linalg.svd(a, compute_uv=False)


def svd(a):
    return np.linalg.svd(a, full_matrices=False)


# ---------------------------------------------------------------------------------------------
# Conv layers: spatial FFT block moments and batched small decompositions (fastcca.conv).
#
# ``spatial_rfft_blocks(x, flat)``       centred real 2-D FFT of a (b, c, h, w) batch, gathered
#                                        to the frequencies ``flat``: ((F, b, c) complex128,
#                                        batch mean (F, c)), or ``None`` if x holds NaN/Inf
# ``block_scatter(a, b)``                batched ``a[f]^H b[f]``: (F, b, ca), (F, b, cb) -> (F, ca, cb)
# ``add_block_scatter_rank1(s, b, u, v, c)``  in place ``s += b + c * conj(u)[:, :, None] v[:, None, :]``
# ``cholesky_batched(a)``                (lower factors, ok mask): blocks that are not PD get ok False
# ``inv_lower_batched(l)``               ``l^-1`` for a stack of lower-triangular blocks
# (``eigh``, ``eigvalsh``, ``svdvals`` above already accept stacks.)
# ---------------------------------------------------------------------------------------------
import os as _os
from concurrent.futures import ThreadPoolExecutor as _ThreadPoolExecutor

import scipy.fft as _sfft

try:  # optional: pins BLAS to one thread around the many small GEMMs (see block_scatter)
    from threadpoolctl import threadpool_limits as _threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn; fastcca lists it
    _threadpool_limits = None

#: threads that share the frequency blocks of one batched product (each runs 1-thread BLAS)
BLOCK_THREADS = max(1, min(4, _os.cpu_count() or 1))
_POOL = None


def _pool():
    global _POOL
    if _POOL is None:
        _POOL = _ThreadPoolExecutor(BLOCK_THREADS, thread_name_prefix="fastcca-blocks")
    return _POOL


def spatial_rfft_blocks(x: np.ndarray, flat: np.ndarray):
    """Centred 2-D real FFT of every channel of a batch, gathered frequency-major.

    ``x`` (b, c, h, w) real (any strides: an NHWC array passed as a transposed view works),
    ``flat`` (F,) indices into the ``rfft2`` output flattened over (h, w // 2 + 1).

    Returns ``(z, mean)``: ``z`` (F, b, c) complex128 C-ordered, the DFT of each image centred
    on the batch mean image (so ``z`` is centred per frequency), and ``mean`` (F, c), the DFT of
    the batch mean image (by linearity, the batch mean of the uncentred DFT).  ``None`` when
    ``x`` holds NaN or Inf (checked on the float64 column sums: one pass, no temporary mask).
    The transform is float64 whatever the input dtype.
    """
    b, c, h, w = x.shape
    mean_img = x.mean(axis=0, dtype=np.float64)
    if not np.isfinite(mean_img).all():
        return None
    xc = np.subtract(x, mean_img, dtype=np.float64)
    z = _sfft.rfft2(xc, axes=(2, 3))
    z = z.reshape(b, c, -1)
    # fancy indexing on the frequency-major view: one gather copy straight into (F, b, c)
    out = np.ascontiguousarray(np.moveaxis(z, 2, 0)[flat])
    mean = _sfft.rfft2(mean_img, axes=(1, 2)).reshape(c, -1)[:, flat].T
    return out, np.ascontiguousarray(mean)


def _scatter_real_view(ra, rb, out, lo, hi):
    np.matmul(ra[lo:hi].transpose(0, 2, 1), rb[lo:hi], out=out[lo:hi])


def block_scatter(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched ``a[f]^H b[f]`` for C-ordered complex128 a (F, n, ca), b (F, n, cb).

    The complex product runs as a real GEMM on the zero-copy float64 views (F, n, 2c) (real
    and imaginary parts interleaved): ``P = Ra^T Rb`` holds every product of real/imaginary
    columns, and ``a^H b = (P_rr + P_ii) + i (P_ri - P_ir)``.  NumPy's complex ``matmul`` would
    first copy ``conj(a)``.  The F products are shared between ``BLOCK_THREADS`` threads, each
    with single-threaded BLAS: many small GEMMs under a multi-threaded BLAS were measured up
    to 20x slower on a loaded 2-core machine (threads spin waiting for each other).
    """
    f, _, ca = a.shape
    cb = b.shape[2]
    ra = a.view(np.float64)
    rb = ra if b is a else b.view(np.float64)
    p = np.empty((f, 2 * ca, 2 * cb), dtype=np.float64)
    nthreads = min(BLOCK_THREADS, f)
    limit = _threadpool_limits(1, user_api="blas") if _threadpool_limits is not None else None
    try:
        if nthreads <= 1:
            _scatter_real_view(ra, rb, p, 0, f)
        else:
            cuts = np.linspace(0, f, nthreads + 1).astype(int)
            futs = [_pool().submit(_scatter_real_view, ra, rb, p, lo, hi)
                    for lo, hi in zip(cuts[:-1], cuts[1:])]
            for fu in futs:
                fu.result()
    finally:
        if limit is not None:
            limit.restore_original_limits()
    s = np.empty((f, ca, cb), dtype=np.complex128)
    s.real = p[:, 0::2, 0::2] + p[:, 1::2, 1::2]
    s.imag = p[:, 0::2, 1::2] - p[:, 1::2, 0::2]
    return s


def block_scatter_numpy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The plain-NumPy twin of :func:`block_scatter` (benchmark baseline)."""
    return np.matmul(a.conj().transpose(0, 2, 1), b)


def add_block_scatter_rank1(s, b, u, v, c: float) -> None:
    """In place ``s += b + c * conj(u)[:, :, None] * v[:, None, :]`` (Chan's merge, per block)."""
    s += b
    s += c * (u.conj()[:, :, None] * v[:, None, :])


def cholesky_batched(a):
    """Lower Cholesky factors of a stack (B, k, k) and a (B,) bool mask of the blocks that are
    positive definite (the factor of a failed block is garbage and must not be used)."""
    try:
        return np.linalg.cholesky(a), np.ones(a.shape[0], dtype=bool)
    except np.linalg.LinAlgError:
        out = np.zeros_like(a)
        ok = np.zeros(a.shape[0], dtype=bool)
        for i in range(a.shape[0]):
            li = cholesky(a[i])
            if li is not None:
                out[i], ok[i] = li, True
        return out, ok


def inv_lower_batched(l):
    """``l^-1`` for a stack (B, k, k) of lower-triangular blocks (batched triangular solve)."""
    eye = np.broadcast_to(np.eye(l.shape[-1], dtype=l.dtype), l.shape)
    return sla.solve_triangular(l, eye, lower=True, check_finite=False)
