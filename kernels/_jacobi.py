"""Eigenvalues of many small Hermitian matrices by parallel-order cyclic Jacobi: a CUDA kernel
(one thread block per matrix) and its NumPy twin, the same algorithm step for step, so that CPU
CI checks the kernel's numbers through the twin.

Why a kernel of our own: the conv path needs the eigenvalues of one small Hermitian matrix per
DFT frequency (``M M^H`` of the whitened cross block: the canonical correlations squared); the
issue [cuda-2] measured CuPy's batched ``eigh`` + ``svd`` of 144 blocks of 256 at 2.0 s on an
H200 against 0.26 s for batched Cholesky + ``eigvalsh`` through cuSOLVER.  Jacobi needs no
reduction to tridiagonal form, maps one matrix onto one thread block, and its rotations within
one step touch disjoint rows and columns, so a block applies them all at once.
**Not measured on a GPU yet**: ``asv_bench/gpu_check.py`` times it against the library route
(``XpBackend`` option ``small_eig``; the library route stays the default until it loses).

Algorithm (both versions)
-------------------------
``A`` (n, n) Hermitian is copied into an (m, m) workspace, ``m = n`` rounded up to even (the
extra index, if any, is a zero row and column that no rotation touches).  A *sweep* is ``m - 1``
steps of the round-robin tournament: in step ``r`` position 0 holds index 0 and position
``j >= 1`` holds ``1 + (j - 1 + r) mod (m - 1)``; positions ``k`` and ``m - 1 - k`` form pair
``k`` (``p < q``), so the ``m / 2`` pairs of a step are disjoint and every pair meets once per
sweep.  For a pair with ``b = A_pq != 0`` (``u = b / |b|``), the unitary ``J = D R`` with
``D = diag(1, conj(u))`` makes the 2 x 2 block real and ``R = [[c, s], [-s, c]]`` is the classical
rotation: ``theta = (A_qq - A_pp) / (2 |b|)``, ``t = sign(theta) / (|theta| + sqrt(theta^2 + 1))``
(sign(0) = 1), ``c = 1 / sqrt(t^2 + 1)``, ``s = t c``.  A step first computes every pair's
``(c, s, u)`` from the current ``A``, then applies ``A <- A J`` to the columns p, q of every
pair, then ``A <- J^H A`` to their rows:

    A_ip, A_iq <- c A_ip - s conj(u) A_iq,  s A_ip + c conj(u) A_iq      (every row i)
    A_pj, A_qj <- c A_pj - s u A_qj,        s A_pj + c u A_qj            (every column j)

A pair whose ``|A_pq| <= SKIP ||A||_F`` (``||A||_F`` of the input) is not rotated: such an entry is
rounding noise, and rotating noise against noise (a cluster of zero eigenvalues: rank-deficient
Gram matrices) never settles.  After each sweep the off-diagonal mass
``off = sum_{i != j} |A_ij|^2`` is compared with ``tol^2 ||A||_F^2``; a matrix stops when it is
below, when the sweep rotated nothing (then every entry is below ``SKIP ||A||_F``, so
``sqrt(off) <= n SKIP ||A||_F``), or after ``max_sweeps``.  The eigenvalues are the real diagonal;
by Weyl's inequality each is within ``sqrt(off)`` of an exact one.  Output: ascending, as
``eigvalsh``.
"""
from __future__ import annotations

import numpy as np

#: stop when the off-diagonal Frobenius norm is below TOL times the input's
TOL = 1e-14
#: at most this many sweeps (cyclic Jacobi converges quadratically: 6-12 sweeps in float64)
MAX_SWEEPS = 30
#: entries at or below SKIP ||A||_F are not rotated away (rounding noise; see the docstring)
SKIP = float(np.finfo(np.float64).eps)
#: the kernel's shared arrays hold the rotations of one step: m / 2 <= MAX_PAIRS
MAX_PAIRS = 256
THREADS = 256

SOURCE = r"""
#define MAX_PAIRS 256
#define THREADS 256

__device__ __forceinline__ double2 cmul(double2 a, double2 b) {
    return make_double2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}
__device__ __forceinline__ double2 cconj(double2 a) { return make_double2(a.x, -a.y); }
__device__ __forceinline__ double2 cscale(double s, double2 a) { return make_double2(s * a.x, s * a.y); }
__device__ __forceinline__ double2 cadd(double2 a, double2 b) { return make_double2(a.x + b.x, a.y + b.y); }
__device__ __forceinline__ double2 csub(double2 a, double2 b) { return make_double2(a.x - b.x, a.y - b.y); }

__device__ __forceinline__ int slot(int j, int r, int m) {
    return j == 0 ? 0 : 1 + (j - 1 + r) % (m - 1);
}

__device__ double block_sum(double v, double* red) {
    red[threadIdx.x] = v;
    __syncthreads();
    for (int h = blockDim.x / 2; h > 0; h >>= 1) {
        if (threadIdx.x < h) red[threadIdx.x] += red[threadIdx.x + h];
        __syncthreads();
    }
    double out = red[0];
    __syncthreads();
    return out;
}

// A: (batch, m, m) workspace, the padded copies of the Hermitian inputs (overwritten).
// w: (batch, n) the diagonal after convergence (unsorted).  sweeps: (batch,) sweeps done.
extern "C" __global__ void herm_jacobi_eigvals(double2* A, double* w, int* sweeps,
                                               const int n, const int m, const int max_sweeps,
                                               const double tol, const double skip) {
    __shared__ double cs[MAX_PAIRS], ss[MAX_PAIRS];
    __shared__ double2 us[MAX_PAIRS];
    __shared__ int ps[MAX_PAIRS], qs[MAX_PAIRS];
    __shared__ double red[THREADS];
    __shared__ int rotated;
    double2* a = A + (size_t)blockIdx.x * m * m;
    const int half = m / 2;
    double part = 0.0;
    for (int e = threadIdx.x; e < m * m; e += blockDim.x) {
        double2 v = a[e];
        part += v.x * v.x + v.y * v.y;
    }
    const double frob2 = block_sum(part, red);
    const double floor_ = skip * sqrt(frob2);
    int sweep = 0;
    while (sweep < max_sweeps) {
        if (threadIdx.x == 0) rotated = 0;
        __syncthreads();
        for (int r = 0; r < m - 1; ++r) {
            for (int k = threadIdx.x; k < half; k += blockDim.x) {
                int p = slot(k, r, m), q = slot(m - 1 - k, r, m);
                if (p > q) { int t = p; p = q; q = t; }
                double c = 1.0, s = 0.0;
                double2 u = make_double2(1.0, 0.0);
                double2 b = a[p * m + q];
                double mag = sqrt(b.x * b.x + b.y * b.y);
                if (q < n && mag > 0.0 && mag > floor_) {
                    rotated = 1;
                    u = make_double2(b.x / mag, b.y / mag);
                    double theta = (a[q * m + q].x - a[p * m + p].x) / (2.0 * mag);
                    double t = (theta >= 0.0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                    c = 1.0 / sqrt(t * t + 1.0);
                    s = t * c;
                }
                cs[k] = c; ss[k] = s; us[k] = u; ps[k] = p; qs[k] = q;
            }
            __syncthreads();
            for (int e = threadIdx.x; e < half * m; e += blockDim.x) {       // A <- A J (columns)
                int k = e / m, i = e % m, p = ps[k], q = qs[k];
                double c = cs[k], s = ss[k];
                double2 uc = cconj(us[k]);
                double2 x = a[i * m + p], y = a[i * m + q];
                a[i * m + p] = csub(cscale(c, x), cscale(s, cmul(uc, y)));
                a[i * m + q] = cadd(cscale(s, x), cscale(c, cmul(uc, y)));
            }
            __syncthreads();
            for (int e = threadIdx.x; e < half * m; e += blockDim.x) {       // A <- J^H A (rows)
                int k = e / m, j = e % m, p = ps[k], q = qs[k];
                double c = cs[k], s = ss[k];
                double2 u = us[k];
                double2 x = a[p * m + j], y = a[q * m + j];
                a[p * m + j] = csub(cscale(c, x), cscale(s, cmul(u, y)));
                a[q * m + j] = cadd(cscale(s, x), cscale(c, cmul(u, y)));
            }
            __syncthreads();
        }
        ++sweep;
        part = 0.0;
        for (int e = threadIdx.x; e < m * m; e += blockDim.x) {
            if (e / m != e % m) { double2 v = a[e]; part += v.x * v.x + v.y * v.y; }
        }
        if (block_sum(part, red) <= tol * tol * frob2 || !rotated) break;
    }
    for (int i = threadIdx.x; i < n; i += blockDim.x) w[(size_t)blockIdx.x * n + i] = a[i * m + i].x;
    if (threadIdx.x == 0) sweeps[blockIdx.x] = sweep;
}
"""


def tournament(m: int) -> np.ndarray:
    """(m - 1, m / 2, 2) the pairs (p < q) of every step of a sweep (module docstring)."""
    steps = []
    for r in range(m - 1):
        slot = np.array([0] + [1 + (j - 1 + r) % (m - 1) for j in range(1, m)])
        p, q = slot[: m // 2], slot[::-1][: m // 2]
        steps.append(np.stack([np.minimum(p, q), np.maximum(p, q)], axis=1))
    return np.array(steps, dtype=np.int64).reshape(max(m - 1, 0), m // 2, 2)


def _workspace(xp, a):
    """(B, m, m) complex128 padded copy of a stack (B, n, n), and m."""
    bsz, n = a.shape[0], a.shape[-1]
    m = n + (n % 2)
    ws = xp.zeros((bsz, m, m), dtype=xp.complex128)
    ws[:, :n, :n] = a
    return ws, m


def eigvalsh_twin(a, max_sweeps: int = MAX_SWEEPS, tol: float = TOL, xp=np, skip: float = SKIP):
    """The kernel's algorithm in array code (NumPy, or any array module ``xp``): eigenvalues,
    ascending, of every matrix of a Hermitian stack ``a`` (B, n, n), and the (B,) sweeps each
    took.  Vectorised over the matrices and over the disjoint pairs of a step; a matrix that has
    converged is left as it is (its sweep count frozen), exactly as its thread block stops."""
    bsz, n = a.shape[0], a.shape[-1]
    if n == 0 or bsz == 0:
        return xp.zeros((bsz, n)), np.zeros(bsz, dtype=np.int64)
    A, m = _workspace(xp, a)
    frob2 = xp.sum(xp.abs(A.reshape(bsz, -1)) ** 2, axis=1)
    floor = (skip * xp.sqrt(frob2))[:, None]
    active = xp.ones(bsz, dtype=bool)
    sweeps = np.zeros(bsz, dtype=np.int64)
    off_mask = xp.asarray(~np.eye(m, dtype=bool))
    steps = tournament(m)
    for _ in range(max_sweeps):
        act_h = _host(active)
        if not act_h.any():
            break
        rotated = xp.zeros(bsz, dtype=bool)
        for pairs in steps:
            P, Q = xp.asarray(pairs[:, 0]), xp.asarray(pairs[:, 1])
            b = A[:, P, Q]                                                       # (B, m/2)
            mag = xp.abs(b)
            rot = (xp.asarray(pairs[:, 1] < n)[None, :] & (mag > 0) & (mag > floor)) & active[:, None]
            rotated = rotated | xp.any(rot, axis=1)
            safe = xp.where(rot, mag, 1.0)
            u = xp.where(rot, b / safe, 1.0 + 0j)
            theta = (xp.real(A[:, Q, Q]) - xp.real(A[:, P, P])) / (2.0 * safe)
            with np.errstate(over="ignore"):             # theta^2 = inf: t = 0, as in the kernel
                t = xp.where(theta >= 0, 1.0, -1.0) / (xp.abs(theta) + xp.sqrt(theta * theta + 1.0))
            c = xp.where(rot, 1.0 / xp.sqrt(t * t + 1.0), 1.0)
            s = xp.where(rot, t * c, 0.0)
            x, y = A[:, :, P], A[:, :, Q]                                       # columns (B, m, m/2)
            yu = xp.conj(u)[:, None, :] * y
            A[:, :, P] = c[:, None, :] * x - s[:, None, :] * yu
            A[:, :, Q] = s[:, None, :] * x + c[:, None, :] * yu
            x, y = A[:, P, :], A[:, Q, :]                                       # rows (B, m/2, m)
            yu = u[:, :, None] * y
            A[:, P, :] = c[:, :, None] * x - s[:, :, None] * yu
            A[:, Q, :] = s[:, :, None] * x + c[:, :, None] * yu
        sweeps[act_h] += 1
        off = xp.sum(xp.where(off_mask, xp.abs(A) ** 2, 0.0).reshape(bsz, -1), axis=1)
        active = active & (off > tol * tol * frob2) & rotated
    w = xp.real(xp.diagonal(A, axis1=1, axis2=2))[:, :n]
    return xp.sort(w, axis=1), sweeps


def _host(a):
    get = getattr(a, "get", None)
    return get() if get is not None and not isinstance(a, np.ndarray) else np.asarray(a)


class CudaJacobi:
    """The kernel compiled by CuPy (``cupy.RawModule``, NVRTC) on first use."""

    def __init__(self, cupy):
        self.cp = cupy
        self._fn = None

    def function(self):
        if self._fn is None:
            mod = self.cp.RawModule(code=SOURCE, options=("-std=c++14",))
            self._fn = mod.get_function("herm_jacobi_eigvals")
        return self._fn

    def __call__(self, a, max_sweeps: int = MAX_SWEEPS, tol: float = TOL, skip: float = SKIP):
        """Eigenvalues (B, n) ascending and sweeps (B,) of a CuPy Hermitian stack ``a``."""
        cp = self.cp
        bsz, n = a.shape[0], a.shape[-1]
        ws, m = _workspace(cp, a)
        if m // 2 > MAX_PAIRS:
            raise ValueError(f"a: blocks of {n} > {2 * MAX_PAIRS} rows are beyond this kernel")
        w = cp.empty((bsz, n), dtype=cp.float64)
        sweeps = cp.zeros(bsz, dtype=cp.int32)
        if bsz and n:
            self.function()((bsz,), (THREADS,), (ws, w, sweeps, np.int32(n), np.int32(m),
                                                  np.int32(max_sweeps), np.float64(tol), np.float64(skip)))
        return cp.sort(w, axis=1), sweeps
