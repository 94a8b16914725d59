"""Canonical correlations from scatter blocks: the one piece of math every CCA-family measure
shares, written once on top of the backend primitives.

Regularisation (the ``eps`` and ``rcond`` semantics, pinned)
------------------------------------------------------------
Each side's scatter block ``S`` (k, k) is first rescaled by its largest absolute entry
(for a PSD block: the largest neuron variance), as the reference implementation does, so
``eps`` is *relative* and every result is invariant to rescaling either side:

1. neurons whose rescaled variance ``S_jj / max|S|`` is below ``eps`` are dropped;
2. the ridge ``eps * I`` is added: ``S_hat = S / max|S| + eps I``;
3. ``S_hat`` is whitened: a factor ``G`` with ``G^T S_hat G = I_r``.  Eigenvalues of
   ``S_hat`` below ``rcond * lambda_max`` (default ``rcond = k * machine epsilon``, the
   ``matrix_rank`` convention) are treated as zero: their directions leave the CCA, so
   constant or duplicated neurons never give NaN or LinAlgError; ``r`` is the whitened rank.

Data rank (``rank_tol``, default :data:`RANK_TOL` = 1e-12)
--------------------------------------------------------
The ridge lifts every direction above the floor, including the null directions of a
rank-deficient side (duplicated or linearly dependent neurons, fewer datapoints than neurons),
which then enter the CCA with coefficients ~0 whatever the data: ``cca(x, x)`` of a layer with
one duplicated neuron out of 13 would be 12/13.  So the rank is measured on the data's own
spectrum, before the ridge: the **data rank** of a side is the number of eigenvalues of
``S / max|S|`` (kept neurons) above ``rank_tol * lambda_max`` -- singular values of the centred
data above ``sqrt(rank_tol) = 1e-6`` of the largest.  Below that lie exact dependencies (~1e-16
in float64), float32 rounding of computed activations (~1e-15..1e-14) and directions a float64
scatter resolves to no better than 1e-4 relative.  By default the directions below it leave the
CCA (``G`` has no column for them) and ``rank`` counts the rest; ``drop=False`` (the public
``rank_tol=None``, the reference implementation's behaviour) keeps them, lifted by the ridge,
and only reports ``data_rank``.  A Cholesky factorisation of ``S / max|S| - rank_tol ||.||_inf I``
proves full data rank cheaply (it succeeds only if every eigenvalue exceeds
``rank_tol * lambda_max``); otherwise the ``eigh`` route counts the eigenvalues
(``lambda(S_hat) - eps``).

With ``eps = 1e-10`` (the default, as in the reference) this is the reference algorithm of
google/svcca ``cca_core.compute_ccas`` (which uses ``pinv`` and a symmetric square root) up to
rounding; ``eps = 0`` is exact CCA with a rank cutoff.

Routes: when the ridge dominates the floor (``eps >= rcond * ||S_hat||_inf``, an upper bound
on ``lambda_max``) no eigenvalue can be floored, and a Cholesky factor ``G = L^-T`` gives the
same canonical correlations at a fraction of an ``eigh``; otherwise ``G = V_r diag(lambda_r^-1/2)``
from ``eigh``.  ``symmetric=True`` forces ``G = V diag(f(lambda)) V^T``, the reference's
``S_hat^-1/2``, whose singular vectors the reference PWCCA formula needs.

The canonical correlations are the singular values of ``M = G_x^T S_xy_hat G_y``,
``S_xy_hat = S_xy / sqrt(max|S_xx| max|S_yy|)``, clipped to [0, 1]; there are
``min(r_x, r_y)`` of them.  Canonical weights (unit scatter): ``A = G_x U / sqrt(max|S_xx|)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS64 = np.finfo(np.float64).eps
#: default data-rank tolerance: eigenvalues of a side's rescaled scatter at or below this
#: fraction of the largest are rank deficiency (see the module docstring)
RANK_TOL = 1e-12


def resolve_rank_tol(rank_tol) -> tuple[float, bool]:
    """The public ``rank_tol`` (a validated float, or None) -> (tolerance, drop): None keeps
    the deficient directions (the reference's behaviour) and reports them with the default
    tolerance."""
    return (RANK_TOL, False) if rank_tol is None else (float(rank_tol), True)


@dataclass
class Whitening:
    """One side's whitening: neurons ``kept`` (host bool mask, length p), the rescaling
    ``scale = max|S|``, and the factor ``G`` (k_kept, rank), kept implicitly for the
    Cholesky route (``chol`` lower factor) or explicitly (``factor``).  ``data_rank``: the
    rank of the data's own scatter on the kept neurons (module docstring), ``<= rank`` when
    deficient directions were kept (``drop=False``), ``== rank`` otherwise unless ``rcond``
    floored more."""
    kept: np.ndarray
    scale: float
    rank: int
    route: str
    chol: object = None
    factor: object = None
    data_rank: int = 0

    def apply_t(self, be, b):
        """``G^H b`` for b (k_kept, m) (``G^T`` for real blocks)."""
        if self.route == "cholesky":
            return be.solve_lower(self.chol, b)
        return self.factor.T.conj() @ b

    def apply(self, be, u):
        """``G u`` for u (rank, m): the canonical weights of the rescaled problem."""
        if self.route == "cholesky":
            return be.solve_lower(self.chol, u, trans=True)
        return self.factor @ u

    def max_variance_inflation(self, be, s) -> float:
        """``max_i S_hat_ii (G G^H)_ii`` over the kept neurons, for ``s`` the side's unscaled
        scatter block (p, p).  With ``G G^H = S_hat^-1`` (restricted to the whitened rank) this
        is the largest variance inflation factor ``1 / (1 - R_i^2)``: how nearly neuron i is a
        linear combination of the others.  It lies within a factor k of ``1 / lambda_min`` of
        the neurons' correlation matrix, the factor by which whitening amplifies an error of
        relative size u in every scatter entry (``u sqrt(S_ii S_jj)``, what a float32 product
        makes) into the canonical correlations.  0 for an empty side."""
        xp = be.xp
        if self.rank == 0:
            return 0.0
        k = int(self.kept.sum())
        if self.route == "cholesky":
            linv = be.solve_lower(self.chol, xp.eye(k, dtype=self.chol.dtype))
            ggh = xp.sum(xp.abs(linv) ** 2, axis=0)          # G = L^-H: columns of L^-1
        else:
            ggh = xp.sum(xp.abs(self.factor) ** 2, axis=1)
        idx = xp.asarray(np.flatnonzero(self.kept))
        d = xp.real(xp.diagonal(s))[idx] / self.scale
        return float(xp.max(d * ggh))


def whiten(be, s, eps: float, rcond: float | None = None, symmetric: bool = False,
           rank_tol: float = RANK_TOL, drop: bool = True) -> Whitening:
    """Regularised whitening of a symmetric PSD scatter block ``s`` (p, p); see module doc.
    ``rank_tol``/``drop``: the data-rank rule (module doc; :func:`resolve_rank_tol`)."""
    xp = be.xp
    p = s.shape[0]
    scale = float(xp.max(xp.abs(s))) if p else 0.0
    if scale <= 0.0 or not np.isfinite(scale):
        # every neuron constant: nothing to correlate
        return Whitening(np.zeros(p, bool), 1.0, 0, "empty", factor=xp.zeros((0, 0)))
    diag = be.to_numpy(xp.diagonal(s)) / scale
    kept = diag >= eps
    k = int(kept.sum())
    if k == 0:
        return Whitening(kept, scale, 0, "empty", factor=xp.zeros((0, 0)))
    idx = np.flatnonzero(kept)
    sk = s if k == p else s[xp.asarray(idx)][:, xp.asarray(idx)]
    sk = sk / scale
    rc = k * _EPS64 if rcond is None else float(rcond)
    rowsum = float(xp.max(xp.sum(xp.abs(sk), axis=1)))      # ||S_data||_inf >= lambda_max
    eye = xp.arange(k)
    full = False
    # ||S_hat||_inf = ||S_data||_inf + eps bounds lambda_max: if eps clears the floor for it,
    # none is floored, and a Cholesky factor whitens -- once the data rank is known to be full
    if not symmetric and eps > 0 and eps >= rc * (rowsum + eps):
        full = _full_data_rank(be, sk, rank_tol * rowsum)
    sk[eye, eye] += eps
    if full:
        l = be.cholesky(sk)
        if l is not None:
            return Whitening(kept, scale, k, "cholesky", chol=l, data_rank=k)
    w, v = be.eigh(sk)
    w_h = be.to_numpy(w)
    floor = rc * max(float(w_h[-1]), 0.0)
    good = w_h > floor
    # the data's own eigenvalues are those of S_hat less the ridge
    data_ok = (w_h - eps) > rank_tol * max(float(w_h[-1]) - eps, 0.0)
    data_rank = k if full else int(data_ok.sum())
    if drop and not full:
        good &= data_ok
    good = xp.asarray(good)
    r = int(good.sum())
    inv = xp.where(good, 1.0 / xp.sqrt(xp.where(good, w, 1.0)), 0.0)
    if symmetric:
        factor = (v * inv) @ v.T.conj()
    else:
        # eigh returns ascending eigenvalues: the surviving ones are the last r
        factor = v[:, k - r:] * inv[k - r:]
    return Whitening(kept, scale, r, "eigh-symmetric" if symmetric else "eigh", factor=factor,
                     data_rank=data_rank)


def _full_data_rank(be, sk, shift: float) -> bool:
    """Whether every eigenvalue of the symmetric block ``sk`` exceeds ``shift`` (a Cholesky
    factorisation of ``sk - shift I`` exists): a cheap proof of full data rank."""
    xp = be.xp
    return be.cholesky(sk - shift * xp.eye(sk.shape[0], dtype=sk.dtype)) is not None


@dataclass
class CanonicalSolution:
    """Canonical correlations ``rho`` (descending, clipped to [0, 1], length min(r_x, r_y)),
    the two whitenings, and when asked the singular vectors ``u`` (r_x', m), ``v`` (r_y', m)
    of the whitened cross block, columns matched to ``rho``."""
    rho: np.ndarray
    wx: Whitening
    wy: Whitening
    u: object = None
    v: object = None

    def weights(self, be, side: str = "x"):
        """Canonical weights of the rescaled problem restricted to kept neurons,
        ``G u`` (k_kept, m), for ``side`` in {"x", "y"}."""
        w, vecs = (self.wx, self.u) if side == "x" else (self.wy, self.v)
        return w.apply(be, vecs)


def cross_block(be, sxy, wx: Whitening, wy: Whitening):
    """The rescaled cross scatter on kept neurons, ``S_xy[kx, ky] / sqrt(sx sy)``."""
    xp = be.xp
    kx, ky = wx.kept, wy.kept
    b = sxy
    if not kx.all():
        b = b[xp.asarray(np.flatnonzero(kx))]
    if not ky.all():
        b = b[:, xp.asarray(np.flatnonzero(ky))]
    return b / np.sqrt(wx.scale * wy.scale)


def canonical_correlations(be, sxx, syy, sxy, *, eps: float, rcond: float | None = None,
                           vectors: bool = False, symmetric: bool = False,
                           rank_tol: float = RANK_TOL, drop: bool = True) -> CanonicalSolution:
    """Canonical correlations of the scatter blocks (see module doc for every convention).

    ``vectors``: False (coefficients only), True (both sides' singular vectors, one SVD), or
    ``"x"`` / ``"y"`` (that side's only, from an eigendecomposition of the Gram of M).
    ``rank_tol``, ``drop``: the data-rank rule (:func:`whiten`)."""
    wx = whiten(be, sxx, eps, rcond, symmetric, rank_tol, drop)
    wy = whiten(be, syy, eps, rcond, symmetric, rank_tol, drop)
    return correlate(be, wx, wy, sxy, vectors=vectors)


def correlate(be, wx: Whitening, wy: Whitening, sxy, *, vectors: bool | str = False) -> CanonicalSolution:
    """The pair half of :func:`canonical_correlations`: canonical correlations of the cross
    block ``sxy`` (p, q) between two sides already whitened (:func:`whiten`, once per side, so
    a grid of layers whitens each layer once).  ``vectors`` as in
    :func:`canonical_correlations`."""
    m = min(wx.rank, wy.rank)
    if m == 0:
        # empty vectors shaped (rank, 0), so canonical weights of the other side are (p, 0)
        zx, zy = be.xp.zeros((wx.rank, 0)), be.xp.zeros((wy.rank, 0))
        return CanonicalSolution(np.zeros(0), wx, wy, zx if vectors else None, zy if vectors else None)
    b = cross_block(be, sxy, wx, wy)
    mm = wy.apply_t(be, wx.apply_t(be, b).T.conj()).T.conj()   # G_x^H B G_y, (r_x, r_y)
    if vectors in ("x", "y"):
        # One side's singular vectors only (PWCCA): eigenvectors of M M^H (or M^H M), ~3x cheaper
        # than an SVD with vectors.  The coefficients are the norms ||M^H u_i|| (||M v_i||), not
        # sqrt(eigenvalue): a computed eigenvector's error lies (to first order) orthogonal to
        # u_i, so the norm is accurate to ~eps ||M|| absolute, where sqrt(lambda) loses half the
        # digits near 0 (~1e-8).  One (m x m) product instead of a second decomposition (svdvals
        # cost as much as the eigh: ~55 ms at 512).
        g = mm @ mm.T.conj() if vectors == "x" else mm.T.conj() @ mm
        _, vecs = be.eigh(g)
        vecs = vecs[:, ::-1][:, :m]
        images = vecs.T.conj() @ mm if vectors == "x" else mm @ vecs       # (m, r_y) / (r_x, m)
        s = be.to_numpy(be.xp.linalg.norm(images, axis=1 if vectors == "x" else 0))
        order = np.argsort(-s, kind="stable")
        if np.any(order != np.arange(m)):
            vecs = vecs[:, be.xp.asarray(order)]
        rho = np.clip(s[order], 0.0, 1.0)
        return CanonicalSolution(rho, wx, wy, vecs if vectors == "x" else None, vecs if vectors == "y" else None)
    if vectors:
        u, s, vh = be.svd(mm)
        rho = np.clip(be.to_numpy(s[:m]), 0.0, 1.0)
        return CanonicalSolution(rho, wx, wy, u[:, :m], vh[:m].T.conj())
    s = be.svdvals(mm)
    return CanonicalSolution(np.clip(be.to_numpy(s[:m]), 0.0, 1.0), wx, wy)


# ---------------------------------------------------------------------------------------------
# Batched variant: many small blocks at once (one per DFT frequency of a conv layer).
# ---------------------------------------------------------------------------------------------
from contextlib import nullcontext  # noqa: E402

from .backend import capability  # noqa: E402

@dataclass
class BatchedWhitening:
    """The whitenings of a stack of B blocks (p, p), each exactly as :func:`whiten` would
    compute it (same ``eps``/``rcond`` semantics, block by block), stored padded so that every
    block has the same shape:

    ``kept`` (B, p) bool, ``scale`` (B,) ``max|S_b|``, ``rank`` (B,) whitened ranks,
    ``route`` (B,) ``"cholesky" | "eigh" | "empty"``, and ``factor`` (B, p, p): ``G_b`` with
    ``G_b^H S_hat_b G_b = diag(1 (rank_b times), 0, ...)`` on the kept neurons, zero rows for
    dropped neurons and zero columns for floored directions (so products with it need no
    ragged indexing, and the zero columns only add exact zeros)."""
    kept: np.ndarray
    scale: np.ndarray
    rank: np.ndarray
    route: np.ndarray
    factor: object
    #: (B,) data rank of each block (:func:`whiten`'s ``data_rank``)
    data_rank: np.ndarray = None
    #: (B, p) the diagonal of ``factor`` when every block is diagonal (``diagonal=True``)
    diag: object = None


def whiten_batched(be, s, eps: float, rcond: float | None = None, valid=None,
                   rank_tol: float = RANK_TOL, drop: bool = True, diagonal: bool = False) -> BatchedWhitening:
    """Regularised whitening of every block of a stack ``s`` (B, p, p) of Hermitian PSD scatter
    blocks (real or complex), with :func:`whiten`'s semantics applied per block: rescale by
    ``max|S_b|``, drop neurons with ``Re(S_b,jj) / max|S_b| < eps``, add ``eps I``, then a
    Cholesky factor when ``eps >= rcond * ||S_hat_b||_inf`` and the block is PD, else ``eigh``
    with eigenvalues ``<= rcond * lambda_max`` floored; ``rcond`` defaults to
    ``k_b * machine eps`` with ``k_b`` the block's kept count.

    ``valid`` (B, p) bool, optional, marks padding: invalid neurons are never kept nor counted
    (for stacks of blocks of different true sizes padded to one shape).

    ``rank_tol``, ``drop``: the data-rank rule of :func:`whiten`, per block.

    ``diagonal=True`` promises that every block is diagonal (SVCCA's reduced blocks
    ``diag(lambda)``): its eigenvalues are its diagonal, so the ``eigh`` route's rules (floor,
    data rank) are applied to it entry by entry with no decomposition, route ``"diagonal"``
    (the Cholesky route would give the same whitening: ``L = diag(sqrt(.))``).

    All blocks with the same kept mask are decomposed together by batched calls (one each for
    the Cholesky factors, their inverses and ``eigh`` of the rest).  The full data rank that the
    Cholesky route needs is proved from the inverse factor already in hand
    (``lambda_min(S_hat) >= 1 / ||L^-1||_F^2``); the blocks that bound cannot settle take
    :func:`whiten`'s exact test (a Cholesky factorisation of ``S_data - rank_tol ||S_data||_inf I``),
    so every block gets the route, rank and data rank :func:`whiten` gives it.
    """
    xp = be.xp
    nb, p = s.shape[0], s.shape[-1]
    mag = xp.abs(s)                     # once: the scale and the row sums both read it
    absmax = be.to_numpy(xp.max(mag.reshape(nb, -1), axis=1)) if p else np.zeros(nb)
    ok = (absmax > 0) & np.isfinite(absmax)
    scale = np.where(ok, absmax, 1.0)
    diag = be.to_numpy(xp.real(xp.diagonal(s, axis1=1, axis2=2))) / scale[:, None]
    kept = (diag >= eps) & ok[:, None]
    if valid is not None:
        kept &= np.asarray(valid, dtype=bool)
    if diagonal:
        return _whiten_diagonal(be, s, diag, kept, scale, eps, rcond, rank_tol, drop)
    factor = None                       # allocated when first needed (often never: see below)
    rank = np.zeros(nb, dtype=np.int64)
    data_rank = np.zeros(nb, dtype=np.int64)
    route = np.full(nb, "empty", dtype=object)
    if nb == 0 or not kept.any():
        return BatchedWhitening(kept, scale, rank, route, xp.zeros(s.shape, dtype=s.dtype), data_rank)

    def take(a, rows):
        """``a[rows]`` (host index array), without a copy when ``rows`` is every block."""
        return a if len(rows) == a.shape[0] else a[xp.asarray(rows)]

    masks, group = np.unique(kept, axis=0, return_inverse=True)
    group = np.asarray(group).reshape(-1)
    for gi, mask in enumerate(masks):
        k = int(mask.sum())
        if k == 0:
            continue
        members = np.flatnonzero(group == gi)
        idx = np.flatnonzero(mask)
        mi, ii = xp.asarray(members), xp.asarray(idx)
        whole = k == p

        def part(a):
            a = take(a, members)
            return a if whole else a[:, ii][:, :, ii]
        sk = part(s) / xp.asarray(scale[members])[:, None, None]
        rc = k * _EPS64 if rcond is None else float(rcond)
        g = None                        # the group's factors G^H... filled route by route
        done = np.zeros(len(members), dtype=bool)
        full = np.zeros(len(members), dtype=bool)
        ar = xp.arange(k)
        cand = np.zeros(0, dtype=np.int64)
        if eps > 0:
            # ||S_hat||_inf = ||S_data||_inf + eps bounds lambda_max: if eps clears the floor for
            # it, none is floored; the Cholesky route then needs a proof of full data rank
            rowsum = be.to_numpy(xp.max(xp.sum(part(mag), axis=2), axis=1)) / scale[members]
            cand = np.flatnonzero(eps >= rc * (rowsum + eps))
        sk[:, ar, ar] += eps
        if cand.size:
            l, okc = be.cholesky_batched(take(sk, cand))
            good = cand[okc]
            linv = None
            if good.size:
                linv = be.inv_lower_batched(take(l, np.flatnonzero(okc)))
                # full data rank, proved from the factor in hand: lambda_min(S_hat) >=
                # 1 / trace(S_hat^-1) = 1 / ||L^-1||_F^2, and the data's eigenvalues are S_hat's
                # less eps (half the bound: margin for rounding).  Blocks it cannot prove take
                # the exact test below, as in ``whiten``.
                tr = be.to_numpy(_squared_norms(xp, linv))
                full[good[0.5 / tr - eps > rank_tol * rowsum[good]]] = True
            rest = cand[~full[cand]]
            if rest.size:
                # the exact test of ``whiten``: S_data - rank_tol ||S_data||_inf I is PD
                shifted = sk[xp.asarray(rest)]
                shifted[:, ar, ar] -= xp.asarray(eps + rank_tol * rowsum[rest])[:, None]
                full[rest[be.cholesky_batched(shifted)[1]]] = True
            use = full[good]
            if use.any():
                pick = good[use]
                gsel = take(linv, np.flatnonzero(use)).conj().transpose(0, 2, 1)      # G = L^-H
                if len(pick) == len(members):
                    g = gsel
                else:
                    g = xp.zeros(sk.shape, dtype=sk.dtype)
                    g[xp.asarray(pick)] = gsel
                done[pick] = True
                rank[members[pick]] = k
                data_rank[members[pick]] = k
                route[members[pick]] = "cholesky"
        rest = np.flatnonzero(~done)
        if rest.size:
            w, v = be.eigh(take(sk, rest))
            w_h = be.to_numpy(w)
            floor = rc * np.maximum(w_h[:, -1], 0.0)
            good = w_h > floor[:, None]
            # the data's own eigenvalues are those of S_hat less the ridge
            data_ok = (w_h - eps) > rank_tol * np.maximum(w_h[:, -1] - eps, 0.0)[:, None]
            data_ok |= full[rest][:, None]
            if drop:
                good &= data_ok
            inv = np.where(good, 1.0 / np.sqrt(np.where(good, w_h, 1.0)), 0.0)
            ge = v * xp.asarray(inv)[:, None, :]
            if len(rest) == len(members):
                g = ge
            else:
                if g is None:
                    g = xp.zeros(sk.shape, dtype=sk.dtype)
                g[xp.asarray(rest)] = ge
            rank[members[rest]] = good.sum(axis=1)
            data_rank[members[rest]] = data_ok.sum(axis=1)
            route[members[rest]] = "eigh"
        if whole and len(members) == nb:
            factor = g
            continue
        if factor is None:
            factor = xp.zeros(s.shape, dtype=s.dtype)
        if whole:
            factor[mi] = g
        else:
            factor[mi[:, None, None], ii[None, :, None], ii[None, None, :]] = g
    if factor is None:
        factor = xp.zeros(s.shape, dtype=s.dtype)
    return BatchedWhitening(kept, scale, rank, route, factor, data_rank)


def _whiten_diagonal(be, s, diag, kept, scale, eps, rcond, rank_tol, drop) -> BatchedWhitening:
    """:func:`whiten_batched` of a stack of diagonal blocks: the ``eigh`` route's rules on the
    rescaled diagonal ``diag`` (B, p) (host), kept entries only."""
    xp = be.xp
    nb, p = kept.shape
    k = kept.sum(axis=1)
    w = np.where(kept, diag + eps, 0.0)                  # eigenvalues of S_hat (kept entries)
    top = np.max(w, axis=1, initial=0.0)
    rc = k * _EPS64 if rcond is None else np.full(nb, float(rcond))
    good = kept & (w > (rc * np.maximum(top, 0.0))[:, None])
    data_ok = kept & ((w - eps) > (rank_tol * np.maximum(top - eps, 0.0))[:, None])
    if drop:
        good &= data_ok
    inv = np.where(good, 1.0 / np.sqrt(np.where(good, w, 1.0)), 0.0)
    factor = xp.zeros(s.shape, dtype=s.dtype)
    ar = xp.arange(p)
    factor[:, ar, ar] = xp.asarray(inv.astype(s.dtype))
    route = np.where(k > 0, "diagonal", "empty").astype(object)
    return BatchedWhitening(kept, scale, good.sum(axis=1), route, factor, data_ok.sum(axis=1),
                            diag=xp.asarray(inv))


def _squared_norms(xp, a):
    """(B,) squared Frobenius norms of a stack (real or complex), without complex ``abs``."""
    flat = a.reshape(a.shape[0], -1)
    if xp.iscomplexobj(flat):
        return xp.sum(flat.real ** 2, axis=1) + xp.sum(flat.imag ** 2, axis=1)
    return xp.sum(flat ** 2, axis=1)


def batched_max_variance_inflation(be, bw: BatchedWhitening, s) -> float:
    """:meth:`Whitening.max_variance_inflation` over every block of a stack: the largest
    ``S_hat_b,ii (G_b G_b^H)_ii`` over blocks b and kept neurons i (``s`` the unscaled stack
    (B, p, p); ``bw.factor`` is explicit, zero where nothing is kept)."""
    xp = be.xp
    if not bw.kept.any():
        return 0.0
    d = be.to_numpy(xp.real(xp.diagonal(s, axis1=1, axis2=2))) / bw.scale[:, None]
    ggh = be.to_numpy(xp.sum(xp.abs(bw.factor) ** 2, axis=2))
    return float(np.max(np.where(bw.kept, d * ggh, 0.0)))


@dataclass
class BatchedCanonicalSolution:
    """Canonical correlations of B block problems: ``rho`` (B, m) with m = min(p, q), each row
    descending in [0, 1], valid in its first ``count[b] = min(rank_x, rank_y)`` entries and NaN
    after them; the two :class:`BatchedWhitening`."""
    rho: np.ndarray
    count: np.ndarray
    wx: BatchedWhitening
    wy: BatchedWhitening


def canonical_correlations_batched(be, sxx, syy, sxy, *, eps: float, rcond: float | None = None,
                                   valid_x=None, valid_y=None, rank_tol: float = RANK_TOL,
                                   drop: bool = True, diagonal: bool = False) -> BatchedCanonicalSolution:
    """Canonical correlations of a stack of scatter blocks ``sxx`` (B, p, p), ``syy`` (B, q, q),
    ``sxy`` (B, p, q) (real or complex Hermitian, ``sxy = X^H Y``), each block exactly as
    :func:`canonical_correlations` would treat it: singular values of
    ``M_b = G_x,b^H S_xy,b G_y,b / sqrt(scale_x,b scale_y,b)``, clipped to [0, 1].
    ``diagonal=True``: ``sxx`` and ``syy`` are diagonal (:func:`whiten_batched`), so ``M_b`` is
    a row and column scaling of ``S_xy,b``."""
    with batched_region(be):
        wx, wy = both_sides(be, lambda: whiten_batched(be, sxx, eps, rcond, valid_x, rank_tol, drop, diagonal),
                            lambda: whiten_batched(be, syy, eps, rcond, valid_y, rank_tol, drop, diagonal))
        return correlate_batched(be, wx, wy, sxy, diagonal=diagonal)


def batched_region(be):
    """The backend's context for many small batched calls (the CPU: BLAS on one thread), or a
    no-op."""
    region = capability(be, "batched_region")
    return region() if region is not None else nullcontext()


def both_sides(be, f, g):
    """``(f(), g())``: two independent per-side computations (the two sides' whitenings or
    eigendecompositions), on two threads where the backend offers it (the CPU's ``run_pair``)."""
    both = capability(be, "run_pair")
    return both(f, g) if both is not None else (f(), g())


def correlate_batched(be, wx: BatchedWhitening, wy: BatchedWhitening, sxy, *,
                      diagonal: bool = False) -> BatchedCanonicalSolution:
    """The pair half of :func:`canonical_correlations_batched`: the canonical correlations of
    the cross stack ``sxy`` (B, p, q) between two stacks already whitened
    (:func:`whiten_batched`, once per side)."""
    xp = be.xp
    with batched_region(be):
        nb = wx.kept.shape[0]
        m = min(wx.kept.shape[-1], wy.kept.shape[-1])
        count = np.minimum(wx.rank, wy.rank)
        rho = np.full((nb, m), np.nan)
        if nb == 0 or m == 0:
            return BatchedCanonicalSolution(rho, count, wx, wy)
        b = sxy / xp.asarray(np.sqrt(wx.scale * wy.scale))[:, None, None]
        if diagonal:
            mm = b * wx.diag[:, :, None] * wy.diag[:, None, :]
        else:
            mm = be.block_matmul(wx.factor.conj().transpose(0, 2, 1), be.block_matmul(b, wy.factor))
        s = np.clip(be.to_numpy(be.svdvals(mm)), 0.0, 1.0)
    valid = np.arange(m)[None, :] < count[:, None]
    rho[valid] = s[:, :m][valid]
    return BatchedCanonicalSolution(rho, count, wx, wy)
