"""The null baseline: the Wishart draws have the law of independent Gaussian data, the CCA null
matches Wachter's law, and the result locates the observed value in the null."""
from __future__ import annotations

import numpy as np
import pytest

import fastcca
from fastcca.null import wishart_scatter
from conftest import make_pair


def test_wishart_draws_have_the_scatter_law():
    """E[W] = dof I; Var(W_ij) = dof (i != j), 2 dof (i == j): both routes (Bartlett, Z^T Z)."""
    rng = np.random.default_rng(0)
    for dof, dim in ((30, 4), (3, 5)):
        w = np.array([wishart_scatter(rng, dof, dim) for _ in range(4000)])
        np.testing.assert_allclose(w.mean(0), dof * np.eye(dim), atol=0.25 * np.sqrt(dof))
        var = w.var(0)
        np.testing.assert_allclose(np.diag(var), 2 * dof, rtol=0.15)
        off = var[~np.eye(dim, dtype=bool)]
        np.testing.assert_allclose(off, dof, rtol=0.15)
        if dof < dim:
            assert np.linalg.matrix_rank(w[0]) == dof


def test_simulated_null_matches_data_simulation():
    """The moments-level null gives the same distribution as simulating (n, p) arrays."""
    rng = np.random.default_rng(1)
    n, p, q = 60, 8, 5
    x, y = rng.standard_normal((n, p)), rng.standard_normal((n, q))
    r = fastcca.null_baseline(x, y, measure="svcca", draws=300, seed=2)
    data = [fastcca.svcca(rng.standard_normal((n, p)), rng.standard_normal((n, q))).similarity for _ in range(300)]
    se = np.hypot(r.std, np.std(data)) / np.sqrt(300)
    assert abs(r.mean - np.mean(data)) < 4 * se
    assert r.std == pytest.approx(np.std(data), rel=0.2)


@pytest.mark.parametrize("n, p, q", [(1001, 100, 100), (401, 30, 60), (101, 50, 70)])
def test_cca_null_matches_wachter_and_simulation(n, p, q):
    a = fastcca.cca_null(n, p, q)
    assert a["mean_rho2"] == pytest.approx(max(p, q) / (n - 1))
    rng = np.random.default_rng(n)
    sims = []
    for _ in range(8):
        x, y = rng.standard_normal((n, p)), rng.standard_normal((n, q))
        with pytest.warns(fastcca.DegenerateCCAWarning) if p + q > n - 1 else _nothing():
            sims.append(fastcca.cca(x, y, eps=0.0).coefficients)
    mean_rho = np.mean([s.mean() for s in sims])
    mean_rho2 = np.mean([np.mean(s ** 2) for s in sims])
    assert mean_rho2 == pytest.approx(a["mean_rho2"], abs=0.004)
    assert mean_rho == pytest.approx(a["mean_rho"], abs=0.004)
    assert np.mean([s.max() for s in sims]) == pytest.approx(a["edge"], abs=0.03)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_null_result_locates_the_observation():
    x, y = make_pair(300, 10, 6, seed=3, noise=0.5)
    r = fastcca.null_baseline(x, y, measure="cca", draws=40, seed=0)
    assert r.observed == pytest.approx(fastcca.cca(x, y).similarity)
    assert r.p_value == pytest.approx(1 / 41) and r.z > 10 and r.excess > 0
    assert r.analytic["mean_rho"] == pytest.approx(r.mean, abs=3 * r.std)
    # unrelated data: not above chance
    rng = np.random.default_rng(5)
    u = fastcca.null_baseline(rng.standard_normal((300, 10)), rng.standard_normal((300, 6)), draws=40, seed=0)
    assert u.p_value > 0.05 and abs(u.z) < 3
    # a distance: alike means smaller, the p-value counts draws at or below
    d = fastcca.null_baseline(x, y, measure="procrustes", draws=40, seed=0)
    assert d.kind == "distance" and d.z < -5 and d.p_value == pytest.approx(1 / 41)
    assert "observed" in str(r) and set(r.to_dict()) >= {"observed", "draws", "p_value"}


def test_seed_reproducibility_and_observed_spectra():
    x, y = make_pair(200, 8, 8, seed=4)
    a = fastcca.null_baseline(x, y, measure="pls", draws=10, seed=7, spectra="observed")
    b = fastcca.null_baseline(x, y, measure="pls", draws=10, seed=7, spectra="observed")
    np.testing.assert_array_equal(a.draws, b.draws)
    c = fastcca.null_baseline(x, y, measure="pls", draws=10, seed=8, spectra="observed")
    assert not np.array_equal(a.draws, c.draws)
    # CCA is invariant to each side's covariance: white and observed nulls draw the same values
    w = fastcca.null_baseline(x * np.arange(1, 9), y, measure="cca", draws=10, seed=3, spectra="white")
    o = fastcca.null_baseline(x * np.arange(1, 9), y, measure="cca", draws=10, seed=3, spectra="observed")
    np.testing.assert_allclose(w.draws, o.draws, rtol=1e-8)


def test_bad_arguments():
    x, y = make_pair(50, 3, 3)
    with pytest.raises(ValueError, match="measure"):
        fastcca.null_baseline(x, y, measure="energy")
    with pytest.raises(ValueError, match="draws"):
        fastcca.null_baseline(x, y, draws=1)
    with pytest.raises(TypeError, match="draws"):
        fastcca.null_baseline(x, y, draws=10.0)
    with pytest.raises(ValueError, match="spectra"):
        fastcca.null_baseline(x, y, spectra="pink")
    with pytest.raises(TypeError, match="seed"):
        fastcca.null_baseline(x, y, seed="a")
    with pytest.raises(TypeError, match="alpha"):
        fastcca.null_baseline(x, y, measure="cca", alpha=0.5)
    with pytest.raises(ValueError, match="cca_null"):
        fastcca.cca_null(1, 3, 3)
