"""Stacks of small blocks (one per DFT frequency of a conv layer) through LAPACK one block at a
time, for the CPU backend: where NumPy has no batched routine, or its batched one costs more than
a loop of direct calls.

``cholesky_stack(a)``   lower Cholesky factors of a stack (B, k, k) and the (B,) bool mask of the
                        positive definite blocks (``?potrf`` per block)
``inv_lower(l)``        ``l^-1`` for a stack of nonsingular lower-triangular blocks (``?trtri``)

Layout: the stacks are C-ordered, LAPACK is column-major, so each block's memory is handed to
LAPACK as its transpose (a Fortran-ordered view, no copy).  For a Hermitian ``A`` (C view) LAPACK
sees ``A^T = conj(A)``; its upper factor ``conj(A) = U^H U`` read back in the C view is
``L = U^T`` with ``A = L L^H``.  Likewise ``trtri`` of the upper ``L^T`` gives ``(L^T)^-1``, whose C
view is ``L^-1``.  The same holds for real symmetric blocks.

Measured (``asv_bench/bench_conv.py``-sized stacks, one thread, 2026-12-04, loaded 2-core
machine): Cholesky 514 x 32 x 32 complex 3.0 ms against NumPy's batched ``cholesky`` 4.0 ms
(130 x 64: 7.7 vs 12.4; 34 x 128: 9.1 vs 22.5); triangular inverse 8.1 ms against the batched
GEMMs of :func:`fastcca.kernels._batched.inv_lower` 13.4 ms (130 x 64: 5.2 vs 21.8; 34 x 128:
6.4 vs 18.8).  The per-call overhead of the f2py wrapper (a few microseconds) is less than what
NumPy's gufunc machinery (copies in and out per block) and the recursive GEMMs on small halves
cost.  The CPU backend still splits a stack between its block threads (``blockwise``); whether
the f2py wrappers release the GIL was not settled by measurement (2 threads: 187-197 ms against
187-251 ms on one, for 200 blocks 256 x 256 at load ~2), so the split may run serially.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import lapack as _lapack

from ._batched import _valid_factors


def cholesky_stack(a):
    """Lower Cholesky factors of the C-ordered stack ``a`` (B, k, k) (real symmetric or complex
    Hermitian; only the lower triangle of each C-ordered block is read) and the (B,) bool mask
    of the blocks that are positive definite; a failed block's factor is garbage.  The strictly
    upper triangle of every factor is exactly 0."""
    out = np.array(a, order="C", copy=True)
    nb = out.shape[0]
    ok = np.zeros(nb, dtype=bool)
    if nb == 0 or out.shape[-1] == 0:
        ok[:] = True
        return out, ok
    potrf, = _lapack.get_lapack_funcs(("potrf",), (out,))
    for i in range(nb):
        # Fortran view of the block: LAPACK's upper factor is the C view's lower one (module doc)
        _, info = potrf(out[i].T, lower=0, clean=1, overwrite_a=1)
        ok[i] = info == 0
    if ok.any():
        ok &= _valid_factors(np, out)     # a NaN block may factor "successfully" into NaN
    return out, ok


def inv_lower(l):
    """``l^-1`` for the stack ``l`` (B, k, k) of nonsingular lower-triangular blocks (C-ordered
    or not; the strictly upper triangle is ignored and is exactly 0 in the result).  LAPACK's
    ``trtri``: forward-stable, error ~ machine epsilon times the condition number of ``l``."""
    out = np.ascontiguousarray(np.tril(l))   # a copy with exact zeros above the diagonal
    nb = out.shape[0]
    if nb == 0 or out.shape[-1] == 0:
        return out
    trtri, = _lapack.get_lapack_funcs(("trtri",), (out,))
    for i in range(nb):
        # Fortran view: the upper-triangular l^T, inverted in place into (l^-1)^T
        _, info = trtri(out[i].T, lower=0, overwrite_c=1)
        if info > 0:
            raise np.linalg.LinAlgError(f"inv_lower: block {i} is singular (zero pivot {info})")
    return out
