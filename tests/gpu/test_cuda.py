"""The CUDA backend on a real GPU (CuPy): agreement with the CPU backend, zero-copy inputs,
streamed host input.  Skipped cleanly without CuPy or a device; run by asv_bench/gpu_check.py.

Tolerances: float64 1e-9 on coefficients and summaries (issue [cuda]); the float32 GEMM mode
by its documented bound (relative 1e-6 on the scatter blocks).
"""
import warnings

import numpy as np
import pytest

cupy = pytest.importorskip("cupy")
try:
    _N_DEVICES = cupy.cuda.runtime.getDeviceCount()
except Exception:  # CUDARuntimeError without a driver
    _N_DEVICES = 0
if _N_DEVICES < 1:
    pytest.skip("no CUDA device visible to CuPy", allow_module_level=True)

import fastcca  # noqa: E402
from fastcca import Moments  # noqa: E402
from fastcca.kernels import cuda  # noqa: E402
from conftest import make_pair  # noqa: E402

pytestmark = pytest.mark.gpu
TOL = 1e-9

MEASURES = {
    "cca": lambda m: fastcca.cca(m),
    "cca_eps0": lambda m: fastcca.cca(m, eps=0),
    "cca_weights": lambda m: fastcca.cca(m, weights=True),
    "mean_cca": lambda m: fastcca.mean_cca(m, threshold=0.98),
    "svcca": lambda m: fastcca.svcca(m),
    "svcca_k": lambda m: fastcca.svcca(m, keep=5),
    "svcca_var": lambda m: fastcca.svcca(m, keep_rule="variance"),
    "pwcca": lambda m: fastcca.pwcca(m),
    "pwcca_y": lambda m: fastcca.pwcca(m, side="y"),
    "cka": lambda m: fastcca.linear_cka(m, spectrum=True),
}


def agree(a, b, tol=TOL, label=""):
    assert a.similarity == pytest.approx(b.similarity, abs=tol), label
    np.testing.assert_allclose(a.coefficients, b.coefficients, atol=tol, rtol=0, err_msg=label)
    assert isinstance(a.coefficients, np.ndarray), "results come back as NumPy"
    for f in ("kept_x", "kept_y", "rank_x", "rank_y", "k_x", "k_y"):
        if hasattr(b, f):
            assert np.array_equal(getattr(a, f), getattr(b, f)), (label, f)
    if getattr(b, "weights", None) is not None:
        np.testing.assert_allclose(a.weights, b.weights, atol=1e-7, err_msg=label)


def state(m):
    return {k: cupy.asnumpy(getattr(m, k)) if isinstance(getattr(m, k), cupy.ndarray) else getattr(m, k)
            for k in ("mean_x", "mean_y", "sxx", "syy", "sxy")}


def same_state(a, b, rtol=1e-12):
    assert a.n == b.n
    sa, sb = state(a), state(b)
    for k in sa:
        assert np.abs(sa[k] - sb[k]).max() <= rtol * max(np.abs(sb[k]).max(), 1e-300), k


@pytest.mark.parametrize("shape", [(2000, 40, 30), (600, 12, 25), (40, 10, 8)])
def test_measures_agree_with_cpu(shape):
    x, y = make_pair(*shape, seed=sum(shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastcca.DegenerateCCAWarning)
        ref = Moments.from_arrays(x, y, backend="cpu")
        for m in (Moments.from_arrays(x, y, backend="cuda"),
                  Moments.from_arrays(cupy.asarray(x), cupy.asarray(y))):    # auto -> cuda
            assert m.backend == "cuda" and isinstance(m.sxx, cupy.ndarray)
            same_state(m, ref)
            for name, f in MEASURES.items():
                agree(f(m), f(ref), label=f"{name} {shape}")


def test_reference_pwcca_on_centred_data():
    """The reference formula depends on the singular vectors' signs through the neuron means;
    with (numerically) zero means it must agree."""
    x, y = make_pair(1500, 20, 14, seed=2)
    x, y = x - x.mean(0), y - y.mean(0)
    for side in ("fewer", "y"):
        agree(fastcca.pwcca(x, y, variant="reference", side=side, backend="cuda"),
              fastcca.pwcca(x, y, variant="reference", side=side, backend="cpu"), label=side)


def test_array_api_with_every_backend_argument():
    x, y = make_pair(800, 16, 12, seed=4)
    cx, cy = cupy.asarray(x), cupy.asarray(y)
    for f in (fastcca.cca, fastcca.svcca, fastcca.pwcca, fastcca.linear_cka, fastcca.mean_cca):
        ref = f(x, y, backend="cpu")
        agree(f(x, y, backend="cuda"), ref, label=f.__name__)
        agree(f(cx, cy), ref, label=f.__name__)
        agree(f(cx, cy, backend="cuda"), ref, label=f.__name__)


def test_constant_duplicate_neurons_and_all_constant_side():
    x, y = make_pair(500, 9, 7, seed=6)
    x[:, 3] = 2.0
    x = np.hstack([x, x[:, :2]])
    for name, f in MEASURES.items():
        r = f(Moments.from_arrays(x, y, backend="cuda"))
        assert np.all(np.isfinite(r.coefficients)), name
        agree(r, f(Moments.from_arrays(x, y, backend="cpu")), label=name)
    ones = np.ones((100, 4))
    for f in (fastcca.cca, fastcca.svcca, fastcca.pwcca, fastcca.linear_cka):
        agree(f(ones, y[:100], backend="cuda"), f(ones, y[:100], backend="cpu"))


def test_streaming_merge_save_load(tmp_path):
    x, y = make_pair(3000, 30, 20, seed=8)
    x = x + 50.0
    ref = Moments.from_arrays(x, y, backend="cpu")
    parts = [Moments(backend="cuda") for _ in range(3)]
    for i, lo in enumerate(range(0, 3000, 250)):
        parts[i % 3].update(cupy.asarray(x[lo:lo + 250]), y[lo:lo + 250])
    merged = parts[0].merge(parts[1]).merge(parts[2])
    same_state(merged, ref)
    merged.save(tmp_path / "m.npz")
    back = Moments.load(tmp_path / "m.npz", backend="cuda")
    assert back.backend == "cuda" and isinstance(back.sxx, cupy.ndarray)
    same_state(back, merged, rtol=0)
    agree(fastcca.pwcca(back), fastcca.pwcca(ref))
    with pytest.raises(ValueError, match="lives on backend"):
        ref.copy().merge(merged)


def test_bad_input_same_errors_state_unchanged():
    x, y = make_pair(100, 5, 4)
    m = Moments(backend="cuda").update(x, y)
    before = state(m)
    cpu = Moments.from_arrays(x, y, backend="cpu")
    xnan = x.copy()
    xnan[4, 2] = np.nan
    cases = [((xnan, y), ValueError), ((x[:60], y), ValueError), ((x[:, :2], y), ValueError),
             ((x.ravel(), y), ValueError), ((x[:0], y[:0]), ValueError), ((x + 1j, y), TypeError)]
    for (bx, by), err in cases:
        with pytest.raises(err) as on_cpu:
            cpu.copy().update(bx, by)
        for ix, iy in ((bx, by), (cupy.asarray(bx), cupy.asarray(by))):
            with pytest.raises(err) as here:
                m.update(ix, iy)
            assert str(here.value) == str(on_cpu.value)
    after = state(m)
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_cupy_input_is_used_in_place():
    x = cupy.asarray(make_pair(100, 6, 1)[0])
    assert cuda.as_matrix(x, "x").data.ptr == x.data.ptr
    x32 = x.astype(cupy.float32)
    assert cuda.as_matrix(x32, "x").data.ptr == x32.data.ptr
    assert fastcca.get_backend("auto", x) is cuda


def test_torch_cuda_tensors_zero_copy():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA here")
    x, y = make_pair(700, 12, 9, seed=10)
    tx = torch.from_numpy(x).cuda()
    ty = torch.from_numpy(y).float().cuda()
    assert cuda.as_matrix(tx, "x").data.ptr == tx.data_ptr()
    assert cuda.as_matrix(ty, "y").data.ptr == ty.data_ptr()
    assert fastcca.get_backend("auto", tx) is cuda
    ref = fastcca.svcca(x, y.astype(np.float32), backend="cpu")
    agree(fastcca.svcca(tx, ty), ref, tol=1e-6)   # y went through float32
    agree(fastcca.cca(tx, tx.T.contiguous().T), fastcca.cca(x, x, backend="cpu"))
    bf = torch.from_numpy(y).to(torch.bfloat16)
    agree(fastcca.cca(tx, bf.cuda()), fastcca.cca(x, bf, backend="cpu"))


def test_host_array_streams_in_chunks_sized_to_free_memory(monkeypatch):
    x, y = make_pair(20000, 24, 16, seed=12)
    x = x.astype(np.float32)
    p, q = 24, 16
    state_bytes = 3 * 8 * (p * p + q * q + p * q)
    per_row = 8 * (p + q) + 4 * p + 8 * q
    monkeypatch.setattr(cuda._impl, "_mem_info", lambda: (2 * (state_bytes + 3000 * per_row), 10**10))
    assert cuda.default_batch_rows(x, y) == 3000
    sizes = []
    real = Moments.update
    monkeypatch.setattr(Moments, "update", lambda self, a, b: sizes.append(len(a)) or real(self, a, b))
    m = Moments.from_arrays(x, y, backend="cuda")
    assert sizes == [3000] * 6 + [2000]
    same_state(m, Moments.from_arrays(x, y, backend="cpu"))
    monkeypatch.undo()
    # the real free memory: a small array goes in one batch
    assert cuda.default_batch_rows(x, y) is None


def test_primitives_on_the_device():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5000, 64))
    da = cupy.asarray(a)
    s = cupy.asnumpy(cuda.scatter(da, da))
    assert np.array_equal(s, s.T)
    np.testing.assert_allclose(s, a.T @ a, rtol=1e-12, atol=1e-9)
    with cuda.options(use_syrk=False):
        np.testing.assert_allclose(cupy.asnumpy(cuda.scatter(da, da)), s, rtol=1e-12, atol=1e-9)
    with cuda.options(gemm_dtype="float32"):
        s32 = cupy.asnumpy(cuda.scatter(da, da))
    assert np.linalg.norm(s32 - s) <= 1e-6 * np.linalg.norm(s)
    not_pd = cupy.asarray([[1.0, 2.0], [2.0, 1.0]])
    assert cuda.cholesky(not_pd) is None
    pd = cupy.asarray(s / 5000 + np.eye(64))
    l = cuda.cholesky(pd)
    np.testing.assert_allclose(cupy.asnumpy(l @ l.T), cupy.asnumpy(pd), atol=1e-12)
    b = cupy.asarray(rng.standard_normal((64, 5)))
    np.testing.assert_allclose(cupy.asnumpy(l @ cuda.solve_lower(l, b)), cupy.asnumpy(b), atol=1e-10)
    np.testing.assert_allclose(cupy.asnumpy(l.T @ cuda.solve_lower(l, b, trans=True)), cupy.asnumpy(b), atol=1e-10)
    m = cupy.asarray(rng.standard_normal((30, 50)))
    sv = np.linalg.svd(cupy.asnumpy(m), compute_uv=False)
    np.testing.assert_allclose(cupy.asnumpy(cuda.svdvals(m)), sv, atol=1e-12)
    with cuda.options(svdvals_route="svd", svd_route="gram"):
        np.testing.assert_allclose(cupy.asnumpy(cuda.svdvals(m)), sv, atol=1e-12)
        u, s_, vh = cuda.svd(m)
        np.testing.assert_allclose(cupy.asnumpy((u * s_) @ vh), cupy.asnumpy(m), atol=1e-11)
    w, v = cuda.eigh_top(pd, 5)
    np.testing.assert_allclose(cupy.asnumpy(w), np.linalg.eigvalsh(cupy.asnumpy(pd))[::-1][:5], rtol=1e-12)
    assert cuda.device_name()


# ------------------------------------------------------------------------------ conv layers
CONV_MEASURES = {
    "conv_cca": lambda m: fastcca.conv_cca(m),
    "conv_cca_eps0": lambda m: fastcca.conv_cca(m, eps=0),
    "conv_svcca": lambda m: fastcca.conv_svcca(m),
    "conv_svcca_k": lambda m: fastcca.conv_svcca(m, keep=9),
}


def conv_pair(n=300, shapes=((6, 8, 8), (5, 8, 8)), seed=0):
    rng = np.random.default_rng(seed)
    (c1, h1, w1), (c2, h2, w2) = shapes
    x = rng.standard_normal((n, c1, h1, w1)) + 1.5
    x = x + 0.5 * np.roll(x, 1, axis=2)
    y = np.einsum("dc,nchw->ndhw", rng.standard_normal((c2, c1)), x[:, :, :h2, :w2]) \
        + 0.6 * rng.standard_normal((n, c2, h2, w2))
    return x, y


def conv_agree(a, b, tol=TOL, label=""):
    agree(a, b, tol=tol, label=label)
    if getattr(b, "per_frequency", None) is not None:
        np.testing.assert_allclose(a.per_frequency, b.per_frequency, atol=tol, rtol=0, err_msg=label)
        assert np.array_equal(a.rank_x, b.rank_x) and np.array_equal(a.rank_y, b.rank_y), label


@pytest.mark.parametrize("shapes", [((6, 8, 8), (5, 8, 8)), ((4, 9, 7), (3, 6, 6))])
def test_conv_measures_agree_with_cpu(shapes):
    x, y = conv_pair(shapes=shapes)
    ref = fastcca.ConvMoments(backend="cpu").update(x, y)
    for label, m in (("host input", fastcca.ConvMoments(backend="cuda").update(x, y)),
                     ("CuPy input", fastcca.ConvMoments().update(cupy.asarray(x), cupy.asarray(y)))):
        assert m.backend == "cuda" and isinstance(m.sxx, cupy.ndarray), label
        for k in ("mean_x", "sxx", "syy", "sxy"):
            a, b = cupy.asnumpy(getattr(m, k)), getattr(ref, k)
            assert np.abs(a - b).max() <= 1e-12 * np.abs(b).max(), (label, k)
        for name, f in CONV_MEASURES.items():
            conv_agree(f(m), f(ref), label=f"{name}, {label}")
    for mode in ("fold", "mean") if shapes[0][1:] == shapes[1][1:] else ("mean",):
        for f in (fastcca.conv_cca, fastcca.conv_svcca, fastcca.conv_pwcca):
            agree(f(x, y, mode=mode, backend="cuda"), f(x, y, mode=mode, backend="cpu"), label=f"{f.__name__} {mode}")


def test_conv_float32_and_streaming_and_files(tmp_path):
    x, y = conv_pair(n=500, seed=1)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    r32 = fastcca.conv_cca(x32, y32, backend="cuda", precision="float32")
    ref32 = fastcca.conv_cca(x32, y32, backend="cpu", precision="float32")
    np.testing.assert_allclose(r32.coefficients, ref32.coefficients, atol=1e-6)   # the documented bound
    stream = fastcca.ConvMoments.from_arrays(x, y, backend="cuda", batch_size=70)
    one = fastcca.ConvMoments(backend="cpu").update(x, y)
    conv_agree(fastcca.conv_cca(stream), fastcca.conv_cca(one))
    stream.save(tmp_path / "c.npz")
    back = fastcca.ConvMoments.load(tmp_path / "c.npz", backend="cuda")
    assert isinstance(back.sxx, cupy.ndarray)
    conv_agree(fastcca.conv_svcca(back), fastcca.conv_svcca(one))
    with pytest.raises(ValueError, match="lives on backend"):
        one.copy().merge(stream)


def test_conv_torch_cuda_tensors_and_the_fft_grid():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA here")
    x, y = conv_pair(seed=2)
    tx, ty = torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()
    conv_agree(fastcca.conv_svcca(tx, ty), fastcca.conv_svcca(x, y, backend="cpu"))
    from fastcca.conv.joint import JointConvMoments
    jm = JointConvMoments([("x", "y"), ("x", "x")], backend="cuda")
    for lo in range(0, 300, 100):
        jm.update({"x": tx[lo:lo + 100], "y": ty[lo:lo + 100]})
    assert jm.backend == "cuda"
    conv_agree(fastcca.conv_cca(jm.moments("x", "y")), fastcca.conv_cca(x, y, backend="cpu"))


def test_conv_small_eig_jacobi_route_agrees():
    x, y = conv_pair(seed=3)
    ref = fastcca.conv_cca(x, y, backend="cpu")
    for route in ("library",) if getattr(cupy, "FAKE", False) else ("library", "jacobi"):
        with cuda.options(small_eig=route):
            conv_agree(fastcca.conv_cca(x, y, backend="cuda"), ref, label=route)


def test_jacobi_kernel_matches_its_twin_and_lapack():
    if getattr(cupy, "FAKE", False):
        pytest.skip("the fake CuPy cannot compile CUDA")
    from fastcca.kernels import _jacobi
    rng = np.random.default_rng(4)
    for n in (1, 2, 7, 32, 64, 129, 256):
        a = rng.standard_normal((12, n, n + 3)) + 1j * rng.standard_normal((12, n, n + 3))
        h = a @ a.conj().transpose(0, 2, 1)
        h[1] = np.eye(n)
        w, sweeps = _jacobi.CudaJacobi(cupy)(cupy.asarray(h))
        tw, tsweeps = _jacobi.eigvalsh_twin(h)
        ref = np.linalg.eigvalsh(h)
        scale = np.linalg.norm(h, axis=(1, 2))[:, None]
        bound = 4 * max(_jacobi.TOL, n * _jacobi.SKIP) * scale
        assert (np.abs(cupy.asnumpy(w) - ref) <= bound).all(), n
        assert (np.abs(cupy.asnumpy(w) - tw) <= bound).all(), n
        assert np.abs(cupy.asnumpy(sweeps) - tsweeps).max() <= 1, n


def test_batched_primitives_on_the_device():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((40, 16, 33)) + 1j * rng.standard_normal((40, 16, 33))
    s = a @ a.conj().transpose(0, 2, 1)
    s[7] = -np.eye(16)
    l, ok = cuda.cholesky_batched(cupy.asarray(s))
    assert ok.tolist() == [i != 7 for i in range(40)]
    inv = cupy.asnumpy(cuda.inv_lower_batched(l[cupy.asarray(np.flatnonzero(ok))]))
    np.testing.assert_allclose(inv, np.linalg.inv(np.linalg.cholesky(s[ok])), atol=1e-10)
    m = cupy.asarray(a[:, :, :10])
    np.testing.assert_allclose(cupy.asnumpy(cuda.svdvals(m)), np.linalg.svd(a[:, :, :10], compute_uv=False),
                               atol=1e-10)
