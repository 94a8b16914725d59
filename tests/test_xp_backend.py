"""The CUDA backend's array logic (kernels/_xp_backend.py) on NumPy stand-ins, in CPU CI.

Every measure computed through the generic backend -- on plain NumPy and on the strict device
stand-in that raises wherever host and device arrays mix (tests/xp_standin.py) -- must agree
with the CPU backend to 1e-10; streaming, merging, saving, chunked host input and bad input
behave as on the CPU.  On a GPU, tests/gpu/test_cuda.py repeats the agreement checks on CuPy.
"""
import contextlib
import types
import warnings

import numpy as np
import pytest
import scipy.linalg as sla

import fastcca
import fastcca.backend as dispatch
from fastcca import Moments
from fastcca.kernels._xp_backend import make_backend
from conftest import make_pair
import xp_standin
from xp_standin import DeviceArray, HostDeviceMixError, to_device

TOL = 1e-10

BACKENDS = {
    "numpy": lambda: xp_standin.numpy_backend(),
    "strict": lambda: xp_standin.strict_backend(),
    # the CUDA defaults (Gram route for the canonical correlations) and the eigh route for vectors
    "strict-gram": lambda: xp_standin.strict_backend(svdvals_route="gram", svd_route="gram"),
    "strict-gemm": lambda: xp_standin.strict_backend(use_syrk=False),
}


@pytest.fixture(params=list(BACKENDS))
def be(request):
    return BACKENDS[request.param]()


def measures(be):
    """(name, function of a Moments) pairs; the reference PWCCA formula depends on the singular
    vectors' signs, which the Gram route fixes differently than LAPACK's gesvd."""
    out = {
        "cca": lambda m: fastcca.cca(m, weights=True),
        "cca_eps0": lambda m: fastcca.cca(m, eps=0),
        "mean_cca": lambda m: fastcca.mean_cca(m, threshold=0.98),
        "svcca": lambda m: fastcca.svcca(m),
        "svcca_k": lambda m: fastcca.svcca(m, keep=5),
        "svcca_var": lambda m: fastcca.svcca(m, keep=0.99, keep_rule="variance"),
        "pwcca": lambda m: fastcca.pwcca(m),
        "pwcca_y": lambda m: fastcca.pwcca(m, side="y"),
        "cka": lambda m: fastcca.linear_cka(m, spectrum=True),
    }
    if be.svd_route == "svd":
        out["pwcca_ref"] = lambda m: fastcca.pwcca(m, variant="reference")
    return out


def assert_results_agree(a, b, tol=TOL, label="", weights=True):
    assert a.similarity == pytest.approx(b.similarity, abs=tol), label
    assert a.coefficients.shape == b.coefficients.shape, label
    np.testing.assert_allclose(a.coefficients, b.coefficients, atol=tol, rtol=0, err_msg=label)
    assert a.notes == b.notes, label
    for f in ("kept_x", "kept_y", "rank_x", "rank_y", "k_x", "k_y", "side"):
        if hasattr(b, f):
            va, vb = getattr(a, f), getattr(b, f)
            assert np.array_equal(va, vb), (label, f)
    if getattr(b, "weights", None) is not None:
        np.testing.assert_allclose(a.weights, b.weights, atol=1e-8, err_msg=label)
    for f in ("x_weights", "y_weights"):
        wa, wb = getattr(a, f, None), getattr(b, f, None)
        if wb is not None and weights:
            # canonical weights are unique up to sign per column
            signs = np.sign(np.sum(wa * wb, axis=0))
            np.testing.assert_allclose(wa * signs, wb, atol=1e-7, err_msg=label)
    for f in ("singular_values_x", "singular_values_y"):
        if getattr(b, f, None) is not None:
            # compare eigenvalues (squares): sqrt amplifies rounding-level ones of null directions
            la, lb = getattr(a, f) ** 2, getattr(b, f) ** 2
            np.testing.assert_allclose(la, lb, atol=1e-12 * lb.max(), rtol=1e-10, err_msg=label)


def host(be, a):
    return be.to_numpy(a)


def assert_same_state(m, ref, rtol=1e-12):
    assert m.n == ref.n
    for k in ("mean_x", "mean_y", "sxx", "syy", "sxy"):
        a, b = host(m._be, getattr(m, k)), getattr(ref, k)
        assert isinstance(a, np.ndarray) and a.dtype == np.float64
        assert np.abs(a - b).max() <= rtol * max(np.abs(b).max(), 1e-300), k


# --------------------------------------------------------------------------- measures
@pytest.mark.parametrize("shape", [(600, 12, 9), (400, 9, 14), (30, 8, 6)])
def test_measures_agree_with_cpu(be, shape):
    n, p, q = shape
    x, y = make_pair(n, p, q, seed=p * q)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastcca.DegenerateCCAWarning)
        ref = Moments.from_arrays(x, y, backend="cpu")
        m = Moments._with_backend_module(be).update(x, y)
        for name, f in measures(be).items():
            assert_results_agree(f(m), f(ref), label=f"{be.NAME} {name} {shape}")


def test_measures_on_device_input_and_through_auto(be):
    """Arrays already on the device go in as they are; ``backend="auto"`` routes through the
    backend when it is the override (how FASTCCA_TEST_BACKEND runs the whole suite)."""
    x, y = make_pair(500, 10, 7, seed=3)
    dx, dy = (to_device(x), to_device(y)) if be.xp.ndarray is DeviceArray else (x, y)
    old, dispatch._auto_host_override = dispatch._auto_host_override, be
    try:
        m = Moments._with_backend_module(be).update(dx, dy)
        assert m.backend == be.NAME
        for name, f in measures(be).items():
            assert_results_agree(f(m), f(Moments.from_arrays(x, y, backend="cpu")), label=name)
        assert_results_agree(fastcca.svcca(x, y), fastcca.svcca(x, y, backend="cpu"))
        assert_results_agree(fastcca.pwcca(x, y), fastcca.pwcca(x, y, backend="cpu"))
        assert fastcca.Moments.from_arrays(x, y).backend == be.NAME
    finally:
        dispatch._auto_host_override = old


def test_constant_and_duplicate_neurons(be):
    x, y = make_pair(400, 8, 6, seed=5)
    x[:, 2] = 3.0
    x = np.hstack([x, x[:, :1]])
    ref = Moments.from_arrays(x, y, backend="cpu")
    m = Moments._with_backend_module(be).update(x, y)
    for name, f in measures(be).items():
        r = f(m)
        assert np.all(np.isfinite(r.coefficients)), name
        # a duplicated neuron's canonical weight may be split either way: compare the rest
        assert_results_agree(r, f(ref), label=name, weights=False)


def test_all_constant_side(be):
    x = np.ones((50, 4))
    _, y = make_pair(50, 4, 3)
    m = Moments._with_backend_module(be).update(x, y)
    ref = Moments.from_arrays(x, y, backend="cpu")
    for name in ("cca", "svcca", "pwcca", "cka"):
        assert_results_agree(measures(be)[name](m), measures(be)[name](ref), label=name)


def test_identical_inputs(be):
    x, _ = make_pair(300, 7, 1, seed=2)
    m = Moments._with_backend_module(be).update(x, x)
    for f in (lambda m: fastcca.cca(m, eps=0), lambda m: fastcca.svcca(m, eps=0),
              lambda m: fastcca.pwcca(m, eps=0), fastcca.linear_cka):
        r = f(m)
        assert r.similarity == pytest.approx(1.0, abs=1e-9), r.measure


# --------------------------------------------------------------------------- moments
def test_streaming_merge_and_copy(be):
    x, y = make_pair(700, 9, 6, seed=11)
    x = x + 100.0  # a large offset checks the mean update
    ref = Moments.from_arrays(x, y, backend="cpu")
    streamed = Moments._with_backend_module(be)
    for lo in range(0, 700, 130):
        streamed.update(x[lo:lo + 130], y[lo:lo + 130])
    assert_same_state(streamed, ref)
    parts = [Moments._with_backend_module(be).update(x[i:i + 175], y[i:i + 175]) for i in range(0, 700, 175)]
    tree = parts[0].copy().merge(parts[1]).merge(parts[2].copy().merge(parts[3]))
    assert_same_state(tree, ref)
    assert_same_state(parts[0], Moments.from_arrays(x[:175], y[:175], backend="cpu"))  # copy() kept it
    with pytest.raises(ValueError, match="lives on backend"):
        ref.copy().merge(tree)
    assert_results_agree(fastcca.pwcca(tree), fastcca.pwcca(ref))


def test_same_array_for_x_and_y(be):
    x, _ = make_pair(200, 6, 1)
    m = Moments._with_backend_module(be).update(x, x)
    m.update(x[:50], x[:50] * 2.0)  # later batches may differ: blocks are independent copies
    ref = Moments.from_arrays(x, x, backend="cpu").update(x[:50], x[:50] * 2.0)
    assert_same_state(m, ref)


def test_save_on_device_load_on_cpu(be, tmp_path):
    x, y = make_pair(300, 6, 5)
    m = Moments._with_backend_module(be).update(x, y)
    m.save(tmp_path / "m.npz")
    back = Moments.load(tmp_path / "m.npz")
    assert back.backend == "cpu"
    assert_same_state(m, back, rtol=0)
    assert_results_agree(fastcca.svcca(m), fastcca.svcca(back))


def test_bad_input_leaves_state_unchanged(be):
    x, y = make_pair(100, 5, 4)
    m = Moments._with_backend_module(be).update(x, y)
    before = {k: host(be, getattr(m, k)).copy() for k in ("mean_x", "sxx", "sxy")}
    cpu = Moments.from_arrays(x, y, backend="cpu")
    xnan = x.copy()
    xnan[3, 1] = np.nan
    yinf = y.copy()
    yinf[7, 0] = -np.inf
    cases = [((xnan, y), ValueError), ((x, yinf), ValueError), ((x[:50], y), ValueError),
             ((x[:, :3], y), ValueError), ((x.ravel(), y), ValueError), ((x[:0], y[:0]), ValueError),
             ((x + 1j, y), TypeError), ((x.astype(str), y), TypeError)]
    device = be.xp.ndarray is DeviceArray
    for (bx, by), err in cases:
        with pytest.raises(err) as on_cpu:
            cpu.copy().update(bx, by)
        inputs = [(bx, by)]
        if device and bx.dtype.kind != "U":
            inputs.append((to_device(bx), to_device(by)))
        for ix, iy in inputs:
            with pytest.raises(err) as here:
                m.update(ix, iy)
            assert str(here.value) == str(on_cpu.value)
    assert m.n == 100
    for k, v in before.items():
        assert np.array_equal(host(be, getattr(m, k)), v), k


def test_device_dtypes_are_normalised(be):
    x, y = make_pair(200, 5, 4, seed=9)
    ref = Moments.from_arrays(x, y, backend="cpu")
    for dt, tol in ((np.float32, 1e-5), (np.float16, 1e-2), (np.int64, None)):
        xd = (x * 10).astype(dt) if dt == np.int64 else x.astype(dt)
        a = be.as_matrix(to_device(xd) if be.xp.ndarray is DeviceArray else xd, "x")
        assert a.dtype == (np.float32 if dt in (np.float32, np.float16) else np.float64)
        if tol:
            m = Moments._with_backend_module(be).update(xd, y.astype(dt))
            assert fastcca.cca(m).similarity == pytest.approx(fastcca.cca(ref).similarity, abs=tol)


def test_torch_cpu_tensor_goes_the_host_path(be):
    torch = pytest.importorskip("torch")
    x, y = make_pair(200, 5, 4, seed=4)
    m = Moments._with_backend_module(be).update(torch.from_numpy(x), torch.from_numpy(y).to(torch.bfloat16))
    ref = Moments.from_arrays(x, torch.from_numpy(y).to(torch.bfloat16), backend="cpu")
    assert_same_state(m, ref)


# --------------------------------------------------------------------------- streaming host arrays
def fake_free_memory(nbytes):
    return lambda: (nbytes, 4 * nbytes)


def test_host_array_larger_than_device_streams_in_chunks():
    n, p, q = 5000, 16, 12
    x, y = make_pair(n, p, q, seed=1)
    x = x.astype(np.float32)
    state = 3 * 8 * (p * p + q * q + p * q)
    per_row = 8 * (p + q) + 4 * p + 8 * q
    free = 2 * (state + 700 * per_row)       # half of it usable: 700 rows per batch
    be = xp_standin.strict_backend(mem_info=fake_free_memory(free))
    assert be.default_batch_rows(x, y) == 700
    assert xp_standin.strict_backend().default_batch_rows(x, y) is None   # no mem_info: one batch
    assert xp_standin.strict_backend(mem_info=fake_free_memory(10**12)).default_batch_rows(x, y) is None
    calls = []
    m = Moments._with_backend_module(be)
    real_update = m.update
    m.update = lambda a, b: calls.append(len(a)) or real_update(a, b)
    m._fill_from_arrays(x, y, None)
    assert calls == [700] * 7 + [100]
    ref = Moments.from_arrays(x, y, backend="cpu")
    assert_same_state(m, ref, rtol=1e-12)
    assert_results_agree(fastcca.cca(m), fastcca.cca(ref))
    # a device array needs no transfer buffer: more rows per batch
    assert be.default_batch_rows(to_device(x), to_device(y)) > 700
    # float32 GEMM mode also holds float32 copies of the batch
    with be.options(gemm_dtype="float32"):
        assert be.default_batch_rows(x, y) < 700
    # x is y: one set of copies
    assert be.default_batch_rows(x, x) > 700


def test_state_that_does_not_fit_is_a_clear_error():
    x, y = make_pair(100, 30, 20)
    be = xp_standin.strict_backend(mem_info=fake_free_memory(1000))
    with pytest.raises(MemoryError, match="p=30, q=20"):
        Moments._with_backend_module(be)._fill_from_arrays(x, y, None)


# --------------------------------------------------------------------------- primitives
def test_syrk_gives_the_full_symmetric_block(be):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 17))
    d = to_device(a) if be.xp.ndarray is DeviceArray else a
    s = host(be, be.scatter(d, d))
    assert np.array_equal(s, s.T)
    np.testing.assert_allclose(s, a.T @ a, rtol=1e-13, atol=1e-12)
    b = rng.standard_normal((300, 5))
    np.testing.assert_allclose(host(be, be.scatter(d, to_device(b) if be.xp.ndarray is DeviceArray else b)),
                               a.T @ b, rtol=1e-13, atol=1e-12)


def test_float32_gemm_mode_error_is_within_its_documented_bound(be):
    """Documented: float32 products on float64-centred data, relative error of the scatter
    blocks <= 1e-6 (measured ~1e-7, BENCHMARKS.md); float64 state."""
    x, y = make_pair(4000, 20, 15, seed=8)
    ref = Moments.from_arrays(x, y, backend="cpu")
    with be.options(gemm_dtype="float32"):
        m = Moments._with_backend_module(be).update(x + 1e3, y)
    for k in ("sxx", "syy", "sxy"):
        a, b = host(be, getattr(m, k)), getattr(ref, k)
        assert a.dtype == np.float64
        assert np.linalg.norm(a - b) <= 1e-6 * np.linalg.norm(b), k
    assert fastcca.svcca(m).similarity == pytest.approx(fastcca.svcca(ref).similarity, abs=1e-5)
    # the backend option marks the state like precision="float32" does, so measures check it
    assert m.float32_products and not ref.float32_products


def test_gram_routes_agree_with_the_svd_and_fall_back(be):
    rng = np.random.default_rng(1)
    dev = (lambda a: to_device(a)) if be.xp.ndarray is DeviceArray else (lambda a: a)
    g = xp_standin.strict_backend(svdvals_route="gram", svd_route="gram") if be.xp.ndarray is DeviceArray \
        else xp_standin.numpy_backend(svdvals_route="gram", svd_route="gram")
    for shape in ((12, 7), (7, 12), (9, 9)):
        a = rng.standard_normal(shape)
        np.testing.assert_allclose(host(g, g.svdvals(dev(a))), np.linalg.svd(a, compute_uv=False), atol=1e-13)
        u, s, vh = (host(g, t) for t in g.svd(dev(a)))
        np.testing.assert_allclose((u * s) @ vh, a, atol=1e-12)
        np.testing.assert_allclose(u.T @ u, np.eye(len(s)), atol=1e-12)
        np.testing.assert_allclose(vh @ vh.T, np.eye(len(s)), atol=1e-12)
    # rank deficient: the smallest eigenvalue falls under the floor -> the SVD itself
    a = rng.standard_normal((10, 4)) @ rng.standard_normal((4, 8))
    np.testing.assert_allclose(host(g, g.svdvals(dev(a))), np.linalg.svd(a, compute_uv=False), atol=1e-14)
    u, s, vh = (host(g, t) for t in g.svd(dev(a)))
    np.testing.assert_allclose((u * s) @ vh, a, atol=1e-12)


def test_cholesky_not_pd_is_none_whether_raised_or_nan():
    pd = np.array([[4.0, 1.0], [1.0, 3.0]])
    not_pd = np.array([[1.0, 2.0], [2.0, 1.0]])
    for be in (xp_standin.numpy_backend(), xp_standin.strict_backend()):
        dev = to_device if be.xp.ndarray is DeviceArray else np.asarray
        np.testing.assert_allclose(host(be, be.cholesky(dev(pd))), np.linalg.cholesky(pd))
        assert be.cholesky(dev(not_pd)) is None
    # a library that returns NaN instead of raising (CuPy without errstate does)
    nan_linalg = types.SimpleNamespace(cholesky=lambda a: np.full_like(a, np.nan) if np.linalg.eigvalsh(a)[0] <= 0
                                       else np.linalg.cholesky(a))
    nan_xp = types.SimpleNamespace(**{k: getattr(np, k) for k in ("ndarray", "isfinite", "diagonal", "float64")},
                                   linalg=nan_linalg)
    be = make_backend(nan_xp, sla.solve_triangular, "nan-cholesky")
    assert be.cholesky(not_pd) is None
    np.testing.assert_allclose(be.cholesky(pd), np.linalg.cholesky(pd))
    # the errstate hook wraps the factorisation (CuPy: cupyx.errstate(linalg="raise"))
    state = {"inside": False}

    @contextlib.contextmanager
    def errstate():
        state["inside"] = True
        yield
        state["inside"] = False

    def checked(a):
        assert state["inside"], "cholesky ran outside errstate"
        return np.linalg.cholesky(a)
    be = make_backend(types.SimpleNamespace(**vars(nan_xp) | {"linalg": types.SimpleNamespace(cholesky=checked)}),
                      sla.solve_triangular, "errstate", errstate=errstate)
    assert be.cholesky(not_pd) is None and be.cholesky(pd) is not None


def test_eigh_top_and_solve_lower(be):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((40, 9))
    s = a.T @ a
    dev = to_device if be.xp.ndarray is DeviceArray else np.asarray
    w, v = (host(be, t) for t in be.eigh_top(dev(s), 4))
    wr, vr = np.linalg.eigh(s)
    np.testing.assert_allclose(w, wr[::-1][:4], rtol=1e-12)
    np.testing.assert_allclose(np.abs(v.T @ vr[:, ::-1][:, :4]), np.eye(4), atol=1e-10)
    assert host(be, be.eigh_top(dev(s), 0)[1]).shape == (9, 0)
    l = np.linalg.cholesky(s)
    b = rng.standard_normal((9, 3))
    np.testing.assert_allclose(host(be, be.solve_lower(dev(l), dev(b))), np.linalg.solve(l, b), atol=1e-12)
    np.testing.assert_allclose(host(be, be.solve_lower(dev(l), dev(b), trans=True)), np.linalg.solve(l.T, b), atol=1e-12)


def test_configure_rejects_unknown_options():
    be = xp_standin.numpy_backend()
    with pytest.raises(TypeError, match="unknown option"):
        be.configure(gemm="float16")
    with pytest.raises(ValueError, match="gemm_dtype"):
        be.configure(gemm_dtype="float16")
    with pytest.raises(ValueError, match="svd_route"):
        be.configure(svd_route="jacobi")


# --------------------------------------------------------------------------- the stand-in itself
def test_strict_standin_catches_host_device_mixing():
    d = to_device(np.eye(3))
    for f in (np.asarray, lambda a: np.clip(a, 0, 1), lambda a: a + np.ones(3), lambda a: a[np.array([0, 1])],
              lambda a: xp_standin.sxp.dot(a, np.ones(3))):
        with pytest.raises(HostDeviceMixError):
            f(d)
    assert float(d.max()) == 1.0 and isinstance(np.sqrt(d), DeviceArray)
    assert isinstance(xp_standin.sxp.asarray(np.ones(2)), DeviceArray)


@pytest.mark.slow
def test_whole_suite_runs_on_the_strict_standin():
    """FASTCCA_TEST_BACKEND=strict-standin runs test_measures/moments/parity, the conv tests
    (ConvMoments, the measures' fft and reshape modes, JointConvMoments) and the bad-input tests
    through the generic backend (auto resolves host input to it)."""
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, FASTCCA_TEST_BACKEND="strict-standin", PYTHONPATH=root)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_measures.py",
                        "tests/test_moments.py", "tests/test_parity.py", "tests/test_conv.py",
                        "tests/test_conv_joint.py", "tests/test_bad_input.py"], cwd=root, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and "failed" not in r.stdout


# --------------------------------------------------------------------------- kernels/cuda.py itself
_ROOT = __import__("os").path.dirname(__import__("os").path.dirname(__import__("os").path.abspath(__file__)))


def _run_with_fake_cupy(args, timeout, **env_extra):
    """Run ``python args`` with tests/fake_cupy on the path (CuPy's API on the strict stand-in)."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([_ROOT, os.path.join(_ROOT, "tests", "fake_cupy")]),
               **env_extra)
    return subprocess.run([sys.executable] + args, cwd=_ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_cuda_module_binds_the_generic_backend_to_cupy():
    """kernels/cuda.py imported through the real dispatcher, with the fake CuPy: backend="cuda"
    and CuPy-array input (auto) agree with the CPU; NumPy input goes through the host path."""
    code = """
import numpy as np, cupy, fastcca
from fastcca.kernels import cuda
assert cupy.FAKE and fastcca.get_backend("cuda") is cuda and cuda.NAME == "cuda"
rng = np.random.default_rng(0)
x = rng.standard_normal((400, 9)); y = x[:, :6] @ rng.standard_normal((6, 7)) + rng.standard_normal((400, 7))
for f in (fastcca.cca, fastcca.svcca, fastcca.pwcca, fastcca.linear_cka):
    ref = f(x, y, backend="cpu")
    for r in (f(x, y, backend="cuda"), f(cupy.asarray(x), cupy.asarray(y))):
        assert isinstance(r.coefficients, np.ndarray)
        assert abs(r.similarity - ref.similarity) < 1e-10, (f.__name__, r.similarity, ref.similarity)
        assert r.coefficients.shape == ref.coefficients.shape
        assert np.all(np.abs(r.coefficients - ref.coefficients) < 1e-10)
m = fastcca.Moments.from_arrays(cupy.asarray(x), y)
assert m.backend == "cuda" and isinstance(m.sxx, cupy.ndarray)
assert cuda.as_matrix(m.sxx, "s") is m.sxx
assert cuda._impl.svdvals_route == "gram" and cuda._impl.gemm_dtype == "float64"
assert cuda.default_batch_rows(x, y) is None
# conv layers: backend="cuda" with host input, CuPy input through auto, and the state on the device
a = rng.standard_normal((150, 3, 6, 5)) + 1.0
b = np.roll(a[:, :2], 1, axis=3) + 0.5 * rng.standard_normal((150, 2, 6, 5))
for f in (fastcca.conv_cca, fastcca.conv_svcca):
    ref = f(a, b, backend="cpu")
    for r in (f(a, b, backend="cuda"), f(cupy.asarray(a), cupy.asarray(b))):
        assert isinstance(r.per_frequency, np.ndarray)
        assert abs(r.similarity - ref.similarity) < 1e-10, (f.__name__, r.similarity, ref.similarity)
        assert np.all(np.abs(r.coefficients - ref.coefficients) < 1e-10)
cm = fastcca.ConvMoments.from_arrays(cupy.asarray(a), cupy.asarray(b))
assert cm.backend == "cuda" and isinstance(cm.sxx, cupy.ndarray)
pw = fastcca.conv_pwcca(a, b, backend="cuda")
assert abs(pw.similarity - fastcca.conv_pwcca(a, b, backend="cpu").similarity) < 1e-10
print("OK", cuda.device_name())
"""
    r = _run_with_fake_cupy(["-c", code], timeout=300)
    assert r.returncode == 0 and "OK fake-cupy" in r.stdout, r.stdout[-2000:] + r.stderr[-3000:]
    r = _run_with_fake_cupy(["-c", "from fastcca.kernels import cuda; print(cuda._impl.gemm_dtype)"], timeout=120,
                            FASTCCA_CUDA_GEMM="float32")
    assert r.stdout.strip() == "float32", r.stderr[-2000:]


@pytest.mark.slow
def test_gpu_tests_pass_on_the_fake_cupy():
    r = _run_with_fake_cupy(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/gpu"], timeout=900)
    assert r.returncode == 0 and " passed" in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]


@pytest.mark.slow
def test_gpu_check_dry_run_plumbing(tmp_path):
    """asv_bench/gpu_check.py --dry-run: every step runs and the JSON records them; a forced
    correctness failure makes it exit non-zero."""
    import json
    out = tmp_path / "gpu.json"
    r = _run_with_fake_cupy(["asv_bench/gpu_check.py", "--dry-run", "--skip-suite", "--out", str(out)], timeout=900)
    rec = json.loads(out.read_text())
    assert r.returncode == 0 and rec["passed"] and rec["dry_run"], r.stdout[-3000:] + r.stderr[-2000:]
    assert rec["card"].startswith("fake-cupy") and rec["steps"]["tests/gpu"]["counts"]["passed"] >= 10
    names = {c["name"] for c in rec["checks"]}
    assert {"cca speedup vs straightforward CuPy", "svcca time / cca time", "pwcca time / cca time",
            "host input streamed in small chunks agrees"} <= names
    assert all(not c["enforced"] for c in rec["checks"] if "time" in c["name"] or "speedup" in c["name"])


def test_batch_rows_for_torch_and_low_precision_host_input():
    torch = pytest.importorskip("torch")
    p, q = 16, 12
    state = 3 * 8 * (p * p + q * q + p * q)
    be = xp_standin.strict_backend(mem_info=fake_free_memory(2 * (state + 100 * (8 * (p + q) + 4 * (p + q)))))
    x32 = np.zeros((5000, p), np.float32)
    y32 = np.zeros((5000, q), np.float32)
    assert be.default_batch_rows(x32, y32) == 100
    assert be.default_batch_rows(torch.from_numpy(x32), torch.from_numpy(y32)) == 100
    assert be.default_batch_rows(torch.from_numpy(x32).to(torch.bfloat16), y32.astype(np.float16)) == 100
    assert be.default_batch_rows(x32.astype(np.float64), y32) < 100


def test_gpu_check_without_cupy_fails_loudly(tmp_path):
    """No CuPy (this CPU): the check exits 2 and its JSON says why -- it can never pass silently."""
    import json
    import os
    import subprocess
    import sys
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    out = tmp_path / "gpu.json"
    r = subprocess.run([sys.executable, "asv_bench/gpu_check.py", "--out", str(out)], cwd=_ROOT,
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=_ROOT))
    rec = json.loads(out.read_text())
    assert r.returncode == 2 and rec["passed"] is False
    assert "cupy" in rec["failures"][0].lower()


@pytest.mark.slow
def test_gpu_check_fails_on_a_wrong_primitive(tmp_path):
    """A fake CuPy whose SYRK is off by 1e-6 relative: the GPU tests and the SYRK check fail,
    the script exits 1 and the JSON lists both failures."""
    import json
    out = tmp_path / "gpu.json"
    r = _run_with_fake_cupy(["asv_bench/gpu_check.py", "--dry-run", "--skip-suite", "--out", str(out)],
                            timeout=900, FAKE_CUPY_BREAK="syrk")
    rec = json.loads(out.read_text())
    assert r.returncode == 1 and rec["passed"] is False, r.stdout[-3000:]
    text = " ".join(rec["failures"])
    assert "tests/gpu" in text and "syrk" in text
