"""PLS and PCA from moments against google/svcca's numpy_pls / numpy_pca (their formulas,
re-typed), scikit-learn's PCA and cca_zoo's PLS."""
from __future__ import annotations

import numpy as np
import pytest

import fastcca
from conftest import make_pair


def reference_pls(acts1, acts2):
    """numpy_pls.get_pls_similarity's numbers: acts (neurons, datapoints); np.cov then SVD."""
    numx = acts1.shape[0]
    cov = np.cov(acts1, acts2)
    u, s, v = np.linalg.svd(cov[:numx, numx:], full_matrices=False)
    return np.abs(s), u.T, v


def reference_pca(acts):
    """numpy_pca.get_pca's numbers: its means are over axis 0 of (neurons, datapoints)."""
    cacts = acts - np.mean(acts, axis=0, keepdims=True)
    u, s, _ = np.linalg.svd(cacts, full_matrices=False)
    return s, u.T


def same_up_to_sign(a, b, atol):
    """Columns of a and b equal up to one sign each."""
    signs = np.sign(np.sum(a * b, axis=0))
    np.testing.assert_allclose(a * signs, b, atol=atol)


@pytest.mark.parametrize("p, q", [(9, 6), (5, 8)])
def test_pls_matches_the_reference(p, q):
    x, y = make_pair(700, p, q, seed=p * q)
    x = x + 3.0                                   # the reference centres via np.cov: an offset changes nothing
    s, c1, c2 = reference_pls(x.T, y.T)
    r = fastcca.pls(x, y)
    np.testing.assert_allclose(r.coefficients, s, rtol=1e-10, atol=1e-12 * s[0])
    k = min(p, q)
    same_up_to_sign(r.x_directions, c1[:k].T, 1e-9)
    same_up_to_sign(r.y_directions, c2[:k].T, 1e-9)
    assert r.covariance_explained.sum() == pytest.approx(1.0)


def test_pls_matches_cca_zoo_and_score_correlations():
    cca_zoo = pytest.importorskip("cca_zoo.linear")
    x, y = make_pair(600, 7, 5, seed=4)
    r = fastcca.pls(x, y)
    z = cca_zoo.PLS(n_components=5).fit((x, y))
    same_up_to_sign(r.x_directions, z.weights_[0], 1e-9)
    same_up_to_sign(r.y_directions, z.weights_[1], 1e-9)
    scores_x = (x - x.mean(0)) @ r.x_directions
    scores_y = (y - y.mean(0)) @ r.y_directions
    corr = [np.corrcoef(scores_x[:, i], scores_y[:, i])[0, 1] for i in range(5)]
    np.testing.assert_allclose(r.correlations, corr, atol=1e-12)
    s = r.coefficients
    assert r.similarity == pytest.approx(np.dot(s, corr) / s.sum(), rel=1e-12)
    assert np.all(np.diff(s) <= 0) and np.all(r.x_directions[np.abs(r.x_directions).argmax(0), range(5)] > 0)


def test_cca_matches_cca_zoo():
    """The independent implementation's canonical correlations (correlations of its variates)."""
    cca_zoo = pytest.importorskip("cca_zoo.linear")
    x, y = make_pair(800, 6, 4, seed=8)
    z = cca_zoo.CCA(n_components=4).fit((x, y))
    zx, zy = z.transform((x, y))
    rho = [abs(np.corrcoef(zx[:, i], zy[:, i])[0, 1]) for i in range(4)]
    np.testing.assert_allclose(fastcca.cca(x, y, eps=0.0).coefficients, rho, atol=1e-8)


def test_pls_n_components_and_invariance():
    x, y = make_pair(400, 6, 6, seed=1)
    full = fastcca.pls(x, y)
    two = fastcca.pls(x, y, n_components=2)
    np.testing.assert_allclose(two.coefficients, full.coefficients[:2], rtol=1e-12)
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((6, 6)))
    rot = fastcca.pls(x @ q, y)
    np.testing.assert_allclose(rot.coefficients, full.coefficients, rtol=1e-10)
    assert rot.similarity == pytest.approx(full.similarity, rel=1e-10)
    assert fastcca.pls(5 * x, y).similarity == pytest.approx(full.similarity, rel=1e-12)
    np.testing.assert_allclose(fastcca.pls(5 * x, y).coefficients, 5 * full.coefficients, rtol=1e-12)


def test_pca_matches_sklearn():
    from sklearn.decomposition import PCA
    x, _ = make_pair(500, 8, 2, seed=6)
    x = x * np.arange(1, 9) + 10.0
    r = fastcca.pca(x)
    sk = PCA().fit(x)
    np.testing.assert_allclose(r.singular_values, sk.singular_values_, rtol=1e-10)
    np.testing.assert_allclose(r.explained_variance, sk.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(r.explained_variance_ratio, sk.explained_variance_ratio_, rtol=1e-10)
    same_up_to_sign(r.components.T, sk.components_.T, 1e-9)
    np.testing.assert_allclose(r.mean, sk.mean_, rtol=1e-12)
    three = fastcca.pca(x, n_components=3)
    assert three.components.shape == (3, 8) and three.explained_variance_ratio.sum() < 1


def test_pca_reference_variant_centres_datapoints():
    x, _ = make_pair(300, 6, 2, seed=7)
    x = x + np.arange(6)                          # per-neuron offsets: the two centrings differ
    s, coefs = reference_pca(x.T)
    r = fastcca.pca(x, variant="reference")
    np.testing.assert_allclose(r.singular_values[:-1], s[:-1], rtol=1e-10)
    assert r.singular_values[-1] < 1e-6 * s[0]    # centring across neurons removes one dimension
    same_up_to_sign(r.components[:-1].T, coefs[:-1].T, 1e-8)
    assert r.mean is None
    assert not np.allclose(r.singular_values, fastcca.pca(x).singular_values)


def test_pca_of_a_moments_side():
    x, y = make_pair(300, 6, 4, seed=2)
    m = fastcca.Moments().update(x, y)
    np.testing.assert_allclose(fastcca.pca(m, side="y").singular_values, fastcca.pca(y).singular_values,
                               rtol=1e-12)
    with pytest.raises(ValueError, match="side"):
        fastcca.pca(m, side="z")
    with pytest.raises(ValueError, match="variant"):
        fastcca.pca(x, variant="tutorial")
    with pytest.raises(ValueError, match="n_components"):
        fastcca.pca(x, n_components=0)
    with pytest.raises(TypeError, match="n_components"):
        fastcca.pls(x, y, n_components=2.0)
