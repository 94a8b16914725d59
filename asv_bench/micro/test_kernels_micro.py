"""Micro-benchmarks: each Numba kernel / fastcca primitive against its NumPy twin (same group),
with a correctness check so that a benchmark fails when the kernel is wrong."""
from __future__ import annotations

import numpy as np
import pytest

import fastcca
from fastcca import _canonical
from fastcca.kernels import _numba_cpu, cpu

RNG = np.random.default_rng(0)
BATCH = RNG.standard_normal((8192, 512))
BATCH32 = BATCH.astype(np.float32)


def _spd(p, seed=1):
    a = np.random.default_rng(seed).standard_normal((2 * p, p)) * (np.exp(-np.arange(p) / (p / 8)) + 0.05)
    a -= a.mean(axis=0)
    return a.T @ a


S512 = _spd(512)


@pytest.mark.benchmark(group="center_checked (8192, 512) float64")
@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_center_checked(benchmark, impl):
    f = {"numba": lambda x: _numba_cpu.center_checked(x)[:2], "numpy": cpu.center_checked_numpy}[impl]
    f(BATCH)
    xc, mean = benchmark(f, BATCH)
    np.testing.assert_allclose(mean, BATCH.mean(axis=0), rtol=0, atol=1e-14)
    np.testing.assert_allclose(xc, BATCH - BATCH.mean(axis=0), rtol=0, atol=1e-13)


@pytest.mark.benchmark(group="center_checked (8192, 512) float32")
@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_center_checked_f32(benchmark, impl):
    f = {"numba": lambda x: _numba_cpu.center_checked(x)[:2], "numpy": cpu.center_checked_numpy}[impl]
    f(BATCH32)
    xc, mean = benchmark(f, BATCH32)
    assert xc.dtype == np.float64
    np.testing.assert_allclose(mean, BATCH32.astype(np.float64).mean(axis=0), rtol=0, atol=1e-12)


@pytest.mark.benchmark(group="add_scatter_rank1 (1024, 1024)")
@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_add_scatter_rank1(benchmark, impl):
    rng = np.random.default_rng(2)
    b = rng.standard_normal((1024, 1024))
    u, v = rng.standard_normal(1024), rng.standard_normal(1024)
    f = {"numba": _numba_cpu.add_scatter_rank1, "numpy": cpu.add_scatter_rank1_numpy}[impl]
    s = np.zeros((1024, 1024))
    rounds = [0]

    def run():
        f(s, b, u, v, 0.5)
        rounds[0] += 1

    run()
    benchmark(run)
    np.testing.assert_allclose(s, rounds[0] * (b + 0.5 * np.outer(u, v)), rtol=1e-12, atol=1e-9)


@pytest.mark.benchmark(group="scatter blocks of a (8192, 512+512) batch")
@pytest.mark.parametrize("how", ["three products", "one joint SYRK"])
def test_scatter_blocks(benchmark, how):
    x, y = BATCH, BATCH[:, ::-1].copy()
    if how == "three products":
        def f():
            return cpu.scatter(x, x), cpu.scatter(y, y), cpu.scatter(x, y)
    else:
        z = np.hstack([x, y])

        def f():
            s = z.T @ z
            return s[:512, :512], s[512:, 512:], s[:512, 512:]
    sxx, syy, sxy = benchmark(f)
    np.testing.assert_allclose(sxy, x.T @ y, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(syy, y.T @ y, rtol=1e-12, atol=1e-9)


@pytest.mark.benchmark(group="top-32 eigenpairs of a 512 x 512 scatter block")
@pytest.mark.parametrize("impl", ["eigh_top", "full eigh"])
def test_eigh_top(benchmark, impl):
    if impl == "eigh_top":
        w, v = benchmark(cpu.eigh_top, S512, 32)
    else:
        def full():
            w, v = np.linalg.eigh(S512)
            return w[::-1][:32], v[:, ::-1][:, :32]
        w, v = benchmark(full)
    wf = np.linalg.eigvalsh(S512)[::-1][:32]
    np.testing.assert_allclose(w, wf, rtol=1e-10)
    np.testing.assert_allclose(np.abs(np.sum(v * (S512 @ v), axis=0)), wf, rtol=1e-10)


@pytest.mark.benchmark(group="regularised inverse square root 512 x 512")
@pytest.mark.parametrize("route", ["cholesky", "eigh", "reference pinv + sqrtm"])
def test_whitening(benchmark, route):
    s_hat = S512 / np.abs(S512).max() + 1e-10 * np.eye(512)
    if route == "reference pinv + sqrtm":
        def f():
            w, v = np.linalg.eigh(np.linalg.pinv(s_hat))
            return np.dot(v, np.dot(np.diag(np.sqrt(w)), v.T))
        g = benchmark(f)
        gt_s_g = g.T @ s_hat @ g
    else:
        eps = 1e-10 if route == "cholesky" else 0.0
        wh = benchmark(_canonical.whiten, cpu, S512, eps)
        assert wh.route == route
        g = wh.apply(cpu, np.eye(wh.rank))
        sh = S512 / wh.scale + eps * np.eye(512)
        gt_s_g = g.T @ sh @ g
    # whitening: G^T S_hat G = I (to the conditioning of S_hat)
    np.testing.assert_allclose(gt_s_g, np.eye(gt_s_g.shape[0]), atol=1e-6)


@pytest.mark.benchmark(group="Moments.update (8192, 512) x2")
def test_moments_update(benchmark):
    y = BATCH[:, ::-1].copy()
    m = fastcca.Moments().update(BATCH, y)
    benchmark(m.update, BATCH, y)
    assert m.n >= 2 * len(BATCH)
    np.testing.assert_allclose(m.sxy / m.n, (BATCH - BATCH.mean(0)).T @ (y - y.mean(0)) / len(BATCH),
                               rtol=1e-10, atol=1e-12)
