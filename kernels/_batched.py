"""Stacks of small matrices (one per DFT frequency of a conv layer), written once against an array
module ``xp`` (NumPy on the CPU, CuPy on a GPU, the strict stand-in in CI), so both backends run
the same algorithms.  Each function takes ``xp`` first and a stack (B, k, k) (or (B, m, k)).

``inv_lower(xp, l)``            ``l^-1`` for lower-triangular blocks, by recursive 2 x 2 block
                                 inversion (batched GEMMs; no LU)
``cholesky_stack(xp, chol, a)`` lower factors and a (B,) host bool mask of the positive definite
                                 blocks, whatever ``chol`` does on a failed block (raise or NaN)
``gram_svdvals(xp, a, floor)``  singular values of every block from ``eigvalsh`` of its smaller
                                 Gram matrix, and the blocks too ill-conditioned for that route
``real_view_product(xp, a, b)`` ``Ra^T Rb`` of the real views of complex block stacks (one
                                 batched real GEMM: the products of the conv moments)
``real_view_to_complex(xp, p)`` that real form -> the complex blocks ``a^H b``
``add_rank1(xp, s, b, u, v, c)`` in place ``s += b + c conj(u) v^T`` per block (Chan's merge)

Neither NumPy nor CuPy has a batched triangular inverse: ``numpy.linalg.inv`` runs a full LU
with pivoting per block (measured 29 ms for 136 lower-triangular 64 x 64 complex blocks on one
core, against 10 ms for :func:`inv_lower`), and CuPy's ``solve_triangular`` takes one matrix.
"""
from __future__ import annotations

import numpy as np

#: blocks up to this size are inverted by the array module's batched ``inv`` (measured best for
#: 32..128 wide complex blocks on the CPU; see the module docstring)
INV_BASE = 16


def inv_lower(xp, l, base: int = INV_BASE):
    """``l^-1`` for a stack ``l`` (B, k, k) of nonsingular lower-triangular blocks.

    ``[[A, 0], [C, D]]^-1 = [[A^-1, 0], [-D^-1 C A^-1, D^-1]]``, recursively on halves; the
    diagonal leaves of at most ``base`` rows go to ``xp.linalg.inv``.  About ``2 k^3 / 3``
    multiply-adds per block, all in batched GEMMs.  The strictly upper triangle of the result is
    exactly 0 (as that of the true inverse).  Accuracy: that of a triangular inverse by blocks (forward-stable, error ~ eps
    times the condition number of ``l``, as LAPACK's ``trtri``).
    """
    k = l.shape[-1]
    if k <= base:
        return xp.tril(xp.linalg.inv(l))          # LU leaves rounding-level entries above
    h = k // 2
    a = inv_lower(xp, l[:, :h, :h], base)
    d = inv_lower(xp, l[:, h:, h:], base)
    out = xp.zeros(l.shape, dtype=a.dtype)
    out[:, :h, :h] = a
    out[:, h:, h:] = d
    out[:, h:, :h] = -xp.matmul(d, xp.matmul(l[:, h:, :h], a))
    return out


def _valid_factors(xp, l) -> np.ndarray:
    """(B,) host mask: the factor is finite with a positive real diagonal (a failed block of a
    batched factorisation that does not raise holds NaN or a non-positive pivot)."""
    d = xp.real(xp.diagonal(l, axis1=1, axis2=2))
    good = xp.all(d > 0, axis=1) & xp.all(xp.isfinite(l.reshape(l.shape[0], -1)), axis=1)
    return np.asarray(_to_host(good), dtype=bool)


def _to_host(a):
    get = getattr(a, "get", None)
    return get() if get is not None and not isinstance(a, np.ndarray) else np.asarray(a)


def cholesky_stack(xp, chol, a):
    """Lower Cholesky factors of a stack ``a`` (B, k, k) and the (B,) host bool mask of the blocks
    that are positive definite; a failed block's factor is garbage and must not be used.

    ``chol(stack)`` is the array module's batched Cholesky: it may raise ``LinAlgError`` for the
    whole stack when one block fails (NumPy; CuPy under ``errstate(linalg="raise")``) or return
    NaN / a non-positive pivot for the failed block.  One batched call in the usual case (every
    block PD); when it raises, one call per block tells them apart."""
    nb = a.shape[0]
    if nb == 0:
        return xp.zeros(a.shape, dtype=a.dtype), np.zeros(0, dtype=bool)
    try:
        l = chol(a)
    except np.linalg.LinAlgError:
        l = None
    if l is not None:
        return l, _valid_factors(xp, l)
    out = xp.zeros(a.shape, dtype=a.dtype)
    ok = np.zeros(nb, dtype=bool)
    for i in range(nb):
        try:
            li = chol(a[i:i + 1])
        except np.linalg.LinAlgError:
            continue
        if _valid_factors(xp, li)[0]:
            out[i:i + 1] = li
            ok[i] = True
    return out, ok


def gram_svdvals(xp, a, floor: float, eigvalsh=None):
    """Singular values (descending) of every block of ``a`` (B, m1, m2) as
    ``sqrt(eigvalsh(G))`` of the smaller Gram matrix ``G`` (``a a^H`` or ``a^H a``), and the
    (B,) host mask of blocks where that route is not accurate enough: smallest eigenvalue below
    ``floor * largest``.  The Gram route squares the condition number: a singular value ``s``
    gets an absolute error ~ ``eps s_max^2 / (2 s)``, so with ``floor = 1e-10`` at most ~1e-11
    relative to ``s_max`` on the accepted blocks; the caller takes the SVD's values for the
    others.  ``eigvalsh``: the batched Hermitian eigenvalue solver (ascending; default
    ``xp.linalg.eigvalsh``).  Returns ``(values (B, min(m1, m2)), redo (B,) bool)``."""
    m1, m2 = a.shape[-2], a.shape[-1]
    ah = xp.conj(a).transpose(0, 2, 1)
    g = xp.matmul(a, ah) if m1 <= m2 else xp.matmul(ah, a)
    lam = (eigvalsh or xp.linalg.eigvalsh)(g)[:, ::-1]
    top = lam[:, 0]
    redo = (top > 0) & (lam[:, -1] < floor * top)
    return xp.sqrt(xp.maximum(lam, 0.0)), np.asarray(_to_host(redo), dtype=bool)


def real_view_product(xp, a, b):
    """``Ra^T Rb`` (F, 2ca, 2cb) for C-ordered complex stacks ``a`` (F, n, ca), ``b`` (F, n, cb),
    with ``Ra`` the zero-copy real view (F, n, 2ca) (real and imaginary parts interleaved), in the
    real dtype of ``a`` (float32 products for complex64 blocks).  One batched real GEMM per call;
    when ``b is a`` both operands are one buffer, which BLAS libraries serve by SYRK.  A real GEMM
    on the views avoids the ``conj(a)`` copy of a complex ``a^H b``;
    :func:`real_view_to_complex` recovers ``a^H b`` from it."""
    real = xp.float32 if a.dtype == xp.complex64 else xp.float64
    ra = a.view(real)
    rb = ra if b is a else b.view(real)
    return xp.matmul(ra.transpose(0, 2, 1), rb)


def real_view_to_complex(xp, p):
    """(F, 2ca, 2cb) real-view products -> (F, ca, cb) complex128 ``a^H b``:
    ``(P_rr + P_ii) + i (P_ri - P_ir)`` (``P_ri``: real rows of a, imaginary columns of b)."""
    f, ta, tb = p.shape
    s = xp.empty((f, ta // 2, tb // 2), dtype=xp.complex128)
    s.real = p[:, 0::2, 0::2] + p[:, 1::2, 1::2]
    s.imag = p[:, 0::2, 1::2] - p[:, 1::2, 0::2]
    return s


def add_rank1(xp, s, b, u, v, c: float) -> None:
    """In place ``s += b + c * conj(u)[:, :, None] * v[:, None, :]`` for stacks ``s``, ``b``
    (F, p, q) and ``u`` (F, p), ``v`` (F, q): Chan's pairwise merge of complex block moments."""
    s += b
    s += c * (xp.conj(u)[:, :, None] * v[:, None, :])
