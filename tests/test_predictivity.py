"""Linear predictivity from moments against scikit-learn's Ridge + r2_score and a brute-force
generalised cross-validation on the stored activations (hat matrix)."""
from __future__ import annotations

import numpy as np
import pytest

import fastcca
from conftest import make_pair


@pytest.fixture
def xy():
    x, y = make_pair(300, 10, 6, seed=21, noise=1.0)
    return x + 2.0, 3.0 * y - 1.0


@pytest.mark.parametrize("ridge", [0.0, 0.5, 40.0, 1e4])
@pytest.mark.parametrize("average, multioutput", [("variance", "variance_weighted"), ("uniform", "uniform_average")])
def test_fit_matches_sklearn(xy, ridge, average, multioutput):
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.metrics import r2_score
    x, y = xy
    for src, dst, direction in ((x, y, "x->y"), (y, x, "y->x")):
        model = LinearRegression() if ridge == 0 else Ridge(alpha=ridge)
        want = r2_score(dst, model.fit(src, dst).predict(src), multioutput=multioutput)
        r = fastcca.linear_predictivity(x, y, ridge=ridge, direction=direction, average=average)
        assert r.similarity == pytest.approx(want, rel=1e-10, abs=1e-12)
        if average == "uniform":
            per = r2_score(dst, model.predict(src), multioutput="raw_values")
            np.testing.assert_allclose(r.coefficients, per, rtol=1e-9, atol=1e-12)


def brute_gcv(x, y, ridge):
    """GCV of the ridge with an unpenalised intercept, from the full (n, n) hat matrix."""
    n = len(x)
    xc, yc = x - x.mean(0), y - y.mean(0)
    h = xc @ np.linalg.solve(xc.T @ xc + ridge * np.eye(x.shape[1]), xc.T) + np.ones((n, n)) / n
    resid = (y - h @ y)
    rss = np.sum(resid ** 2)
    return rss / n / (1 - np.trace(h) / n) ** 2, 1 - rss / np.sum(yc ** 2) / (1 - np.trace(h) / n) ** 2


def test_gcv_choice_and_score_match_the_hat_matrix(xy):
    x, y = xy
    cands = [0.1, 1.0, 10.0, 100.0, 1000.0]
    scores = [brute_gcv(x, y, c)[0] for c in cands]
    best = cands[int(np.argmin(scores))]
    r = fastcca.linear_predictivity(x, y, ridge=cands, direction="x->y", score="gcv")
    assert r.ridge_xy == pytest.approx(best, rel=1e-12)
    assert r.similarity == pytest.approx(brute_gcv(x, y, best)[1], rel=1e-10)
    assert r.gcv_xy == r.similarity and r.fit_xy > r.gcv_xy
    xc = x - x.mean(0)
    lam = np.linalg.eigvalsh(xc.T @ xc)
    assert r.df_xy == pytest.approx(np.sum(lam / (lam + best)), rel=1e-12)


def test_default_gcv_grid_is_the_minimum_over_its_candidates(xy):
    x, y = xy
    r = fastcca.linear_predictivity(x, y, direction="x->y")
    xc = x - x.mean(0)
    grid = np.trace(xc.T @ xc) / x.shape[1] * np.logspace(-8, 4, 49)
    scores = [brute_gcv(x, y, c)[0] for c in grid]
    assert r.ridge_xy == pytest.approx(grid[int(np.argmin(scores))], rel=1e-12)


def test_both_directions_and_exact_prediction():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 8))
    y = x[:, :3] @ rng.standard_normal((3, 5))
    r = fastcca.linear_predictivity(x, y, ridge=0.0)
    assert r.r2_xy == pytest.approx(1.0, abs=1e-10)               # y is a linear map of x
    assert r.r2_yx == pytest.approx(3 / 8, abs=0.05)             # 3 of x's 8 unit directions
    assert r.similarity == pytest.approx((r.r2_xy + r.r2_yx) / 2)
    assert r.coefficients.size == 0 and r.direction == "both"
    swapped = fastcca.linear_predictivity(y, x, ridge=0.0)
    assert swapped.similarity == pytest.approx(r.similarity, rel=1e-10)   # "both" is symmetric


def test_scale_and_constant_neurons(xy):
    x, y = xy
    base = fastcca.linear_predictivity(x, y, ridge=5.0, direction="x->y")
    # rescaling x by c moves the penalty by c^2 (data units); rescaling y changes nothing
    assert fastcca.linear_predictivity(3 * x, y, ridge=45.0, direction="x->y").similarity == pytest.approx(
        base.similarity, rel=1e-10)
    assert fastcca.linear_predictivity(x, 10 * y, ridge=5.0, direction="x->y").similarity == pytest.approx(
        base.similarity, rel=1e-10)
    yc = np.column_stack([y, np.full(len(y), 4.0)])
    r = fastcca.linear_predictivity(x, yc, ridge=5.0, direction="x->y", average="uniform")
    assert np.isnan(r.coefficients[-1]) and r.notes
    assert r.similarity == pytest.approx(np.mean(r.coefficients[:-1]), rel=1e-12)


def test_bad_arguments(xy):
    x, y = xy
    for bad, err in ((-1.0, ValueError), (float("inf"), ValueError), ("cv", ValueError), ([], ValueError),
                     ([1.0, -2.0], ValueError), (None, TypeError), (True, TypeError)):
        with pytest.raises(err, match="ridge"):
            fastcca.linear_predictivity(x, y, ridge=bad)
    for name in ("direction", "score", "average"):
        with pytest.raises(ValueError, match=name):
            fastcca.linear_predictivity(x, y, **{name: "sideways"})
