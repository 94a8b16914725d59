"""Plain-NumPy versions of the ORIGINAL algorithms (google/svcca ``cca_core``, ``pwcca`` and the
SVCCA tutorial pipeline, Raghu et al. 2017 / Morcos et al. 2018), written from their published
description (``/work/shared/parity/README.txt``, ``DESIGN.md``), used as the speed baseline.

Conventions are the reference's: activations are NEURONS FIRST, ``acts1`` (m1, n), ``acts2``
(m2, n), and every step is done the way the reference does it, so the time measured is the
time a user of the original code pays:

``cca_reference(acts1, acts2, epsilon)``
    1. ``np.cov`` of the stacked (m1 + m2, n) activations (a copy of both inputs, and every
       cross block computed twice), split into the four blocks;
    2. each side's block divided by its largest absolute entry (the cross block by the
       geometric mean of the two), neurons with rescaled variance < ``epsilon`` dropped;
    3. ``+ epsilon * I``, ``np.linalg.pinv`` (an SVD), then the symmetric square root of that
       inverse through ``np.linalg.eigh`` (``V diag(sqrt(w)) V^T`` with an explicit diagonal);
    4. full ``np.linalg.svd`` of ``invsqrt_xx @ sigma_xy @ invsqrt_yy``.
    Returns a dict with ``coef`` (canonical correlations, descending, length
    min(kept1, kept2)), ``u``, ``v`` (full singular vectors), ``x_idxs``, ``y_idxs``,
    ``invsqrt_xx``, ``invsqrt_yy``, neuron means.

``svcca_reference(acts1, acts2, keep=0.99, epsilon)``
    Per side: centre, thin ``np.linalg.svd`` of the (m, n) data, keep the top k directions
    (float keep: smallest k whose singular values reach ``keep`` of their sum, the papers' rule;
    ``keep_rule="variance"``: of the sum of squares; int: k), project ``s_k * v_k`` (k, n),
    then ``cca_reference`` of the two projections.  Similarity: mean coefficient.

``pwcca_reference(acts1, acts2, epsilon)``
    ``compute_pwcca``: the CCA above, then on the side that keeps fewer neurons the
    "directions" ``u^T (acts - mean) + mean`` (k, n), a QR of their (n, k) transpose, weights
    ``sum_j |<q_i, acts_j>|`` normalised to 1, similarity ``sum_i w_i rho_i``.  Unlike the
    reference, the second branch indexes the second input (google/svcca PR #9 fixed), so it
    never crashes.

These are baselines, not library code: no input validation, float64 as NumPy promotes.
"""
from __future__ import annotations

import numpy as np


def _sqrt_psd(a):
    """Symmetric square root of a PSD matrix via eigh, as the reference writes it."""
    w, v = np.linalg.eigh(a)
    return np.dot(v, np.dot(np.diag(np.sqrt(w)), v.conj().T))


def cca_reference(acts1, acts2, epsilon: float = 1e-10) -> dict:
    m1 = acts1.shape[0]
    sigma = np.cov(np.vstack((acts1, acts2)))
    sxx = sigma[:m1, :m1]
    sxy = sigma[:m1, m1:]
    syy = sigma[m1:, m1:]
    xmax = np.max(np.abs(sxx))
    ymax = np.max(np.abs(syy))
    sxx = sxx / xmax
    syy = syy / ymax
    sxy = sxy / np.sqrt(xmax * ymax)
    x_idxs = np.diag(sxx) >= epsilon
    y_idxs = np.diag(syy) >= epsilon
    sxx = sxx[x_idxs][:, x_idxs]
    syy = syy[y_idxs][:, y_idxs]
    sxy = sxy[x_idxs][:, y_idxs]
    kx, ky = sxx.shape[0], syy.shape[0]
    if kx == 0 or ky == 0:
        return dict(coef=np.zeros(0), x_idxs=x_idxs, y_idxs=y_idxs)
    sxx = sxx + epsilon * np.eye(kx)
    syy = syy + epsilon * np.eye(ky)
    invsqrt_xx = _sqrt_psd(np.linalg.pinv(sxx))
    invsqrt_yy = _sqrt_psd(np.linalg.pinv(syy))
    arr = np.dot(invsqrt_xx, np.dot(sxy, invsqrt_yy))
    u, s, vh = np.linalg.svd(arr)
    return dict(coef=np.abs(s), u=u, v=vh.T, x_idxs=x_idxs, y_idxs=y_idxs,
                invsqrt_xx=invsqrt_xx, invsqrt_yy=invsqrt_yy,
                mean1=np.mean(acts1, axis=1, keepdims=True),
                mean2=np.mean(acts2, axis=1, keepdims=True))


def _svd_reduce(acts, keep, keep_rule):
    c = acts - np.mean(acts, axis=1, keepdims=True)
    _, s, vh = np.linalg.svd(c, full_matrices=False)
    if isinstance(keep, (int, np.integer)):
        k = int(keep)
    else:
        vals = np.asarray(s, dtype=np.float64)
        vals = vals ** 2 if keep_rule == "variance" else vals
        frac = np.cumsum(vals) / vals.sum()
        k = int(min(np.searchsorted(frac, keep, side="left") + 1, len(vals)))
    return k, s[:k, None] * vh[:k]


def svcca_reference(acts1, acts2, keep=0.99, keep_rule: str = "sum", epsilon: float = 1e-10) -> dict:
    k1, sv1 = _svd_reduce(acts1, keep, keep_rule)
    k2, sv2 = _svd_reduce(acts2, keep, keep_rule)
    r = cca_reference(sv1, sv2, epsilon)
    coef = r["coef"]
    return dict(coef=coef, similarity=float(np.mean(coef)), k1=k1, k2=k2)


def pwcca_reference(acts1, acts2, epsilon: float = 1e-10) -> dict:
    r = cca_reference(acts1, acts2, epsilon)
    coef = r["coef"]
    if r["x_idxs"].sum() <= r["y_idxs"].sum():
        acts, idxs, u, mean = acts1, r["x_idxs"], r["u"], r["mean1"]
    else:
        acts, idxs, u, mean = acts2, r["y_idxs"], r["v"], r["mean2"]
    a = acts[idxs]
    mk = mean[idxs]
    dirns = np.dot(u.T, a - mk) + mk                        # (k, n)
    q, _ = np.linalg.qr(dirns.T)                           # (n, k)
    weights = np.sum(np.abs(np.dot(q.T, a.T)), axis=1)
    weights = weights / np.sum(weights)
    return dict(similarity=float(np.sum(weights * coef)), weights=weights, coef=coef)


def linear_cka_reference(acts1, acts2) -> float:
    """Linear CKA the plain way (Kornblith et al. 2019): Frobenius norms of the centred
    cross-covariance over the two self-covariances, from the centred data."""
    x = acts1 - acts1.mean(axis=1, keepdims=True)
    y = acts2 - acts2.mean(axis=1, keepdims=True)
    return float(np.linalg.norm(x @ y.T) ** 2 / (np.linalg.norm(x @ x.T) * np.linalg.norm(y @ y.T)))
