"""Conv layers (fastcca.conv): frequency grid, exactness of the FFT block-diagonal CCA on
shift-closed data, agreement with google/svcca ``fourier_ccas`` (parity case_5), the batched
whitening against the scalar one, streaming == one-shot, merge order, bad input, files."""
from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import fastcca
from fastcca._canonical import canonical_correlations, canonical_correlations_batched, whiten, whiten_batched
from fastcca.backend import get_backend
from fastcca.conv import ConvMoments, conv_cca, conv_moments, conv_pwcca, conv_svcca, frequency_grid
from fastcca.measures.cca import cca_from_blocks
from fastcca.measures.svcca import top_directions
from conftest import PARITY_DIR, load_backend

BE = get_backend("cpu")


def host(a):
    """A state array as NumPy whatever backend holds it (CuPy and the stand-ins have ``get``):
    the suite also runs with FASTCCA_TEST_BACKEND=strict-standin / cuda (tests/conftest.py)."""
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else a
# the parity fixtures, where tests/conftest.py finds them (FASTCCA_PARITY_DIR, e.g. on a GPU machine)
CASE5 = os.path.join(str(PARITY_DIR), "case_5.npz")


def shift_closed(base):
    """Every image of ``base`` (n0, c, h, w) with all its h*w cyclic translations."""
    _, _, h, w = base.shape
    return np.concatenate([np.roll(base, (i, j), axis=(2, 3)) for i in range(h) for j in range(w)], 0)


def pair(rng, n0, c1, c2, h, w, noise=0.5):
    x0 = rng.standard_normal((n0, c1, h, w))
    x0 = x0 + 0.7 * np.roll(x0, 1, axis=2)          # spatially correlated, uneven spectrum
    mix = rng.standard_normal((c2, c1))
    y0 = np.einsum("dc,nchw->ndhw", mix, np.roll(x0, 1, axis=3)) + noise * rng.standard_normal((n0, c2, h, w))
    return x0, y0


# --------------------------------------------------------------------------- frequency grid
@pytest.mark.parametrize("sx,sy", [((8, 8), (8, 8)), ((8, 8), (6, 6)), ((5, 7), (5, 7)),
                                   ((4, 6), (5, 9)), ((3, 2), (2, 5)), ((1, 1), (1, 1)), ((6, 4), (7, 4))])
def test_grid_classes_match_fft2(sx, sy):
    """Each compared location's DFT values (both layers jointly) equal the rfft2 values at its
    class representative, or their conjugates; multiplicities count every location once."""
    rng = np.random.default_rng(0)
    g = frequency_grid(sx, sy)
    h, w = g.size
    assert g.multiplicity.sum() == h * w == len(g.locations)
    assert set(np.unique(g.multiplicity)) <= {1, 2}
    a, b = rng.standard_normal(sx), rng.standard_normal(sy)
    fa, fb = np.fft.fft2(a), np.fft.fft2(b)
    ra, rb = np.fft.rfft2(a), np.fft.rfft2(b)
    for (u, v), k in zip(g.locations, g.location_class):
        va, vb = fa[u % sx[0], v % sx[1]], fb[u % sy[0], v % sy[1]]
        wa, wb = ra[g.rows_x[k], g.cols[k]], rb[g.rows_y[k], g.cols[k]]
        same = np.allclose([va, vb], [wa, wb], atol=1e-12)
        conj = np.allclose([va, vb], np.conj([wa, wb]), atol=1e-12)
        assert same or conj
    # classes of two members really are mirror images, singletons are not duplicated
    for k in range(g.n_classes):
        members = g.locations[g.location_class == k]
        assert len(members) == g.multiplicity[k]


def test_grid_equal_sizes_is_half_spectrum():
    g = frequency_grid((8, 8), (8, 8))
    assert g.n_classes == (64 + 4) // 2          # 4 self-conjugate frequencies
    assert (g.multiplicity == 1).sum() == 4


# --------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("h,w,c1,c2", [(4, 5, 3, 2), (4, 6, 2, 3), (3, 3, 3, 3), (2, 1, 2, 2)])
def test_fft_cca_exact_on_shift_closed_data(h, w, c1, c2):
    """Union of per-frequency coefficients (with multiplicity) == plain CCA of the flattened
    h*w*c neurons, to 1e-10, for eps=0 (the block rescaling is then immaterial)."""
    rng = np.random.default_rng(h * 100 + w)
    x0, y0 = pair(rng, c1 + c2 + 6, c1, c2, h, w)
    x, y = shift_closed(x0), shift_closed(y0)
    r = conv_cca(x, y, eps=0)
    f = fastcca.cca(x.reshape(len(x), -1), y.reshape(len(y), -1), eps=0)
    assert r.coefficients.shape == f.coefficients.shape == (h * w * min(c1, c2),)
    np.testing.assert_allclose(r.coefficients, f.coefficients, atol=1e-10, rtol=0)
    assert abs(r.similarity - f.similarity) < 1e-10
    # NHWC gives the same numbers
    rn = conv_cca(x.transpose(0, 2, 3, 1), y.transpose(0, 2, 3, 1), layout="nhwc", eps=0)
    np.testing.assert_allclose(rn.per_frequency, r.per_frequency, atol=1e-12, equal_nan=True)


def test_fft_cca_eps_default_close_on_shift_closed():
    rng = np.random.default_rng(7)
    x0, y0 = pair(rng, 12, 3, 3, 4, 4)
    x, y = shift_closed(x0), shift_closed(y0)
    r = conv_cca(x, y)                                  # eps=1e-10, Cholesky route
    f = fastcca.cca(x.reshape(len(x), -1), y.reshape(len(y), -1), eps=0)
    np.testing.assert_allclose(r.coefficients, f.coefficients, atol=1e-7)


@pytest.mark.parametrize("keep,rule", [(0.9, "sum"), (0.8, "variance"), (0.5, "sum"), (7, "sum")])
def test_fft_svcca_exact_on_shift_closed_data(keep, rule):
    """conv_svcca == SVCCA of the flattened neurons keeping the same number of directions per
    side (the pooled rule keeps conjugate pairs whole, so k may be one above the flattened
    rule's cut when it splits a pair of equal eigenvalues)."""
    rng = np.random.default_rng(3)
    h, w = 4, 5
    x0, y0 = pair(rng, 14, 3, 2, h, w)
    x, y = shift_closed(x0), shift_closed(y0)
    s = conv_svcca(x, y, eps=0, keep=keep, keep_rule=rule)
    kx = int((s.multiplicity * s.k_x).sum())
    ky = int((s.multiplicity * s.k_y).sum())
    m = fastcca.Moments.from_arrays(x.reshape(len(x), -1), y.reshape(len(y), -1), backend="cpu")   # the reference
    _, lx, px = top_directions(BE, m.sxx, kx, "sum")
    _, ly, py = top_directions(BE, m.syy, ky, "sum")
    ref = cca_from_blocks(BE, m.n, np.diag(lx[:kx]), np.diag(ly[:ky]), px.T @ m.sxy @ py, eps=0)
    np.testing.assert_allclose(s.coefficients, ref.coefficients, atol=1e-10)
    assert abs(s.similarity - ref.similarity) < 1e-10
    if isinstance(keep, float):   # at least the asked fraction of the pooled spectrum is kept
        f = fastcca.svcca(m, keep=keep, keep_rule=rule, eps=0)
        assert kx >= f.k_x and ky >= f.k_y and kx - f.k_x <= 1 and ky - f.k_y <= 1


# --------------------------------------------------------------------------- batched whitening
def _blocks(rng, nb, n, p, q, complex_):
    def draw(*s):
        a = rng.standard_normal(s)
        return a + 1j * rng.standard_normal(s) if complex_ else a
    x, y = draw(nb, n, p), draw(nb, n, q)
    x[1, :, 2] = 0.0                # constant neuron -> dropped
    x[2, :, 3] = x[2, :, 0]         # duplicate -> floored
    x[3, :, 1] *= 1e-7              # tiny variance: dropped for large eps only
    y[4] = 0.0                      # empty side
    y[5, :, 0] *= 1e6               # rescaling matters
    x -= x.mean(1, keepdims=True)
    y -= y.mean(1, keepdims=True)
    h = lambda a, b: np.matmul(a.conj().transpose(0, 2, 1), b)   # noqa: E731
    return h(x, x), h(y, y), h(x, y)


@pytest.mark.parametrize("eps", [0.0, 1e-10, 1e-6, 1e-3])
def test_batched_matches_scalar_whitening(eps):
    """Real blocks: the batched route keeps, scales, ranks and correlates exactly as the
    scalar ``whiten``/``canonical_correlations`` does, block by block."""
    rng = np.random.default_rng(1)
    sxx, syy, sxy = _blocks(rng, 7, 40, 6, 4, complex_=False)
    wb = whiten_batched(BE, sxx, eps)
    sol = canonical_correlations_batched(BE, sxx, syy, sxy, eps=eps)
    for b in range(len(sxx)):
        ws = whiten(BE, sxx[b], eps)
        np.testing.assert_array_equal(wb.kept[b], ws.kept)
        assert wb.rank[b] == ws.rank and wb.route[b] == ws.route
        ref = canonical_correlations(BE, sxx[b], syy[b], sxy[b], eps=eps)
        assert sol.count[b] == len(ref.rho)
        np.testing.assert_allclose(sol.rho[b, :sol.count[b]], ref.rho, atol=1e-12)
        assert np.isnan(sol.rho[b, sol.count[b]:]).all()


@pytest.mark.parametrize("eps", [0.0, 1e-10])
def test_batched_complex_blocks_against_qr(eps):
    """Complex Hermitian blocks: canonical correlations == cosines of the principal angles
    between the column spaces (SVD-based, no covariance), up to the eps ridge."""
    rng = np.random.default_rng(2)
    n = 60
    x = rng.standard_normal((5, n, 5)) + 1j * rng.standard_normal((5, n, 5))
    y = rng.standard_normal((5, n, 3)) + 1j * rng.standard_normal((5, n, 3))
    y[:, :, :2] += x[:, :, :2]
    x[2, :, 4] = x[2, :, 1]
    x -= x.mean(1, keepdims=True)
    y -= y.mean(1, keepdims=True)
    h = lambda a, b: np.matmul(a.conj().transpose(0, 2, 1), b)   # noqa: E731
    sol = canonical_correlations_batched(BE, h(x, x), h(y, y), h(x, y), eps=eps)
    for b in range(5):
        def orth(a):
            u, s, _ = np.linalg.svd(a, full_matrices=False)
            return u[:, s > s[0] * 1e-10]
        ref = np.linalg.svd(orth(x[b]).conj().T @ orth(y[b]), compute_uv=False)
        np.testing.assert_allclose(sol.rho[b, :sol.count[b]], ref, atol=1e-8)
    # the duplicate's direction has data variance ~0: it leaves the CCA (the data-rank rule,
    # as in whiten); drop=False keeps it where the eps ridge makes the block PD
    assert sol.wx.rank[2] == sol.wx.data_rank[2] == 4
    kept = canonical_correlations_batched(BE, h(x, x), h(y, y), h(x, y), eps=eps, drop=False)
    assert kept.wx.rank[2] == (4 if eps == 0 else 5) and kept.wx.data_rank[2] == 4


# --------------------------------------------------------------------------- parity (reference)
@pytest.fixture(scope="module")
def case5():
    if not os.path.exists(CASE5):
        pytest.skip(f"parity fixture {CASE5} not found")
    return np.load(CASE5)


@pytest.mark.parametrize("key,pair_", [("fourier_same", ("conv1", "conv2")), ("fourier_resize", ("conv1", "conv3"))])
def test_parity_fourier_ccas(case5, key, pair_):
    """google/svcca fourier_ccas per location (it ran with epsilon=0, complex64 fft2): ours
    with eps=0 from float64 rfft2, expanded to its locations.  Observed max diff 2e-8."""
    a, b = case5[pair_[0]], case5[pair_[1]]
    r = conv_cca(a, b, layout="nhwc", eps=0)
    locs, coefs = r.per_location()
    ref_loc = case5[key + "_location"]
    h, w = r.grid.size
    np.testing.assert_array_equal(np.stack(np.unravel_index(np.arange(h * w), (h, w)), 1), ref_loc)
    np.testing.assert_allclose(coefs, case5[key + "_coef"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(np.nanmean(coefs, 1), case5[key + "_mean_all"], atol=1e-6)


def test_parity_flat_is_fold_mode(case5):
    """The fixture's ``conv_flat`` (x.reshape(N*h*w, c).T: positions as datapoints) is mode='fold'."""
    a, b = case5["conv1"], case5["conv2"]
    r = conv_cca(a, b, layout="nhwc", mode="fold", eps=float(case5["epsilon"]))
    np.testing.assert_allclose(r.coefficients, case5["flat_cca_coef"], atol=1e-10)
    assert abs(r.similarity - case5["flat_cca_mean_all"]) < 1e-10
    assert abs(r.inner.threshold_mean(0.98) - case5["flat_cca_mean_thr"]) < 1e-10
    np.testing.assert_allclose(r.coefficients, case5["flat_qr_cca_coef"], atol=1e-8)
    p = conv_pwcca(b, a, layout="nhwc", mode="fold", variant="reference", eps=float(case5["epsilon"]))
    assert abs(p.similarity - case5["flat_pwcca_21"]) < 1e-8
    # NCHW input of the same data gives the same fold result
    rc = conv_cca(a.transpose(0, 3, 1, 2), b.transpose(0, 3, 1, 2), mode="fold", eps=float(case5["epsilon"]))
    np.testing.assert_allclose(rc.coefficients, r.coefficients, atol=1e-12)


# --------------------------------------------------------------------------- other modes
def test_flatten_and_mean_modes_are_reshapes():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((300, 3, 4, 5)).astype(np.float32)
    y = rng.standard_normal((300, 2, 3, 3)) + 0.1
    y[:, 0] += x[:, 0, :3, :3]
    f = conv_cca(x, y, mode="flatten", batch_size=64)
    ref = fastcca.cca(x.reshape(300, -1), y.reshape(300, -1))
    np.testing.assert_allclose(f.coefficients, ref.coefficients, atol=1e-10)
    mm = conv_svcca(x, y, mode="mean", keep=2)
    ref = fastcca.svcca(x.mean(axis=(2, 3), dtype=np.float64), y.mean(axis=(2, 3)), keep=2)
    np.testing.assert_allclose(mm.coefficients, ref.coefficients, atol=1e-10)
    pw = conv_pwcca(x, y)                       # default mode="mean"
    ref = fastcca.pwcca(x.mean(axis=(2, 3), dtype=np.float64), y.mean(axis=(2, 3)))
    assert abs(pw.similarity - ref.similarity) < 1e-10 and pw.mode == "mean"


def test_self_similarity_and_different_sizes():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((80, 3, 5, 7))
    r = conv_cca(x, x)
    np.testing.assert_allclose(r.coefficients, 1.0, atol=1e-6)
    y = rng.standard_normal((80, 2, 4, 9))
    r = conv_cca(x, y)
    assert r.grid.size == (4, 7)
    assert r.multiplicity.sum() == 28
    locs, coefs = r.per_location()
    assert coefs.shape == (28, 2) and np.all((coefs >= 0) & (coefs <= 1))


def test_degenerate_warning():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 4, 4, 4))
    with pytest.warns(fastcca.DegenerateCCAWarning):
        conv_cca(x, rng.standard_normal((5, 4, 4, 4)))


# --------------------------------------------------------------------------- streaming, merge
def _assert_moments_close(a, b, tol=1e-10):
    assert a.n == b.n
    for k in ("mean_x", "mean_y", "sxx", "syy", "sxy"):
        u, v = host(getattr(a, k)), host(getattr(b, k))
        assert np.abs(u - v).max() <= tol * max(1.0, np.abs(v).max()), k


def test_streaming_equals_one_shot_and_chunking():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((97, 3, 6, 5)) * 3 + 5.0        # large mean: Chan's rule matters
    y = rng.standard_normal((97, 4, 6, 5)).astype(np.float32) - 2.0
    one = ConvMoments().update(x, y)
    stream = ConvMoments()
    for lo, hi in [(0, 10), (10, 11), (11, 60), (60, 97)]:
        stream.update(x[lo:hi], y[lo:hi])
    _assert_moments_close(stream, one)
    tiny = ConvMoments(chunk_bytes=1).update(x, y)            # one image per internal chunk
    _assert_moments_close(tiny, one)
    # chunks of 10 images: the reused chunk buffers, the last chunk (7 images) in their leading part
    ten = ConvMoments(chunk_bytes=10 * 2 * 8 * one.grid.n_classes * (3 + 4)).update(x, y)
    _assert_moments_close(ten, one)
    fa = ConvMoments.from_arrays(x, y, batch_size=13)
    _assert_moments_close(fa, one)
    np.testing.assert_allclose(conv_cca(stream).coefficients, conv_cca(x, y).coefficients, atol=1e-10)
    # blocks are the uncentred-DFT scatter of the data
    z = np.fft.rfft2(x, axes=(2, 3))
    zf = z[:, :, one.grid.rows_x[3], one.grid.cols[3]]
    zc = zf - zf.mean(0)
    np.testing.assert_allclose(host(one.sxx)[3], zc.conj().T @ zc, rtol=1e-10, atol=1e-8)


def test_merge_order():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((60, 2, 4, 4)) + 1.0
    y = rng.standard_normal((60, 3, 4, 4))
    shards = [ConvMoments().update(x[lo:lo + 20], y[lo:lo + 20]) for lo in (0, 20, 40)]
    a = shards[0].copy().merge(shards[1]).merge(shards[2])
    b = shards[2].copy().merge(shards[0]).merge(shards[1])
    c = ConvMoments().merge(shards[1]).merge(ConvMoments()).merge(shards[2].copy().merge(shards[0]))
    one = ConvMoments().update(x, y)
    for m in (a, b, c):
        _assert_moments_close(m, one)
    assert shards[0].n == 20                                  # copies were merged, not mutated


def test_same_array_twice():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((30, 2, 3, 3))
    m = ConvMoments().update(x, x)
    assert m.sxx is not m.syy and m.sxx is not m.sxy
    m.update(x[:5], x[:5] + 1.0)
    _assert_moments_close(ConvMoments().update(np.concatenate([x, x[:5]]), np.concatenate([x, x[:5] + 1.0])), m)


# --------------------------------------------------------------------------- bad input
def _state(m):
    return None if m.n == 0 else (m.n, *(host(getattr(m, k)).copy() for k in ("mean_x", "mean_y", "sxx", "syy", "sxy")))


def _same_state(a, b):
    if a is None or b is None:
        return a is b
    return a[0] == b[0] and all(np.array_equal(u, v) for u, v in zip(a[1:], b[1:]))


def test_bad_input_leaves_accumulator_unchanged():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((20, 2, 4, 4))
    y = rng.standard_normal((20, 3, 4, 4))
    m = ConvMoments(chunk_bytes=1).update(x, y)
    before = _state(m)
    bad_nan = x.copy()
    bad_nan[15, 1, 2, 3] = np.nan                             # in a late internal chunk
    bad_inf = y.copy()
    bad_inf[19, 0, 0, 0] = np.inf
    cases = [
        ((bad_nan, y), ValueError, "NaN or Inf"),
        ((x, bad_inf), ValueError, "y: the batch holds NaN or Inf"),
        ((x[:, 0], y), ValueError, "4-D"),
        ((x, y[:10]), ValueError, "same datapoints"),
        ((x[:, :1], y), ValueError, "channels"),
        ((x[:, :, :3], y), ValueError, "differ from the accumulator"),
        ((x.astype(complex), y), TypeError, "real"),
        ((x[:0], y[:0]), ValueError, "empty"),
        ((np.array(["a"] * 4).reshape(1, 1, 2, 2), y[:1]), TypeError, "numeric"),
    ]
    for (a, b), exc, msg in cases:
        with pytest.raises(exc, match=msg):
            m.update(a, b)
        assert _same_state(_state(m), before)
    with pytest.raises(ValueError, match="NaN"):
        ConvMoments().update(bad_nan, y)
    with pytest.raises(ValueError, match="differ"):
        m.merge(ConvMoments().update(x[:, :, :3], y))
    with pytest.raises(TypeError, match="ConvMoments"):
        m.merge(fastcca.Moments())
    assert _same_state(_state(m), before)


def test_bad_arguments():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((20, 2, 4, 4))
    with pytest.raises(ValueError, match="layout"):
        conv_cca(x, x, layout="chw")
    with pytest.raises(ValueError, match="mode"):
        conv_cca(x, x, mode="pool")
    with pytest.raises(ValueError, match="same \\(h, w\\)"):
        conv_cca(x, x[:, :, :3], mode="fold")
    with pytest.raises(TypeError, match="needs a"):
        conv_cca(ConvMoments().update(x, x), mode="fold")
    with pytest.raises(TypeError, match="y: missing"):
        conv_cca(x)
    with pytest.raises(ValueError, match="empty"):
        conv_cca(ConvMoments())
    with pytest.raises(ValueError, match="mode"):
        conv_pwcca(x, x, mode="fft")
    with pytest.raises(ValueError, match="eps"):
        conv_cca(x, x, eps=-1)
    if importlib.util.find_spec("cupy") is None:    # the GPU check runs this file with CuPy
        with pytest.raises(fastcca.BackendUnavailableError):
            ConvMoments(backend="cuda")


# --------------------------------------------------------------------------- files
def test_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((25, 2, 5, 4))
    y = rng.standard_normal((25, 3, 4, 6))
    m = ConvMoments().update(x, y)
    path = tmp_path / "m.npz"
    m.save(path)
    back = ConvMoments.load(path, backend=load_backend())
    _assert_moments_close(back, m, tol=0)
    assert back.grid.n_classes == m.grid.n_classes
    # bitwise on the same backend; a stand-in's state loads onto the CPU, whose LAPACK rounds apart
    tol = 0 if back.backend == m.backend else 1e-14
    np.testing.assert_allclose(conv_cca(back).coefficients, conv_cca(m).coefficients, rtol=0, atol=tol)
    fastcca.Moments.from_arrays(rng.standard_normal((5, 2)), rng.standard_normal((5, 2))).save(tmp_path / "p.npz")
    with pytest.raises(fastcca.FastccaFileError, match="expected a fastcca.ConvMoments"):
        ConvMoments.load(tmp_path / "p.npz")
    (tmp_path / "t.npz").write_bytes(path.read_bytes()[:100])
    with pytest.raises(fastcca.FastccaFileError):
        ConvMoments.load(tmp_path / "t.npz")


def test_conv_moments_modes():
    rng = np.random.default_rng(14)
    x = rng.standard_normal((40, 2, 3, 3))
    y = rng.standard_normal((40, 2, 3, 3))
    assert isinstance(conv_moments(x, y), ConvMoments)
    m = conv_moments(x, y, mode="fold", batch_size=7)
    assert m.n == 40 * 9 and m.p == 2
    np.testing.assert_allclose(conv_cca(m, mode="fold").coefficients, conv_cca(x, y, mode="fold").coefficients, atol=1e-12)


def test_float32_precision_close_to_float64():
    rng = np.random.default_rng(15)
    x = rng.standard_normal((200, 4, 8, 8)).astype(np.float32)
    y = (0.5 * x[:, :3] + rng.standard_normal((200, 3, 8, 8))).astype(np.float32)
    r64 = conv_cca(x, y)
    r32 = conv_cca(x, y, precision="float32")
    np.testing.assert_allclose(r32.per_frequency, r64.per_frequency, atol=1e-5, equal_nan=True)
    m = ConvMoments(precision="float32").update(x, y)
    assert m.sxx.dtype == np.complex128                       # the state stays double precision
    with pytest.raises(ValueError, match="precision"):
        ConvMoments(precision="float16")


def test_result_to_dict_and_str():
    rng = np.random.default_rng(16)
    x = rng.standard_normal((60, 2, 4, 4))
    r = conv_cca(x, x + 0.5 * rng.standard_normal(x.shape))
    d = r.to_dict()
    assert d["mode"] == "fft" and len(d["per_frequency"]) == r.grid.n_classes and d["grid"] is None
    assert "frequency classes" in str(r)
    f = conv_cca(x, x, mode="mean")
    assert f.to_dict()["inner"]["measure"] == "cca" and "mode='mean'" in str(f)
    assert r.per_frequency_similarity.shape == (r.grid.n_classes,)


def test_results_do_not_depend_on_the_block_threads(monkeypatch):
    """The CPU shares the transforms, the stats pass, the block products and the batched LAPACK
    calls between its block threads (kernels/cpu.py); every block is still computed by the same
    calls in the same order, so one thread gives the same numbers bit for bit."""
    from fastcca.kernels import cpu
    rng = np.random.default_rng(21)
    x, y = pair(rng, 300, 5, 4, 8, 6)
    runs = []
    for threads in (cpu.BLOCK_THREADS, 1):
        monkeypatch.setattr(cpu, "BLOCK_THREADS", threads)
        m = ConvMoments().update(x, y)
        runs.append((host(m.sxx).copy(), host(m.sxy).copy(), conv_cca(m).coefficients, conv_svcca(m).coefficients))
    for a, b in zip(*runs):
        assert np.array_equal(a, b)
