"""Shape metrics (Williams et al. 2021) and the Procrustes distance: agreement with a direct
computation on the stored activations, netrep's partial whitening, the metric axioms on random
triples, invariances, and the closed form at alpha = 0."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg as sla

import fastcca
from conftest import make_pair

ALPHAS = (0.0, 0.25, 0.5, 0.9, 1.0)


def whitened_activations(x, alpha, rank_tol=1e-12):
    """Xc Z_alpha with Z_alpha = V diag(d) V^T rescaled to keep tr(Xc^T Xc), computed on the
    activations themselves (the definition of fastcca.measures.shape, written independently)."""
    xc = x - x.mean(axis=0)
    lam, v = np.linalg.eigh(xc.T @ xc)
    lam = np.maximum(lam, 0.0)
    whiten = lam > rank_tol * lam.max()
    d = alpha + (1 - alpha) * np.where(whiten, 1.0 / np.sqrt(np.where(whiten, lam, 1.0)), 0.0)
    xw = xc @ (v * d) @ v.T
    return xw * np.sqrt(np.sum(xc * xc) / np.sum(xw * xw))


def direct(x, y, alpha, kind):
    """The best rotation by scipy's orthogonal_procrustes on zero-padded whitened activations."""
    xw, yw = whitened_activations(x, alpha), whitened_activations(y, alpha)
    width = max(xw.shape[1], yw.shape[1])
    xw = np.pad(xw, ((0, 0), (0, width - xw.shape[1])))
    yw = np.pad(yw, ((0, 0), (0, width - yw.shape[1])))
    r, _ = sla.orthogonal_procrustes(xw, yw)
    if kind == "angular":
        cos = np.sum((xw @ r) * yw) / (np.linalg.norm(xw) * np.linalg.norm(yw))
        return float(np.arccos(np.clip(cos, -1.0, 1.0)))
    return float(np.linalg.norm(xw @ r - yw))


def netrep_whitened(xc, alpha):
    """netrep's ``whiten(X, alpha, preserve_variance=True)`` (utils.py), re-typed from its
    formula: eigenvalues floored at 1e-7, d = alpha + (1 - alpha) lam^-1/2, then the variance kept."""
    lam, v = np.linalg.eigh(xc.T @ xc)
    lam = np.maximum(lam, 1e-7)
    d = alpha + (1 - alpha) * lam ** -0.5
    d *= np.sqrt(lam.sum() / np.sum(alpha ** 2 * lam + 2 * alpha * (1 - alpha) * lam ** 0.5 + (1 - alpha) ** 2))
    return xc @ (v * d) @ v.T


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("kind", ["angular", "euclidean"])
@pytest.mark.parametrize("p, q", [(7, 7), (9, 5)])
def test_matches_direct_computation_on_activations(alpha, kind, p, q):
    x, y = make_pair(400, p, q, seed=p + q)
    got = fastcca.shape_metric(x, y, alpha=alpha, kind=kind).distance
    want = direct(x, y, alpha, kind)
    assert got == pytest.approx(want, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_matches_netreps_whitening(alpha):
    """netrep LinearMetric(alpha, center_columns=True, score_method=...) on p == q: angle and
    Frobenius distance after scipy's Procrustes rotation of its whitened activations."""
    x, y = make_pair(500, 6, 6, seed=11)
    xw, yw = netrep_whitened(x - x.mean(0), alpha), netrep_whitened(y - y.mean(0), alpha)
    r, _ = sla.orthogonal_procrustes(xw, yw)
    angle = np.arccos(np.clip(np.sum((xw @ r) * yw) / np.linalg.norm(xw) / np.linalg.norm(yw), -1, 1))
    assert fastcca.shape_metric(x, y, alpha=alpha).distance == pytest.approx(angle, abs=1e-10)
    assert fastcca.shape_metric(x, y, alpha=alpha, kind="euclidean").distance == pytest.approx(
        np.linalg.norm(xw @ r - yw), rel=1e-10)


def random_triple(rng, widths, n=120):
    """Three representations of the same datapoints, sharing a latent signal of random strength."""
    z = rng.standard_normal((n, 4))
    out = []
    for w in widths:
        mix = rng.standard_normal((4, w)) * rng.uniform(0, 2)
        out.append(z @ mix + rng.standard_normal((n, w)) * rng.uniform(0.1, 2.0) + rng.uniform(-5, 5))
    return out


@pytest.mark.parametrize("measure, params", [("shape_angular", {"alpha": 0.0}), ("shape_angular", {"alpha": 0.5}),
                                             ("shape_angular", {"alpha": 1.0}), ("shape_euclidean", {"alpha": 0.0}),
                                             ("shape_euclidean", {"alpha": 0.3}), ("shape_euclidean", {"alpha": 1.0}),
                                             ("procrustes", {}), ("procrustes", {"normalize": False})])
def test_metric_axioms_on_random_triples(measure, params):
    spec = fastcca.REGISTRY[measure]
    rng = np.random.default_rng(sum(map(ord, measure)) + int(10 * params.get("alpha", 7)))
    worst = -np.inf
    for t in range(40):
        widths = (5, 5, 5) if t % 2 else tuple(rng.integers(2, 9, size=3))
        reps = random_triple(rng, widths)
        d = {}
        for i, j in itertools.permutations(range(3), 2):
            d[i, j] = spec.value(spec(reps[i], reps[j], **params))
        for i, j in itertools.combinations(range(3), 2):
            assert d[i, j] == pytest.approx(d[j, i], rel=1e-12, abs=1e-12)           # symmetry
        for i, j, k in itertools.permutations(range(3)):
            assert d[i, k] <= d[i, j] + d[j, k] + 1e-9 * (1 + d[i, k])               # triangle inequality
            worst = max(worst, d[i, k] - d[i, j] - d[j, k])
        assert spec.value(spec(reps[0], reps[0], **params)) <= 1e-6 * (1 + max(d.values()))   # identity
    assert worst < 0   # a real margin somewhere is expected, not only equality cases


def test_a_tight_triangle():
    """y halfway (in angle) between x and a rotated x: the inequality is (nearly) an equality
    for the angular distance at alpha = 1 on orthonormal-column data."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((300, 2))
    q, _ = np.linalg.qr(a - a.mean(axis=0))        # centred orthonormal columns
    x = q[:, :1]
    z = q[:, 1:]
    y = (x + z) / np.sqrt(2)
    d = lambda a, b: fastcca.shape_metric(a, b, alpha=1.0).distance  # noqa: E731
    assert d(x, z) == pytest.approx(d(x, y) + d(y, z), abs=1e-9)
    assert d(x, z) == pytest.approx(np.pi / 2, abs=1e-9)


def test_invariances():
    x, y = make_pair(600, 6, 6, seed=5)
    rng = np.random.default_rng(5)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    a = rng.standard_normal((6, 6))
    # a rotation of either side, at any alpha
    for alpha in ALPHAS:
        base = fastcca.shape_metric(x, y, alpha=alpha).distance
        assert fastcca.shape_metric(x @ q + 3.0, y, alpha=alpha).distance == pytest.approx(base, abs=1e-10)
    # alpha = 0: any invertible map of a side; alpha in {0, 1}: isotropic scaling (angle)
    base0 = fastcca.shape_metric(x, y, alpha=0.0).distance
    assert fastcca.shape_metric(x @ a, y, alpha=0.0).distance == pytest.approx(base0, abs=1e-9)
    for alpha in (0.0, 1.0):
        base = fastcca.shape_metric(x, y, alpha=alpha).distance
        assert fastcca.shape_metric(1e3 * x, 1e-2 * y, alpha=alpha).distance == pytest.approx(base, abs=1e-10)
    # between, the mix depends on scale (netrep's definition): documented, so asserted
    mid = fastcca.shape_metric(x, y, alpha=0.5).distance
    assert abs(fastcca.shape_metric(1e3 * x, y, alpha=0.5).distance - mid) > 1e-4
    # normalised Procrustes: scale-free; unnormalised: proportional to the scale
    p0 = fastcca.procrustes(x, y)
    assert fastcca.procrustes(7 * x, 7 * y).distance == pytest.approx(p0.distance, rel=1e-12)
    raw = fastcca.procrustes(x, y, normalize=False).distance
    assert fastcca.procrustes(7 * x, 7 * y, normalize=False).distance == pytest.approx(7 * raw, rel=1e-12)
    assert p0.distance == pytest.approx(np.sqrt(2 - 2 * p0.similarity), rel=1e-12)


def test_cca_end_is_the_sum_of_canonical_correlations():
    """alpha = 0, full-rank sides: cos theta = sum rho_i / sqrt(p q)."""
    for p, q in ((8, 8), (10, 4)):
        x, y = make_pair(800, p, q, seed=p)
        rho = fastcca.cca(x, y, eps=0.0).coefficients
        r = fastcca.shape_metric(x, y, alpha=0.0)
        assert r.similarity == pytest.approx(rho.sum() / np.sqrt(p * q), rel=1e-10)
        assert r.coefficients.sum() == pytest.approx(r.similarity, rel=1e-12)
        assert (r.rank_x, r.rank_y) == (p, q)


def test_procrustes_is_the_alpha_one_end():
    x, y = make_pair(300, 7, 4, seed=2)
    e = fastcca.shape_metric(x, y, alpha=1.0, kind="euclidean")
    raw = fastcca.procrustes(x, y, normalize=False)
    assert raw.distance == pytest.approx(e.distance, rel=1e-12)
    xc, yc = x - x.mean(0), y - y.mean(0)
    nuc = np.linalg.svd(xc.T @ yc, compute_uv=False).sum()
    assert raw.distance == pytest.approx(np.sqrt(np.sum(xc ** 2) + np.sum(yc ** 2) - 2 * nuc), rel=1e-10)


def test_rank_deficient_side_is_not_whitened_in_its_null_directions():
    """A duplicated neuron: at alpha = 0 the null direction is not whitened (it would carry
    rounding noise), so a layer against itself is at distance 0 and the rank says so."""
    x, _ = make_pair(300, 5, 3, seed=9)
    xd = np.column_stack([x, x[:, 0]])
    r = fastcca.shape_metric(xd, xd, alpha=0.0)
    assert r.rank_x == 5 and r.distance < 1e-6
    assert fastcca.shape_metric(xd, x, alpha=0.0).distance == pytest.approx(0.0, abs=1e-6)


def test_constant_sides():
    x, _ = make_pair(100, 4, 3)
    c = np.full((100, 3), 2.0)
    r = fastcca.shape_metric(x, c)
    assert r.distance == pytest.approx(np.pi / 2) and r.notes
    assert fastcca.shape_metric(c, c).distance == 0.0
    e = fastcca.shape_metric(x, c, kind="euclidean").distance
    assert e == pytest.approx(np.linalg.norm(x - x.mean(0)), rel=1e-12)


def test_bad_arguments_name_themselves():
    x, y = make_pair(50, 3, 3)
    for bad, err in ((-0.1, ValueError), (1.5, ValueError), (float("nan"), ValueError), ("0.5", TypeError)):
        with pytest.raises(err, match="alpha"):
            fastcca.shape_metric(x, y, alpha=bad)
    with pytest.raises(ValueError, match="kind"):
        fastcca.shape_metric(x, y, kind="cosine")
    with pytest.raises(TypeError, match="normalize"):
        fastcca.procrustes(x, y, normalize="yes")
