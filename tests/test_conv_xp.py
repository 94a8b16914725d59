"""Conv layers on the CUDA backend's array logic, in CPU CI (issue [cuda-2]).

``ConvMoments``, ``JointConvMoments`` and the conv measures run unchanged on every backend: here
on the generic backend of ``kernels/_xp_backend.py`` over plain NumPy and over the strict device
stand-in (``tests/xp_standin.py``: host/device mixing raises, as on CuPy), against the CPU
backend.  Also the batched small-block primitives both backends share (``kernels/_batched.py``)
and the NumPy twin of the batched Hermitian Jacobi eigenvalue kernel (``kernels/_jacobi.py``),
whose CUDA source is compiled here when CuPy's NVRTC is available (skipped otherwise).  On a GPU,
``tests/gpu/test_cuda.py`` repeats the agreement checks on CuPy.
"""
import itertools
import warnings

import numpy as np
import pytest

import fastcca
from fastcca import ConvMoments
from fastcca._canonical import canonical_correlations_batched, whiten_batched
from fastcca.backend import get_backend
from fastcca.conv.joint import JointConvMoments
from fastcca.kernels import _batched, _jacobi
import xp_standin
from xp_standin import to_device

CPU = get_backend("cpu")
TOL = 1e-10
BACKENDS = {
    "numpy": lambda: xp_standin.numpy_backend(),
    "strict": lambda: xp_standin.strict_backend(),
    # the CUDA default for the canonical correlations (Gram route), with the Jacobi eigensolver twin
    "strict-gram-jacobi": lambda: xp_standin.strict_backend(svdvals_route="gram", small_eig="jacobi"),
}


@pytest.fixture(params=list(BACKENDS))
def be(request):
    return BACKENDS[request.param]()


def host(be, a):
    return be.to_numpy(a)


def dev(be, a):
    """``a`` "on the device" of ``be`` (the strict stand-in's DeviceArray; plain NumPy for the
    NumPy backend, whose device arrays are NumPy arrays)."""
    return to_device(a) if be.xp is xp_standin.sxp else np.array(a)


def conv_layers(seed=0, n=120, shapes=((3, 6, 5), (4, 6, 5)), mean=(2.0, -1.0)):
    """Two correlated conv layers (NCHW float64) with large means (Chan's rule matters)."""
    rng = np.random.default_rng(seed)
    (c1, h1, w1), (c2, h2, w2) = shapes
    x = rng.standard_normal((n, c1, h1, w1))
    x = x + 0.6 * np.roll(x, 1, axis=2) + mean[0]
    core = x[:, :, :h2, :w2] if (h2, w2) <= (h1, w1) else np.pad(x, ((0, 0), (0, 0), (0, h2 - h1), (0, w2 - w1)))
    mix = rng.standard_normal((c2, c1))
    y = np.einsum("dc,nchw->ndhw", mix, core) + 0.7 * rng.standard_normal((n, c2, h2, w2)) + mean[1]
    return x, y


def on(be, **kw):
    return ConvMoments._with_backend_module(be, **kw)


def assert_same_state(m, ref, tol=1e-12):
    assert m.n == ref.n and m.grid.n_classes == ref.grid.n_classes
    for k in ("mean_x", "mean_y", "sxx", "syy", "sxy"):
        a, b = m._be.to_numpy(getattr(m, k)), getattr(ref, k)
        assert isinstance(a, np.ndarray)
        assert np.abs(a - b).max() <= tol * max(np.abs(b).max(), 1.0), k


def assert_conv_results_agree(r, ref, tol=TOL, label=""):
    assert isinstance(r.coefficients, np.ndarray), "results come back as NumPy"
    assert r.similarity == pytest.approx(ref.similarity, abs=tol), label
    np.testing.assert_allclose(r.coefficients, ref.coefficients, atol=tol, rtol=0, err_msg=label)
    if ref.per_frequency is not None:
        np.testing.assert_allclose(r.per_frequency, ref.per_frequency, atol=tol, rtol=0, err_msg=label)
        for f in ("rank_x", "rank_y", "k_x", "k_y", "per_frequency_count"):
            if getattr(ref, f) is not None:
                assert np.array_equal(getattr(r, f), getattr(ref, f)), (label, f)


MEASURES = {
    "cca": lambda m: fastcca.conv_cca(m),
    "cca_eps0": lambda m: fastcca.conv_cca(m, eps=0),
    "cca_rank_tol_none": lambda m: fastcca.conv_cca(m, rank_tol=None),
    "svcca": lambda m: fastcca.conv_svcca(m),
    "svcca_k": lambda m: fastcca.conv_svcca(m, keep=7),
    "svcca_var": lambda m: fastcca.conv_svcca(m, keep=0.9, keep_rule="variance"),
}


# ------------------------------------------------------------------------------ ConvMoments
@pytest.mark.parametrize("shapes", [((3, 6, 5), (4, 6, 5)), ((3, 6, 6), (2, 4, 5))])
def test_conv_measures_agree_with_cpu(be, shapes):
    x, y = conv_layers(shapes=shapes)
    ref = ConvMoments(backend="cpu").update(x, y)
    for label, (xi, yi) in {"host input": (x, y), "device input": (dev(be, x), dev(be, y))}.items():
        m = on(be).update(xi, yi)
        assert m.backend == be.NAME
        assert_same_state(m, ref)
        for name, f in MEASURES.items():
            assert_conv_results_agree(f(m), f(ref), label=f"{name}, {label}")


def test_float32_precision_agrees_with_cpu(be):
    x, y = conv_layers(seed=1)
    ref = ConvMoments(backend="cpu", precision="float32").update(x.astype(np.float32), y.astype(np.float32))
    m = on(be, precision="float32").update(x.astype(np.float32), y.astype(np.float32))
    assert m.float32_products
    # different FFT/GEMM libraries round float32 differently: the documented 1e-6 bound
    assert_same_state(m, ref, tol=2e-6)
    r, rr = fastcca.conv_cca(m), fastcca.conv_cca(ref)
    np.testing.assert_allclose(r.coefficients, rr.coefficients, atol=1e-6)
    # float64 against float32 on the same backend: within the float32 tolerance
    r64 = fastcca.conv_cca(on(be).update(x, y))
    assert abs(r.similarity - r64.similarity) < 1e-6


def test_nhwc_streaming_merge_save_load(be, tmp_path):
    x, y = conv_layers(seed=2, n=97)
    xn, yn = x.transpose(0, 2, 3, 1).copy(), y.transpose(0, 2, 3, 1).copy()
    ref = ConvMoments(backend="cpu").update(x, y)
    stream = on(be, layout="nhwc")
    for lo, hi in [(0, 10), (10, 11), (11, 60), (60, 97)]:
        stream.update(dev(be, xn[lo:hi]), yn[lo:hi])
    assert_same_state(stream, ref)
    tiny = on(be, chunk_bytes=1).update(x, y)                 # one image per internal chunk
    assert_same_state(tiny, ref)
    ten = on(be, chunk_bytes=10 * 2 * 8 * ref.grid.n_classes * (3 + 4)).update(x, y)   # 9 x 10 + 7
    assert_same_state(ten, ref)
    shards = [on(be).update(x[lo:lo + 40], y[lo:lo + 40]) for lo in (0, 40, 80)]
    merged = shards[2].copy().merge(shards[0]).merge(shards[1])
    assert_same_state(merged, ref)
    assert shards[2].n == 17
    path = tmp_path / "c.npz"
    merged.save(path)
    back = ConvMoments.load(path)                             # onto the CPU
    assert back.backend == "cpu"
    assert_same_state(back, ref)
    with pytest.raises(ValueError, match="backend"):
        merged.merge(back)


def test_same_array_twice_and_scaled_data(be):
    x, _ = conv_layers(seed=3)
    m = on(be).update(x, x)
    assert_conv_results_agree(fastcca.conv_cca(m), fastcca.conv_cca(ConvMoments(backend="cpu").update(x, x)))
    big = x * 2.0 ** 600                                      # power-of-two units: no overflow
    assert_conv_results_agree(fastcca.conv_cca(on(be).update(big, big + 1e180)),
                              fastcca.conv_cca(ConvMoments(backend="cpu").update(big, big + 1e180)))


def test_bad_input_leaves_the_state_unchanged(be):
    x, y = conv_layers(seed=4, n=30)
    m = on(be, chunk_bytes=1).update(x, y)
    before = [host(be, getattr(m, k)).copy() for k in ("mean_x", "sxx", "syy", "sxy")]
    bad = x.copy()
    bad[25, 1, 2, 3] = np.nan                                 # in a late internal chunk
    for args, exc, msg in [((bad, y), ValueError, "NaN or Inf"), ((dev(be, bad), y), ValueError, "NaN or Inf"),
                           ((x[:, 0], y), ValueError, "4-D"), ((x, y[:10]), ValueError, "same datapoints"),
                           ((dev(be, x.astype(complex)), y), TypeError, "real"),
                           ((x[:, :, :3], y), ValueError, "differ from the accumulator")]:
        with pytest.raises(exc, match=msg):
            m.update(*args)
        assert m.n == 30
        for k, v in zip(("mean_x", "sxx", "syy", "sxy"), before):
            assert np.array_equal(host(be, getattr(m, k)), v), k


def test_reshape_modes_on_the_backend(be):
    x, y = conv_layers(seed=5, n=300)
    cpu = {mode: fastcca.conv_moments(x, y, mode=mode, backend="cpu") for mode in ("fold", "mean", "flatten")}
    for mode, ref in cpu.items():
        d = fastcca.Moments._with_backend_module(be)
        from fastcca.conv._inputs import conv_rows
        d.update(conv_rows(dev(be, x), mode), conv_rows(dev(be, y), mode))
        for f in (fastcca.conv_cca, fastcca.conv_svcca):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", fastcca.DegenerateCCAWarning)
                assert_conv_results_agree(f(d, mode=mode), f(ref, mode=mode), label=mode)
        assert_conv_results_agree(fastcca.conv_pwcca(d, mode=mode), fastcca.conv_pwcca(ref, mode=mode), tol=1e-8,
                                  label=f"pwcca {mode}")


def test_joint_conv_moments_on_the_backend(be):
    rng = np.random.default_rng(6)
    a = rng.standard_normal((90, 3, 6, 6)) + 1.0
    acts = {"a": a, "b": a[:, :2] + rng.standard_normal((90, 2, 6, 6)), "c": rng.standard_normal((90, 4, 4, 5))}
    pairs = [("a", "b"), ("a", "c"), ("c", "b"), ("a", "a")]
    jm = JointConvMoments(pairs)
    jm._be = be                                               # bound as ConvMoments._with_backend_module does
    for lo in range(0, 90, 25):
        jm.update({k: dev(be, v[lo:lo + 25]) for k, v in acts.items()})
    for x, y in pairs + [("b", "a")]:
        ref = ConvMoments(backend="cpu").update(acts[x], acts[y])
        m = jm.moments(x, y)
        assert_same_state(m, ref)
        assert_conv_results_agree(fastcca.conv_svcca(m), fastcca.conv_svcca(ref), label=f"{x} x {y}")


def test_exact_on_shift_closed_data(be):
    """The exactness of the FFT block-diagonal CCA (flattened CCA to 1e-10) holds on the
    generic backend too, including the Gram route's fallback for near-zero coefficients."""
    rng = np.random.default_rng(7)
    x0 = rng.standard_normal((12, 2, 3, 4))
    y0 = np.roll(x0[:, :1], 1, axis=3) + 0.5 * rng.standard_normal((12, 1, 3, 4))
    sc = lambda b: np.concatenate([np.roll(b, (i, j), axis=(2, 3)) for i in range(3) for j in range(4)])  # noqa: E731
    x, y = sc(x0), sc(y0)
    r = fastcca.conv_cca(on(be).update(x, y), eps=0)
    flat = fastcca.cca(x.reshape(len(x), -1), y.reshape(len(y), -1), eps=0, backend="cpu")
    np.testing.assert_allclose(r.coefficients, flat.coefficients, atol=1e-10)


# ------------------------------------------------------------------------------ shared primitives
def hermitian_stack(rng, b, n, rank=None, complex_=True):
    k = rank or 2 * n + 1
    a = rng.standard_normal((b, n, k)) + (1j * rng.standard_normal((b, n, k)) if complex_ else 0)
    return a @ a.conj().transpose(0, 2, 1)


@pytest.mark.parametrize("n", [1, 5, 16, 17, 40])
def test_inv_lower_is_the_inverse(n):
    rng = np.random.default_rng(n)
    l = np.linalg.cholesky(hermitian_stack(rng, 6, n))
    for xp, wrap in ((np, lambda a: a), (xp_standin.sxp, to_device)):
        got = host(xp_standin.strict_backend(), _batched.inv_lower(xp, wrap(l))) if xp is not np else \
            _batched.inv_lower(np, l)
        ref = np.linalg.inv(l)
        assert np.abs(got - ref).max() <= 1e-12 * np.abs(ref).max()
        assert np.all(np.triu(got, 1) == 0)


def test_cholesky_stack_flags_each_failed_block_whether_raised_or_nan():
    rng = np.random.default_rng(1)
    a = hermitian_stack(rng, 5, 4)
    a[2] = -np.eye(4)                                         # not positive definite
    l, ok = _batched.cholesky_stack(np, np.linalg.cholesky, a)
    assert ok.tolist() == [True, True, False, True, True]
    assert np.allclose(l[ok] @ l[ok].conj().transpose(0, 2, 1), a[ok])

    def nan_chol(s):                                          # like CuPy without errstate
        out = np.zeros_like(s)
        for i, blk in enumerate(s):
            try:
                out[i] = np.linalg.cholesky(blk)
            except np.linalg.LinAlgError:
                out[i] = np.nan
        return out
    l2, ok2 = _batched.cholesky_stack(np, nan_chol, a)
    assert np.array_equal(ok2, ok) and np.allclose(l2[ok2], l[ok])


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64, np.float64])
@pytest.mark.parametrize("n", [1, 5, 32, 65])
def test_cpu_per_block_lapack_cholesky_and_triangular_inverse(n, dtype):
    """kernels/_lapack_blocks.py (the CPU backend's cholesky_batched / inv_lower_batched): the
    C-ordered blocks handed to LAPACK as their transposes give the lower factor and its inverse."""
    from fastcca.kernels import _lapack_blocks, cpu
    rng = np.random.default_rng(n)
    a = hermitian_stack(rng, 7, n, complex_=np.iscomplexobj(np.zeros(1, dtype))).astype(dtype)
    a[3] = -np.eye(n)                                         # not positive definite
    a[5, 0, 0] = np.nan                                       # NaN: never a usable factor
    # the backend runs these loops with one-thread BLAS (blockwise); a multi-threaded LAPACK
    # call may round differently, so the direct calls here do too
    with cpu.batched_region():
        l, ok = _lapack_blocks.cholesky_stack(a)
        inv = _lapack_blocks.inv_lower(l[ok])
    assert ok.tolist() == [True, True, True, False, True, False, True]
    assert l.dtype == dtype and np.all(np.triu(l[ok], 1) == 0)
    tol = 1e-12 if np.finfo(dtype).eps < 1e-10 else 1e-4
    ref = np.linalg.cholesky(a[ok].astype(np.complex128))
    assert np.abs(l[ok] - ref).max() <= tol * np.abs(ref).max()
    lb, okb = cpu.cholesky_batched(a)                         # the backend's call, split in threads
    assert np.array_equal(okb, ok) and np.array_equal(lb[ok], l[ok])
    want = np.linalg.inv(l[ok].astype(np.complex128))
    assert inv.dtype == dtype and np.all(np.triu(inv, 1) == 0)
    assert np.abs(inv - want).max() <= tol * np.abs(want).max()
    assert np.array_equal(cpu.inv_lower_batched(l[ok]), inv)
    with pytest.raises(np.linalg.LinAlgError):
        _lapack_blocks.inv_lower(np.zeros((2, n, n), dtype=dtype))


def test_gram_singular_values_and_their_fallback():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((6, 5, 8)) + 1j * rng.standard_normal((6, 5, 8))
    a[3, 4] = a[3, 0]                                         # singular: Gram route rejected
    vals, redo = _batched.gram_svdvals(np, a, 1e-10)
    ref = np.linalg.svd(a, compute_uv=False)
    assert redo.tolist() == [False, False, False, True, False, False]
    assert np.abs(vals[~redo] - ref[~redo]).max() < 1e-12
    be = xp_standin.strict_backend(svdvals_route="gram")
    np.testing.assert_allclose(host(be, be.svdvals(to_device(a))), ref, atol=1e-12)


def test_diagonal_whitening_is_the_general_one():
    rng = np.random.default_rng(3)
    lam = np.abs(rng.standard_normal((7, 6))) * 10.0 ** rng.integers(-14, 2, (7, 6))
    lam[2] = 0.0
    lam[4, 3:] = 0.0
    d = np.zeros((7, 6, 6), complex)
    d[:, np.arange(6), np.arange(6)] = lam
    valid = np.ones((7, 6), bool)
    valid[5, 4:] = False
    for eps in (0.0, 1e-10, 1e-3):
        g = whiten_batched(CPU, d, eps, valid=valid)
        f = whiten_batched(CPU, d, eps, valid=valid, diagonal=True)
        assert np.array_equal(g.kept, f.kept) and np.array_equal(g.rank, f.rank)
        assert np.array_equal(g.data_rank, f.data_rank)
        ggh, fgh = (np.abs(w.factor) ** 2 for w in (g, f))
        np.testing.assert_allclose(ggh.sum(axis=2), fgh.sum(axis=2), rtol=1e-12)
    sxy = rng.standard_normal((7, 6, 6)) + 1j * rng.standard_normal((7, 6, 6))
    a = canonical_correlations_batched(CPU, d, d, sxy, eps=1e-10, valid_x=valid, valid_y=valid)
    b = canonical_correlations_batched(CPU, d, d, sxy, eps=1e-10, valid_x=valid, valid_y=valid, diagonal=True)
    np.testing.assert_allclose(a.rho, b.rho, atol=1e-12)


# ------------------------------------------------------------------------------ Jacobi eigenvalues
def test_jacobi_tournament_meets_every_pair_once_per_sweep():
    for m in (2, 4, 6, 8, 16):
        steps = _jacobi.tournament(m)
        seen = [tuple(p) for s in steps for p in s]
        assert sorted(seen) == sorted(itertools.combinations(range(m), 2))
        for s in steps:                                       # a step's pairs are disjoint
            assert len(set(s.reshape(-1))) == m


@pytest.mark.parametrize("n", [1, 2, 3, 8, 17, 32])
def test_jacobi_twin_matches_lapack(n):
    rng = np.random.default_rng(10 + n)
    h = hermitian_stack(rng, 9, n)
    h[1] = hermitian_stack(rng, 1, n, rank=max(1, n // 3))[0]   # rank deficient: repeated zeros
    h[2] = np.diag(np.arange(n, dtype=float))                    # already diagonal
    h[3] = 0.0
    h[4] = np.eye(n) * 3.0                                       # one eigenvalue, multiplicity n
    h[5] = hermitian_stack(rng, 1, n, complex_=False)[0]         # real symmetric
    w, sweeps = _jacobi.eigvalsh_twin(h)
    ref = np.linalg.eigvalsh(h)
    scale = np.maximum(np.linalg.norm(h, axis=(1, 2)), 1e-300)
    # Weyl: within sqrt(off) <= max(tol, n SKIP) ||A||_F of the exact eigenvalues (docstring)
    assert (np.abs(w - ref).max(axis=1) <= 4 * max(_jacobi.TOL, n * _jacobi.SKIP) * scale).all()
    assert (sweeps <= 12).all() and sweeps[3] == 1 and sweeps[2] == 1


def test_jacobi_twin_on_the_strict_standin_and_as_the_small_eig_route():
    rng = np.random.default_rng(4)
    h = hermitian_stack(rng, 4, 6)
    w, _ = _jacobi.eigvalsh_twin(to_device(h), xp=xp_standin.sxp)
    np.testing.assert_allclose(w.get(), np.linalg.eigvalsh(h), rtol=1e-13, atol=1e-12)
    be = xp_standin.strict_backend(svdvals_route="gram", small_eig="jacobi")
    a = rng.standard_normal((5, 4, 7)) + 1j * rng.standard_normal((5, 4, 7))
    np.testing.assert_allclose(host(be, be.svdvals(to_device(a))), np.linalg.svd(a, compute_uv=False), atol=1e-12)
    with pytest.raises(ValueError, match="small_eig"):
        be.configure(small_eig="qr")


def test_jacobi_cuda_source_compiles_with_nvrtc():
    """The kernel's CUDA source compiles (NVRTC through CuPy, no device needed); skipped where
    CuPy or NVRTC is not installed (CPU CI).  Its numbers are checked against the twin on a GPU
    (tests/gpu/test_cuda.py)."""
    cupy = pytest.importorskip("cupy")
    if getattr(cupy, "FAKE", False):
        pytest.skip("the fake CuPy of tests/fake_cupy has no NVRTC")
    try:
        from cupy.cuda import compiler
        ptx = compiler.compile_using_nvrtc(_jacobi.SOURCE, options=("-arch=compute_70", "-std=c++14"))
    except Exception as exc:  # NVRTC missing (a CuPy wheel without the CUDA toolkit libraries)
        pytest.skip(f"NVRTC not usable here: {exc}")
    text = ptx.decode() if isinstance(ptx, bytes) else str(ptx)
    assert "herm_jacobi_eigvals" in text


def test_cpu_numba_kernels_equal_their_numpy_twins():
    """The CPU's Numba kernels of the conv path give exactly what the shared array code (run on
    CUDA) gives: the frequency-major gather and the real-view -> complex conversion."""
    from fastcca.kernels import _numba_cpu, cpu
    rng = np.random.default_rng(8)
    z = rng.standard_normal((7, 5, 24)) + 1j * rng.standard_normal((7, 5, 24))
    flat = np.array([3, 0, 23, 11, 12], dtype=np.int64)
    out = np.zeros((5, 10, 5), complex)
    _numba_cpu.gather_frequencies(z, flat, out, 2)
    assert np.array_equal(out[:, 2:9], np.moveaxis(z, 2, 0)[flat]) and not out[:, :2].any()
    for shp in ((6, 8, 12), (40, 128, 128)):
        p = rng.standard_normal(shp)
        assert np.array_equal(cpu.real_view_to_complex(p), _batched.real_view_to_complex(np, p))
