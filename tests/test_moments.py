"""Moments: streaming equals one-shot, merge order is irrelevant, bad input leaves state unchanged."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastcca
from fastcca import Moments
from conftest import make_pair


def direct_moments(x, y):
    xc, yc = x - x.mean(0), y - y.mean(0)
    return xc.T @ xc, yc.T @ yc, xc.T @ yc


def host(a):
    """A state array as NumPy whatever backend holds it (CuPy and the stand-ins have ``get``;
    FASTCCA_TEST_BACKEND runs this file on them, and ``load`` reads onto the CPU)."""
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else a


def assert_same_moments(a, b, rtol=1e-12):
    assert a.n == b.n
    for k in ("mean_x", "mean_y", "sxx", "syy", "sxy"):
        va, vb = host(getattr(a, k)), host(getattr(b, k))
        scale = max(np.abs(vb).max(), 1e-300)
        assert np.abs(va - vb).max() <= rtol * scale, k


def test_one_shot_matches_definition(pair):
    x, y = pair
    m = Moments.from_arrays(x, y)
    sxx, syy, sxy = direct_moments(x, y)
    assert m.n == len(x) and (m.p, m.q) == (x.shape[1], y.shape[1])
    np.testing.assert_allclose(m.mean_x, x.mean(0), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(m.sxx, sxx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m.syy, syy, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m.sxy, sxy, rtol=1e-12, atol=1e-12)
    cxx, _, cxy = m.covariance(ddof=1)
    np.testing.assert_allclose(cxy, np.cov(x.T, y.T)[:12, 12:], rtol=1e-11, atol=1e-13)


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(1, 299), min_size=1, max_size=6, unique=True),
       shift=st.floats(-1e3, 1e3), seed=st.integers(0, 2**16))
def test_any_batch_split_equals_one_shot(cuts, shift, seed):
    x, y = make_pair(300, 7, 5, seed=seed)
    x = x + shift  # large offsets test the stability of the mean update
    whole = Moments.from_arrays(x, y)
    bounds = [0] + sorted(cuts) + [300]
    streamed = Moments()
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        streamed.update(x[lo:hi], y[lo:hi])
    assert_same_moments(streamed, whole)


@settings(max_examples=25, deadline=None)
@given(order=st.permutations(range(4)), seed=st.integers(0, 2**16))
def test_merge_order_does_not_matter(order, seed):
    x, y = make_pair(400, 6, 8, seed=seed)
    parts = [Moments.from_arrays(x[i * 100:(i + 1) * 100], y[i * 100:(i + 1) * 100]) for i in range(4)]
    left = Moments()
    for i in order:
        left.merge(parts[i].copy())
    # a tree: (a+b) + (c+d)
    a, b, c, d = (parts[i].copy() for i in order)
    tree = a.merge(b).merge(c.merge(d))
    whole = Moments.from_arrays(x, y)
    assert_same_moments(left, whole)
    assert_same_moments(tree, whole)


def test_measures_equal_streamed_and_one_shot(pair):
    x, y = pair
    m = Moments()
    for lo in range(0, len(x), 37):
        m.update(x[lo:lo + 37], y[lo:lo + 37])
    for f in (fastcca.cca, fastcca.svcca, fastcca.pwcca, fastcca.linear_cka):
        a, b = f(m), f(x, y)
        np.testing.assert_allclose(a.coefficients, b.coefficients, rtol=1e-10, atol=1e-12)
        assert abs(a.similarity - b.similarity) <= 1e-10


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_dtypes_and_orders(pair, dtype, order):
    x, y = pair
    xd = np.asarray(x.astype(dtype), order=order)
    yd = np.asarray(y.astype(dtype), order=order)
    m = Moments.from_arrays(xd, yd, batch_size=128)
    ref = Moments.from_arrays(xd.astype(np.float64), yd.astype(np.float64))
    assert m.sxx.dtype == np.float64
    assert_same_moments(m, ref, rtol=1e-12)


def test_bfloat16_input(pair):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x, y = pair
    xb, yb = x.astype(ml_dtypes.bfloat16), y.astype(ml_dtypes.bfloat16)
    m = Moments.from_arrays(xb, yb)
    ref = Moments.from_arrays(xb.astype(np.float64), yb.astype(np.float64))
    assert_same_moments(m, ref)


def test_same_array_for_x_and_y(pair):
    x, _ = pair
    a = Moments.from_arrays(x, x, batch_size=100)
    b = Moments.from_arrays(x, x.copy(), batch_size=100)
    assert_same_moments(a, b)
    a.update(x[:10], x[:10] * 2)  # later batches may differ: the blocks must be independent
    b.update(x[:10], x[:10] * 2)
    assert_same_moments(a, b)


@pytest.mark.parametrize("bad, match", [
    (lambda x, y: (x.copy(), np.where(np.arange(y.size).reshape(y.shape) == 7, np.nan, y)), "y: the batch holds NaN"),
    (lambda x, y: (np.where(np.arange(x.size).reshape(x.shape) == 3, np.inf, x), y), "x: the batch holds NaN or Inf"),
    (lambda x, y: (x[:10], y[:11]), "same datapoints"),
    (lambda x, y: (x[:, 0], y), "expected a 2-D array"),
    (lambda x, y: (x[None], y), "expected a 2-D array"),
    (lambda x, y: (x[:0], y[:0]), "empty input"),
    (lambda x, y: (x[:, :3], y), "neuron counts"),
    (lambda x, y: (x + 0j, y), "complex"),
])
def test_bad_update_leaves_state_unchanged(pair, bad, match):
    x, y = pair
    m = Moments.from_arrays(x[:200], y[:200])
    before = m.copy()
    bx, by = bad(x[200:300], y[200:300])
    with pytest.raises((ValueError, TypeError), match=match):
        m.update(bx, by)
    assert_same_moments(m, before, rtol=0)


def test_nan_detected_on_large_fused_path():
    x = np.random.default_rng(0).standard_normal((4000, 64)).astype(np.float32)
    x[1234, 17] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Moments().update(x, x[:, :5].copy())


def test_merge_checks(pair):
    x, y = pair
    m = Moments.from_arrays(x, y)
    with pytest.raises(ValueError, match="neuron counts"):
        m.merge(Moments.from_arrays(x[:, :4], y))
    with pytest.raises(TypeError, match="fastcca.Moments"):
        m.merge(np.zeros(3))
    n = m.n
    m.merge(Moments())  # empty merge is a no-op
    assert m.n == n


def test_save_load_roundtrip(tmp_path, pair):
    x, y = pair
    m = Moments.from_arrays(x, y)
    path = tmp_path / "m.npz"
    m.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary file left behind
    back = Moments.load(path)
    assert_same_moments(back, m, rtol=0)
    assert fastcca.svcca(back).similarity == fastcca.svcca(m).similarity
    assert back.precision == "float64"


def test_save_load_keeps_precision(tmp_path, pair):
    # float32 products are remembered, so measures on the loaded moments still check their error
    x, y = pair
    m32 = Moments.from_arrays(x, y, precision="float32")
    m32.save(tmp_path / "m32.npz")
    back = Moments.load(tmp_path / "m32.npz")
    assert back.precision == "float32"
    assert_same_moments(back, m32, rtol=0)
    # a file from before precision was saved reads as float64
    with np.load(tmp_path / "m32.npz") as z:
        old = {k: z[k] for k in z.files if k != "precision"}
    np.savez(tmp_path / "old.npz", **old)
    assert Moments.load(tmp_path / "old.npz").precision == "float64"


def test_load_rejects_foreign_and_truncated_files(tmp_path, pair):
    x, y = pair
    np.savez(tmp_path / "foreign.npz", a=np.zeros(3))
    with pytest.raises(fastcca.FastccaFileError, match="format"):
        Moments.load(tmp_path / "foreign.npz")
    good = tmp_path / "good.npz"
    Moments.from_arrays(x, y).save(good)
    data = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(fastcca.FastccaFileError, match="not a readable"):
        Moments.load(tmp_path / "trunc.npz")
    # an object array would need pickle: it must be refused, never executed
    np.savez(tmp_path / "pickled.npz", format=np.array("fastcca.Moments/1"), n=np.array(object(), dtype=object))
    with pytest.raises(fastcca.FastccaFileError):
        Moments.load(tmp_path / "pickled.npz")


def test_empty_moments_errors():
    with pytest.raises(ValueError, match="empty"):
        fastcca.cca(Moments())
    with pytest.raises(ValueError, match="empty"):
        Moments().save("unused.npz")


def test_concurrent_updates_from_threads_are_safe_and_exact():
    """Updates from several threads at once: the serial nogil kernels share no state."""
    from concurrent.futures import ThreadPoolExecutor
    x, y = make_pair(8000, 64, 48, seed=9)
    chunks = [(x[i:i + 1000], y[i:i + 1000]) for i in range(0, 8000, 1000)]

    def part(c):
        return Moments.from_arrays(*c)

    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(part, chunks * 3))
    total = Moments()
    for p in parts[:8]:
        total.merge(p)
    assert_same_moments(total, Moments.from_arrays(x, y))


def test_float32_precision_error_is_bounded():
    """precision="float32": float32 batch products merged into float64 state.  Documented bound:
    scatter within 1e-6 relative, canonical correlations and similarities within 1e-6."""
    x, y = make_pair(20000, 64, 48, seed=11)
    x = x + 3.0  # an offset: centring happens in float64 before the cast
    m64 = Moments.from_arrays(x, y, batch_size=5000)
    m32 = Moments.from_arrays(x, y, batch_size=5000, precision="float32")
    assert m32.sxx.dtype == np.float64 and m32.precision == "float32"
    for k in ("sxx", "syy", "sxy"):
        a, b = getattr(m32, k), getattr(m64, k)
        assert np.abs(a - b).max() <= 1e-6 * np.abs(b).max(), k
    for f in (fastcca.cca, fastcca.svcca, fastcca.pwcca, fastcca.linear_cka):
        assert abs(f(m32).similarity - f(m64).similarity) <= 1e-6
    np.testing.assert_allclose(fastcca.cca(x, y, precision="float32").coefficients,
                               fastcca.cca(m64).coefficients, atol=1e-6)
    with pytest.raises(ValueError, match="precision"):
        Moments(precision="half")
