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


def default_batch_rows(x, y):
    """Rows per batch for ``Moments.from_arrays`` without ``batch_size``: ``None`` (one batch;
    host memory already holds the input).  The CUDA backend streams host arrays in chunks
    sized to free device memory instead."""
    return None
