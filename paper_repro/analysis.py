"""Similarity analyses shared by several figures, built on fastcca (defined once here)."""
from __future__ import annotations

import numpy as np

import fastcca


def svcca_directions(x: np.ndarray, y: np.ndarray, keep=0.99, keep_rule: str = "sum",
                     backend: str = "auto") -> dict:
    """SVCCA of x (n, p) and y (n, q) with the directions themselves (Raghu et al. 2017, sec. 2),
    from one ``fastcca.svcca(..., directions=True)`` (``keep``: the papers' 0.99 of the sum of
    singular values, or an int).

    Returns a dict of float64 arrays:
      rho (m,) descending, m = min(k_x, k_y); k_x, k_y; similarity (mean rho);
      sv_x (p,), sv_y (q,) singular values of the centred data (descending);
      svd_x (n, k_x), svd_y (n, k_y): the data projected on the top singular vectors (the
        "SVD directions" over the dataset);
      dirs_x (p, m), dirs_y (q, m): neuron-space SVCCA directions, so that
      variates_x = (x - mean_x) @ dirs_x (n, m) have unit variance (ddof=1) and
      corr(variates_x[:, i], variates_y[:, i]) = rho[i];
      mean_x, mean_y; max_coef_diff: the largest |corr(variates_x[:, i], variates_y[:, i]) - rho[i]|
      measured on the data (a check of the directions, ~1e-12).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    r = fastcca.svcca(x, y, keep=keep, keep_rule=keep_rule, directions=True, backend=backend)
    mx, my = x.mean(0), y.mean(0)
    xc, yc = x - mx, y - my
    vx, vy = xc @ r.x_weights, yc @ r.y_weights
    m = len(r.coefficients)
    got = [np.corrcoef(vx[:, i], vy[:, i])[0, 1] for i in range(m)]
    return {
        "rho": r.coefficients, "similarity": r.similarity, "k_x": r.k_x, "k_y": r.k_y,
        "sv_x": r.singular_values_x, "sv_y": r.singular_values_y,
        "svd_x": xc @ r.x_directions, "svd_y": yc @ r.y_directions, "dirs_x": r.x_weights, "dirs_y": r.y_weights,
        "variates_x": vx, "variates_y": vy, "mean_x": mx, "mean_y": my,
        "max_coef_diff": float(np.max(np.abs(np.asarray(got) - r.coefficients))) if m else 0.0,
    }


def project_onto_variates(h: np.ndarray, variates: np.ndarray) -> np.ndarray:
    """Best approximation of the activations h (n, p) from the span of ``variates`` (n, k) plus a
    constant: ``mean + V (V^T V)^-1 V^T (h - mean)`` with V the centred variates (least squares,
    i.e. the orthogonal projection of every neuron's centred activation vector onto span V)."""
    mean = h.mean(0)
    v = variates - variates.mean(0)
    if v.shape[1] == 0:
        return np.broadcast_to(mean, h.shape).copy()
    coef, *_ = np.linalg.lstsq(v, h - mean, rcond=None)
    return mean + v @ coef


def corr(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two vectors (0 when one is constant)."""
    a = a - a.mean()
    b = b - b.mean()
    d = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / d) if d > 0 else 0.0


def pwcca_distance(x, y, backend: str = "auto", failures: list | None = None, where: str = "") -> float:
    """``fastcca.pwcca(x, y).distance`` (paper definition), or nan when fastcca raises
    ``LinAlgError``.  Versions before the rank-deficiency fix did on some ill-conditioned inputs
    (LSTM states with a 1e-10 condition ratio, fewer distinct datapoints than neurons); the
    guard stays so that a failure is never silent: each is appended to ``failures`` (``where``:
    the figure's label for the point) and the figure reports it."""
    try:
        return fastcca.pwcca(x, y, backend=backend).distance
    except np.linalg.LinAlgError as exc:
        if failures is not None:
            failures.append(f"{where}: {exc}")
        return float("nan")
