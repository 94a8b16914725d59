"""The extra streamable statistics of the unbiased HSIC estimator (Song, Smola, Gretton, Bedo &
Borgwardt 2012, "Feature selection via dependence maximization", JMLR 13, Theorem 1) with linear
kernels, kept by ``Moments(debiased_cka=True)``, and the estimator itself.

With Gram matrices ``K = X X^T``, ``L = Y Y^T`` and their diagonals zeroed (``K~``, ``L~``),

    HSIC_u(K, L) = [tr(K~ L~) + 1^T K~ 1 1^T L~ 1 / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1] / (n (n-3)).

It does not change when X or Y is translated, so it may be evaluated on rows centred on the
mean.  There ``1^T K = 0`` and, with ``a_i = |x~_i|^2``, ``b_i = |y~_i|^2``:

    tr(K~ L~) = ||Sxy||_F^2 - sum_i a_i b_i,   1^T K~ 1 = -tr Sxx,   1^T K~ L~ 1 = sum_i a_i b_i,

so beyond the moments it needs three numbers, ``A2 = sum a_i^2``, ``B2 = sum b_i^2`` and
``AB = sum a_i b_i``.  To merge parts exactly (Chan's rule moves each part's centre to the joint
mean), they need four vectors more, ``ux = sum a_i x~_i``, ``vx = sum b_i x~_i``,
``uy = sum a_i y~_i``, ``vy = sum b_i y~_i``: moving the centre by ``d`` (x) and ``e`` (y),
``a_i -> a_i - 2 x~_i.d + |d|^2`` and, with ``sum x~_i = 0``,

    A2 -> A2 + 4 d^T Sxx d + n |d|^4 - 4 d.ux + 2 |d|^2 tr Sxx
    AB -> AB - 2 e.uy - 2 d.vx + 4 d^T Sxy e + |e|^2 tr Sxx + |d|^2 tr Syy + n |d|^2 |e|^2
    ux -> ux - 2 Sxx d - (tr Sxx) d - n |d|^2 d         vx -> vx - 2 Sxy e - (tr Syy) d - n |e|^2 d
    uy -> uy - 2 Syx d - (tr Sxx) e - n |d|^2 e         vy -> vy - 2 Syy e - (tr Syy) e - n |e|^2 e

(B2 as A2 with y's), a closed set: memory O(p + q), a batch costs O(b (p + q)) on top of its
products.  Units: a side held in units ``2**e`` (``fastcca.kernels._scale``) has ``a`` in ``4**e_x``, so
``A2`` in ``16**e_x``, ``AB`` in ``4**(e_x + e_y)``, ``ux`` in ``8**e_x``, ``vx`` in
``2**e_x 4**e_y`` -- :meth:`HsicStats.rescaled` moves them with the state.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels import _scale

#: the fields saved with a Moments (``hsic_<name>``)
FIELDS = ("a2", "b2", "ab", "ux", "vx", "uy", "vy")


@dataclass
class HsicStats:
    """``A2, B2, AB`` (floats) and ``ux, vx`` (p,), ``uy, vy`` (q,) (backend arrays), about the
    accumulator's own mean, in its power-of-two units (module docstring)."""
    a2: float
    b2: float
    ab: float
    ux: object
    vx: object
    uy: object
    vy: object

    @classmethod
    def of_batch(cls, be, xc, yc) -> "HsicStats":
        """The statistics of a batch centred on its own mean (``xc`` (b, p), ``yc`` (b, q);
        float64 or float32 arrays of the backend, in the batch's units)."""
        xp = be.xp
        a = (xc * xc).sum(axis=1, dtype=xp.float64)
        b = a if yc is xc else (yc * yc).sum(axis=1, dtype=xp.float64)
        ux, vx = xc.T @ a, xc.T @ b
        uy, vy = (ux, vx) if yc is xc else (yc.T @ a, yc.T @ b)
        return cls(float(a @ a), float(b @ b), float(a @ b), ux.astype(xp.float64), vx.astype(xp.float64),
                   uy.astype(xp.float64), vy.astype(xp.float64))

    @classmethod
    def zeros(cls, xp, p: int, q: int) -> "HsicStats":
        return cls(0.0, 0.0, 0.0, xp.zeros(p), xp.zeros(p), xp.zeros(q), xp.zeros(q))

    def copy(self) -> "HsicStats":
        return HsicStats(self.a2, self.b2, self.ab, self.ux.copy(), self.vx.copy(), self.uy.copy(), self.vy.copy())

    def rescaled(self, kx: int, ky: int) -> "HsicStats":
        """The statistics after the state's units grew by ``2**kx`` (x) and ``2**ky`` (y)
        (exact powers of two; a new object when something moves)."""
        if not (kx or ky):
            return self
        f = _scale.pow2
        return HsicStats(self.a2 * f(-4 * kx), self.b2 * f(-4 * ky), self.ab * f(-2 * kx - 2 * ky),
                         _scale.scale_pow2(self.ux, -3 * kx), _scale.scale_pow2(self.vx, -kx - 2 * ky),
                         _scale.scale_pow2(self.uy, -2 * kx - ky), _scale.scale_pow2(self.vy, -3 * ky))

    def shifted(self, be, n: int, sxx, syy, sxy, d, e) -> "HsicStats":
        """The statistics about ``mean + (d, e)`` of ``n`` rows whose own centred scatter blocks
        are ``sxx``, ``syy``, ``sxy`` (module docstring)."""
        xp = be.xp
        dd, ee = float(d @ d), float(e @ e)
        tx, ty = float(xp.trace(sxx)), float(xp.trace(syy))
        sd, se = sxx @ d, syy @ e
        dse = float(d @ (sxy @ e))
        a2 = self.a2 + 4 * float(d @ sd) + n * dd * dd - 4 * float(d @ self.ux) + 2 * dd * tx
        b2 = self.b2 + 4 * float(e @ se) + n * ee * ee - 4 * float(e @ self.vy) + 2 * ee * ty
        ab = (self.ab - 2 * float(e @ self.uy) - 2 * float(d @ self.vx) + 4 * dse + ee * tx + dd * ty
              + n * dd * ee)
        ux = self.ux - 2 * sd - (tx + n * dd) * d
        vx = self.vx - 2 * (sxy @ e) - (ty + n * ee) * d
        uy = self.uy - 2 * (sxy.T @ d) - (tx + n * dd) * e
        vy = self.vy - 2 * se - (ty + n * ee) * e
        return HsicStats(a2, b2, ab, ux, vx, uy, vy)

    def __add__(self, other: "HsicStats") -> "HsicStats":
        return HsicStats(self.a2 + other.a2, self.b2 + other.b2, self.ab + other.ab, self.ux + other.ux,
                         self.vx + other.vx, self.uy + other.uy, self.vy + other.vy)


def merged(be, na: int, sa: tuple, ha: HsicStats, nb: int, sb: tuple, hb: HsicStats, dx, dy) -> HsicStats:
    """The statistics of two parts about their joint mean: part a (``na`` rows, own centred
    blocks ``sa = (sxx, syy, sxy)``), part b likewise, ``dx, dy = mean_b - mean_a`` (both parts
    in the same units).  Call before the blocks themselves are merged."""
    n = na + nb
    return (ha.shifted(be, na, *sa, dx * (nb / n), dy * (nb / n))
            + hb.shifted(be, nb, *sb, dx * (-na / n), dy * (-na / n)))


def unbiased_hsic(n: int, cross2: float, tx: float, ty: float, ab: float) -> float:
    """``n (n - 3) HSIC_u`` from centred statistics: ``cross2 = ||Sxy||_F^2``, ``tx = tr Sxx``,
    ``ty = tr Syy``, ``ab = sum_i a_i b_i`` (for HSIC(K, K): ``||Sxx||_F^2``, ``tx``, ``tx``,
    ``A2``).  The common factor ``1 / (n (n - 3))`` cancels in CKA and is left out."""
    return cross2 - ab + tx * ty / ((n - 1) * (n - 2)) - 2.0 * ab / (n - 2)


def as_host(be, h: HsicStats) -> dict:
    """The statistics as host arrays, for files."""
    return {f"hsic_{k}": (np.asarray(getattr(h, k), dtype=np.float64) if k in ("a2", "b2", "ab")
                          else be.to_numpy(getattr(h, k))) for k in FIELDS}
