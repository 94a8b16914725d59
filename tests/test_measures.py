"""The measures' mathematics: closed forms, invariances, independent recomputations from data."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.stats import ortho_group

import fastcca
from conftest import make_pair

MEASURES = {
    "cca": lambda x, y: fastcca.cca(x, y, eps=0),
    "svcca": lambda x, y: fastcca.svcca(x, y, eps=0),
    "pwcca": lambda x, y: fastcca.pwcca(x, y, eps=0),
    "pwcca_ref": lambda x, y: fastcca.pwcca(x, y, eps=0, variant="reference"),
    "cka": lambda x, y: fastcca.linear_cka(x, y, spectrum=True),
}


def test_matlab_canoncorr_closed_form():
    i3 = np.eye(3)
    x = np.vstack([i3, 2 * i3])
    y = np.vstack([np.fliplr(i3), 0.1 * i3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastcca.DegenerateCCAWarning)
        r = fastcca.cca(x, y, eps=0)
    np.testing.assert_allclose(r.coefficients, [1, 0.533992991387982, 0.355995327591988], atol=1e-12)


def test_identical_inputs_give_ones(pair):
    x, _ = pair
    for name, f in MEASURES.items():
        r = f(x, x)
        assert r.similarity == pytest.approx(1.0, abs=1e-9), name
        if name != "cka":
            np.testing.assert_allclose(r.coefficients, 1.0, atol=1e-9)


def test_independent_gaussians_give_small_coefficients():
    rng = np.random.default_rng(1)
    n, p, q = 20000, 10, 8
    r = fastcca.cca(rng.standard_normal((n, p)), rng.standard_normal((n, q)))
    # largest canonical correlation of independent data ~ (sqrt(p) + sqrt(q)) / sqrt(n)
    assert r.coefficients.max() < 3 * (np.sqrt(p) + np.sqrt(q)) / np.sqrt(n)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.floats(1e-3, 1e3))
def test_invariances(seed, scale):
    rng = np.random.default_rng(seed)
    x, y = make_pair(400, 8, 6, seed=seed)
    base = {k: f(x, y) for k, f in MEASURES.items()}
    pn = rng.permutation(len(x))
    px, py = rng.permutation(8), rng.permutation(6)
    for name, f in MEASURES.items():
        b = base[name]
        assert np.all((b.coefficients >= 0) & (b.coefficients <= 1 + 1e-12))
        cases = {"isotropic scaling": (scale * x, y / scale), "datapoint permutation": (x[pn], y[pn])}
        if name != "pwcca_ref":
            # the reference formula adds mean_i of neuron i to canonical direction i, so it is not
            # invariant to permuting neurons (a documented quirk it keeps for parity)
            cases["neuron permutation"] = (x[:, px], y[:, py])
        for label, (xt, yt) in cases.items():
            r = f(xt, yt)
            assert r.similarity == pytest.approx(b.similarity, abs=1e-8), (name, label)
    # CCA: any invertible linear map (and shift) of either side
    a = rng.standard_normal((8, 8)) + 3 * np.eye(8)
    r = fastcca.cca(x @ a + 5.0, y, eps=0)
    np.testing.assert_allclose(r.coefficients, base["cca"].coefficients, atol=1e-8)
    # SVCCA, CKA: orthogonal maps
    qx, qy = ortho_group.rvs(8, random_state=seed), ortho_group.rvs(6, random_state=seed + 1)
    for name in ("svcca", "cka"):
        r = MEASURES[name](x @ qx, y @ qy)
        assert r.similarity == pytest.approx(base[name].similarity, abs=1e-8), name


def test_cca_weights_give_canonical_variates(pair):
    x, y = pair
    r = fastcca.cca(x, y, eps=0, weights=True)
    hx = (x - x.mean(0)) @ r.x_weights
    hy = (y - y.mean(0)) @ r.y_weights
    np.testing.assert_allclose(np.cov(hx.T), np.eye(hx.shape[1]), atol=1e-9)
    np.testing.assert_allclose(np.cov(hy.T), np.eye(hy.shape[1]), atol=1e-9)
    cross = (hx * hy).sum(0) / (len(x) - 1)
    np.testing.assert_allclose(cross, r.coefficients, atol=1e-9)


def test_svcca_directions_give_svcca_variates(pair):
    """svcca(directions=True): the kept singular directions are the top eigenvectors of each
    side's covariance (orthonormal, the sign rule), and the weights give unit-variance,
    uncorrelated variates in their span whose i-th pair correlates by coefficient i -- the
    variates of CCA on the data projected onto those directions."""
    x, y = pair
    r = fastcca.svcca(x, y, keep=0.9, eps=0, directions=True)
    xc, yc = x - x.mean(0), y - y.mean(0)
    for d, c, k in ((r.x_directions, xc, r.k_x), (r.y_directions, yc, r.k_y)):
        assert d.shape == (c.shape[1], k)
        np.testing.assert_allclose(d.T @ d, np.eye(k), atol=1e-12)
        lam, v = np.linalg.eigh(np.cov(c.T))
        top = v[:, ::-1][:, :k]
        np.testing.assert_allclose(np.abs(top.T @ d), np.eye(k), atol=1e-8)      # same directions up to sign
        assert np.all(d[np.argmax(np.abs(d), axis=0), np.arange(k)] > 0)      # the sign rule
    hx, hy = xc @ r.x_weights, yc @ r.y_weights
    m = len(r.coefficients)
    assert r.x_weights.shape == (x.shape[1], m) and r.y_weights.shape == (y.shape[1], m)
    np.testing.assert_allclose(np.cov(hx.T), np.eye(m), atol=1e-9)
    np.testing.assert_allclose(np.cov(hy.T), np.eye(m), atol=1e-9)
    np.testing.assert_allclose((hx * hy).sum(0) / (len(x) - 1), r.coefficients, atol=1e-9)
    # in the span of the kept directions: the weights are P_k times the reduced CCA's weights
    px = r.x_directions
    np.testing.assert_allclose(px @ (px.T @ r.x_weights), r.x_weights, atol=1e-10)
    c = fastcca.cca(xc @ px, yc @ r.y_directions, eps=0, weights=True)
    np.testing.assert_allclose(np.abs(np.sum(hx * (xc @ px @ c.x_weights), 0)) / (len(x) - 1), 1.0, atol=1e-8)
    # the similarity does not depend on the option; without it nothing is returned
    plain = fastcca.svcca(x, y, keep=0.9, eps=0)
    assert plain.x_directions is None and plain.x_weights is None
    assert plain.similarity == pytest.approx(r.similarity, abs=1e-12)   # the vectors route rounds differently


def test_svcca_directions_streaming_and_rescaling(pair):
    """From a Moments fed in batches the directions equal the one-shot ones; rescaling a side by
    c leaves its directions and divides its weights by c (the variates are unchanged)."""
    x, y = pair
    r = fastcca.svcca(x, y, keep=4, directions=True)
    m = fastcca.Moments()
    for i in range(0, len(x), 97):
        m.update(x[i:i + 97], y[i:i + 97])
    s = fastcca.svcca(m, keep=4, directions=True)
    np.testing.assert_allclose(s.x_directions, r.x_directions, atol=1e-10)
    np.testing.assert_allclose(np.abs(s.x_weights), np.abs(r.x_weights), atol=1e-10)
    big = fastcca.svcca(x * 2.0 ** 40 * 3, y, keep=4, directions=True)
    np.testing.assert_allclose(big.x_directions, r.x_directions, atol=1e-10)
    np.testing.assert_allclose(np.abs(big.x_weights) * 2.0 ** 40 * 3, np.abs(r.x_weights), rtol=1e-8, atol=1e-12)


def test_pwcca_paper_definition_from_data(pair):
    """sum_i a_i rho_i with a_i = sum_j |<q_i, x_j>|, q from QR of the canonical variates."""
    x, y = pair
    c = fastcca.cca(x, y, eps=0, weights=True)
    xc = x - x.mean(0)
    q, _ = np.linalg.qr(xc @ c.x_weights)
    a = np.abs(q.T @ xc).sum(axis=1)
    a /= a.sum()
    r = fastcca.pwcca(x, y, eps=0)
    np.testing.assert_allclose(r.weights, a, atol=1e-10)
    assert r.similarity == pytest.approx(float(a @ c.coefficients), abs=1e-12)
    assert r.distance == pytest.approx(1 - r.similarity)
    # side="y" weights by y's neurons: the same as swapping the arguments
    assert fastcca.pwcca(x, y, eps=0, side="y").similarity == pytest.approx(fastcca.pwcca(y, x, eps=0).similarity, abs=1e-10)


@pytest.mark.parametrize("case", ["tiny_coefficients", "clustered", "wider_y", "wider_x"])
def test_pwcca_coefficients_equal_cca_singular_values(case):
    """PWCCA's one-sided eigh route (rho_i = ||M^H u_i||) gives the SVD's coefficients to rounding,
    also near 0 (where sqrt of an eigenvalue would keep only ~8 digits) and for clustered ones."""
    rng = np.random.default_rng(11)
    n = 3000
    if case == "tiny_coefficients":            # independent sides: every rho ~ 1/sqrt(n) or smaller
        x, y = rng.standard_normal((n, 40)), rng.standard_normal((n, 30))
    elif case == "clustered":                  # 10 shared dims (rho ~ 1, clustered) + noise dims
        s = rng.standard_normal((n, 10))
        x = np.hstack([s, rng.standard_normal((n, 20))]) @ rng.standard_normal((30, 30))
        y = np.hstack([s, rng.standard_normal((n, 25))]) @ rng.standard_normal((35, 35))
    else:
        a, b = rng.standard_normal((n, 12)), rng.standard_normal((n, 50))
        b[:, :12] += a
        x, y = (a, b) if case == "wider_y" else (b, a)
    ref = fastcca.cca(x, y).coefficients                 # svdvals of the whitened cross block
    for side in ("x", "y"):
        r = fastcca.pwcca(x, y, side=side)
        np.testing.assert_allclose(r.coefficients, ref, rtol=0, atol=1e-13)
        assert np.all(np.diff(r.coefficients) <= 0)


def tutorial_svcca(x, y, keep):
    """SVD of the centred data, keep by the papers' sum-of-singular-values rule, then CCA."""
    out = []
    for a in (x, y):
        ac = a - a.mean(0)
        _, s, vt = np.linalg.svd(ac, full_matrices=False)
        k = int(np.argmax(np.cumsum(s) / s.sum() >= keep)) + 1
        out.append(ac @ vt[:k].T)
    return fastcca.cca(out[0], out[1], eps=0), out[0].shape[1], out[1].shape[1]


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_svcca_equals_data_pipeline(keep):
    x, y = make_pair(2000, 40, 30, seed=3)
    ref, kx, ky = tutorial_svcca(x, y, keep)
    r = fastcca.svcca(x, y, keep=keep, eps=0)
    assert (r.k_x, r.k_y) == (kx, ky)
    np.testing.assert_allclose(r.coefficients, ref.coefficients, atol=1e-9)
    np.testing.assert_allclose(r.singular_values_x, np.linalg.svd(x - x.mean(0), compute_uv=False), rtol=1e-9)


def test_svcca_truncated_solver_matches_full():
    x, y = make_pair(3000, 200, 150, seed=4)
    full = fastcca.svcca(x, y, keep=0.9, keep_rule="variance")
    m = fastcca.Moments.from_arrays(x, y)
    w = np.linalg.eigvalsh(m.sxx)[::-1]
    k = int(np.argmax(np.cumsum(w) / w.sum() >= 0.9)) + 1
    assert full.k_x == k
    top = fastcca.svcca(x, y, keep=full.k_x)  # int keep: subset solver
    assert top.k_x == full.k_x
    from fastcca.kernels import cpu
    lam, vec = cpu.eigh_top(m.sxx, 10)
    np.testing.assert_allclose(lam, w[:10], rtol=1e-10)
    np.testing.assert_allclose(np.abs(vec.T @ np.linalg.eigh(m.sxx)[1][:, ::-1][:, :10]), np.eye(10), atol=1e-7)


def test_linear_cka_formula_and_spectrum(pair):
    x, y = pair
    xc, yc = x - x.mean(0), y - y.mean(0)
    expected = np.linalg.norm(xc.T @ yc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))
    r = fastcca.linear_cka(x, y, spectrum=True)
    assert r.similarity == pytest.approx(expected, rel=1e-12)
    assert r.coefficients.sum() == pytest.approx(r.similarity, rel=1e-10)
    assert fastcca.linear_cka(x, y).coefficients.size == 0


def test_constant_and_duplicate_neurons_are_reported_not_nan(pair):
    x, y = pair
    x = np.column_stack([x, np.full(len(x), 3.0), x[:, 0]])  # a constant and a duplicate neuron
    for eps in (0.0, 1e-10):
        for f in (fastcca.cca, fastcca.svcca, fastcca.pwcca, fastcca.mean_cca):
            r = f(x, y, eps=eps)
            assert np.all(np.isfinite(r.coefficients)) and np.isfinite(r.similarity)
        r = fastcca.cca(x, y, eps=eps)
        notes = " ".join(r.notes)
        if eps > 0:
            assert not r.kept_x[12] and "dropped" in notes
        if eps == 0:  # with a ridge the duplicate direction keeps eigenvalue eps and stays
            assert r.rank_x == 12 and "rank" in notes
    assert fastcca.pwcca(x, y, variant="reference").similarity <= 1


def test_degenerate_warning_names_the_counts():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((20, 15)), rng.standard_normal((20, 10))
    with pytest.warns(fastcca.DegenerateCCAWarning, match=r"20 datapoints for 15 \+ 10"):
        r = fastcca.cca(x, y)
    assert np.sum(r.coefficients > 1 - 1e-6) >= 15 + 10 - 19
    with pytest.warns(fastcca.DegenerateCCAWarning):
        fastcca.pwcca(x, y)


def test_all_constant_side():
    x = np.ones((50, 3))
    y = np.random.default_rng(0).standard_normal((50, 2))
    for f in (fastcca.cca, fastcca.svcca, fastcca.pwcca, fastcca.linear_cka):
        r = f(x, y)
        assert r.similarity == 0.0 and r.coefficients.size == 0


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(backend="gpu"), ValueError, "backend: expected one of"),
    (dict(eps=-1), ValueError, "eps: expected a finite number >= 0"),
])
def test_argument_errors(pair, kwargs, err, match):
    x, y = pair
    with pytest.raises(err, match=match):
        fastcca.cca(x, y, **kwargs)


def test_keep_and_variant_errors(pair):
    x, y = pair
    with pytest.raises(ValueError, match=r"keep: a fraction must lie in \(0, 1\]"):
        fastcca.svcca(x, y, keep=1.5)
    with pytest.raises(ValueError, match="keep_rule"):
        fastcca.svcca(x, y, keep_rule="energy")
    with pytest.raises(ValueError, match="variant"):
        fastcca.pwcca(x, y, variant="anatome")
    with pytest.raises(ValueError, match="side"):
        fastcca.pwcca(x, y, side="z")
    with pytest.raises(TypeError, match="y: missing"):
        fastcca.cca(x)
    with pytest.raises(TypeError, match="either two arrays"):
        fastcca.cca(fastcca.Moments.from_arrays(x, y), y)


def test_cuda_backend_is_a_clear_error_without_a_gpu(pair):
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    x, y = pair
    with pytest.raises(fastcca.BackendUnavailableError, match="needs CuPy"):
        fastcca.svcca(x, y, backend="cuda")
    with pytest.raises(fastcca.BackendUnavailableError, match="needs CuPy"):
        fastcca.Moments(backend="cuda")
    assert fastcca.get_backend("auto", x).NAME == "cpu"


def test_results_are_deterministic_and_printable(pair):
    x, y = pair
    a, b = fastcca.pwcca(x, y), fastcca.pwcca(x, y)
    assert a.similarity == b.similarity and np.array_equal(a.weights, b.weights)
    text = str(fastcca.svcca(x, y))
    assert "svcca: similarity" in text and "kept directions" in text
    d = fastcca.cca(x, y).to_dict()
    assert d["distance"] == pytest.approx(1 - d["similarity"]) and isinstance(d["coefficients"], list)


def test_pwcca_on_rank_deficient_side_gives_ridge_only_directions_zero_weight():
    """A widening linear layer: x has rank 5 in 12 neurons.  By default the 7 null directions
    leave the CCA (data rank 5).  With rank_tol=None they enter it with zero variance, lifted by
    the ridge; they must then get weight 0, not crash.  Both agree with exact CCA (eps=0)."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2000, 5))
    x = z @ rng.standard_normal((5, 12))
    y = z @ rng.standard_normal((5, 8)) + 0.5 * rng.standard_normal((2000, 8))
    exact = fastcca.pwcca(x, y, eps=0)
    r = fastcca.pwcca(x, y)
    assert r.coefficients.size == 5 and "data rank 5 < 12" in " ".join(r.notes)
    kept = fastcca.pwcca(x, y, rank_tol=None)
    assert kept.coefficients.size == 8
    assert np.sum(kept.weights > 0) == 5 and "ridge-only" in " ".join(kept.notes)
    for res in (r, kept):
        assert np.isfinite(res.similarity)
        assert res.similarity == pytest.approx(exact.similarity, abs=1e-6)


@pytest.mark.parametrize("eps", [0.0, 1e-10])
def test_scalar_whitening_handles_complex_hermitian_blocks(eps):
    """Complex CCA (one DFT frequency of a conv layer): singular values of Qx^H Qy."""
    from fastcca._canonical import canonical_correlations
    from fastcca.kernels import cpu
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 5)) + 1j * rng.standard_normal((300, 5))
    y = x @ (rng.standard_normal((5, 4)) + 1j * rng.standard_normal((5, 4))) + (
        rng.standard_normal((300, 4)) + 1j * rng.standard_normal((300, 4)))
    xc, yc = x - x.mean(0), y - y.mean(0)
    exact = np.linalg.svd(np.linalg.qr(xc)[0].conj().T @ np.linalg.qr(yc)[0], compute_uv=False)
    sol = canonical_correlations(cpu, xc.conj().T @ xc, yc.conj().T @ yc, xc.conj().T @ yc, eps=eps)
    np.testing.assert_allclose(sol.rho, exact, atol=1e-8)


def test_pwcca_on_token_embeddings_with_rank_below_width():
    """Reported by the paper_repro work: 30 distinct tokens embedded in 64 neurons (rank 30)."""
    rng = np.random.default_rng(0)
    tok = rng.integers(0, 30, 2000)
    x = np.tanh(rng.standard_normal((30, 64)))[tok]
    y = x @ rng.standard_normal((64, 64)) + rng.standard_normal((2000, 64))
    r = fastcca.pwcca(x, y)
    assert r.similarity == pytest.approx(fastcca.pwcca(x, y, eps=0).similarity, abs=1e-6)
    assert np.sum(r.weights > 0) == 29  # rank 30 minus the centring
