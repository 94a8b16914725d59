"""The straightforward implementations of the measures of docs/measures.md on STORED activations
(samples first, (n, p) float64 arrays): what a user writes without the moments, or what the
peer libraries do (netrep's whitening, google/svcca's numpy_pls / numpy_pca, an SVD-based ridge
GCV, a null by simulating data).  The benchmark baselines of ``asv_bench/bench_measures.py``
and ``benchmarks/new_measures.py``; each returns the number fastcca reports.
"""
from __future__ import annotations

import numpy as np


def _centred(a):
    return a - a.mean(axis=0)


def shape_angular(x, y, alpha=0.5):
    """netrep LinearMetric(alpha) angle: partial whitening of each side on the data, then the
    nuclear norm of the whitened cross product."""
    def whiten(xc):
        lam, v = np.linalg.eigh(xc.T @ xc)
        lam = np.maximum(lam, 1e-7)
        d = alpha + (1 - alpha) * lam ** -0.5
        return xc @ ((v * d) @ v.T)
    xw, yw = whiten(_centred(x)), whiten(_centred(y))
    nuc = np.linalg.svd(xw.T @ yw, compute_uv=False).sum()
    return float(np.arccos(min(nuc / (np.linalg.norm(xw) * np.linalg.norm(yw)), 1.0)))


def procrustes(x, y):
    """Normalised orthogonal Procrustes distance on the centred data."""
    xc, yc = _centred(x), _centred(y)
    nuc = np.linalg.svd(xc.T @ yc, compute_uv=False).sum()
    return float(np.sqrt(max(2 - 2 * nuc / (np.linalg.norm(xc) * np.linalg.norm(yc)), 0.0)))


def pls(x, y):
    """google/svcca numpy_pls: np.cov of the stacked (neurons, datapoints) arrays, then an SVD
    of the cross block (the transposes are views: the reference's own layout)."""
    p = x.shape[1]
    cov = np.cov(x.T, y.T)
    return np.linalg.svd(cov[:p, p:], full_matrices=False)


def pca(x, y=None):
    """PCA of one side by a thin SVD of the centred (n, p) data (numpy_pca, scikit-learn)."""
    return np.linalg.svd(_centred(x), full_matrices=False, compute_uv=False)


def linear_predictivity(x, y, candidates=49):
    """Ridge R^2 both ways with the ridge chosen by GCV: a thin SVD of each predicting side
    (n p^2), then every candidate from the singular values (the textbook route)."""
    def one(a, b):
        ac, bc = _centred(a), _centred(b)
        u, s, _ = np.linalg.svd(ac, full_matrices=False)
        ub = u.T @ bc
        lam = s * s
        grid = lam.sum() / len(lam) * np.logspace(-8, 4, candidates)
        total = np.sum(bc * bc)
        n = len(a)
        best, r2 = np.inf, 0.0
        for r in grid:
            rss = total - np.sum((lam * (lam + 2 * r) / (lam + r) ** 2)[:, None] * ub * ub)
            df = np.sum(lam / (lam + r))
            gcv = rss / n / (1 - (1 + df) / n) ** 2
            if gcv < best:
                best, r2 = gcv, 1 - rss / total
        return r2
    return 0.5 * (one(x, y) + one(y, x))


def null_cca(x, y, draws=3, seed=0):
    """The null of mean CCA by simulating independent Gaussian data of the same shape and running
    the reference CCA (np.cov route) on each draw."""
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from baselines.reference_numpy import cca_reference
    rng = np.random.default_rng(seed)
    n, p = x.shape
    q = y.shape[1]
    out = []
    for _ in range(draws):
        a = rng.standard_normal((p, n))
        b = rng.standard_normal((q, n))
        out.append(cca_reference(a, b)["coef"].mean())
    return np.asarray(out)


def debiased_cka(x, y):
    """Debiased linear CKA on the stored activations in feature space (the Gram-free form of the
    unbiased HSIC on centred rows: ||Xc^T Yc||^2, traces and the squared row norms), the way a
    user without streaming statistics computes it at this n (the n x n Gram matrices would not fit)."""
    xc, yc = _centred(x), _centred(y)
    n = len(x)
    a, b = np.einsum("ij,ij->i", xc, xc), np.einsum("ij,ij->i", yc, yc)

    def hsic(cross2, tx, ty, ab):
        return cross2 - ab + tx * ty / ((n - 1) * (n - 2)) - 2 * ab / (n - 2)
    sxy, sxx, syy = xc.T @ yc, xc.T @ xc, yc.T @ yc
    hxy = hsic(np.sum(sxy ** 2), a.sum(), b.sum(), a @ b)
    return hxy / np.sqrt(hsic(np.sum(sxx ** 2), a.sum(), a.sum(), a @ a) * hsic(np.sum(syy ** 2), b.sum(), b.sum(), b @ b))


def jackknife_cca(acts1, acts2, groups=20):
    """Delete-one-group jackknife of mean CCA by re-running the reference CCA on the stored
    (neurons, datapoints) activations without every k-th datapoint (groups by index)."""
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from baselines.reference_numpy import cca_reference
    n = acts1.shape[1]
    reps = []
    for j in range(groups):
        keep = np.arange(n) % groups != j
        reps.append(cca_reference(acts1[:, keep], acts2[:, keep])["coef"].mean())
    reps = np.asarray(reps)
    return float(np.sqrt((groups - 1) / groups * np.sum((reps - reps.mean()) ** 2)))
