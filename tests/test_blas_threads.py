"""BLAS thread regions of the CPU backend (fastcca.kernels._blas_threads): they pin what they say,
restore every library afterwards (also when nested or left by an exception), and never change
a result beyond rounding."""
import os

import numpy as np
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

import fastcca  # noqa: E402
from fastcca.kernels import _blas_threads as bt  # noqa: E402


def _threads():
    return {d["filepath"]: d["num_threads"] for d in threadpoolctl.threadpool_info()
            if d["user_api"] == "blas"}


def _package_lib(name):
    return bt._package_dirs(name)[1] + "libopenblas.so"


def test_scipy_own_blas_paths_picks_scipys_bundle_only():
    numpy_lib, scipy_lib = _package_lib("numpy"), _package_lib("scipy")
    two = [{"filepath": numpy_lib}, {"filepath": scipy_lib}]
    assert bt.scipy_own_blas_paths(two) == [os.path.realpath(scipy_lib)]
    # one shared BLAS (conda, MKL, a system OpenBLAS): nothing to pin
    assert bt.scipy_own_blas_paths([{"filepath": "/usr/lib/libopenblas.so.0"}]) == []
    assert bt.scipy_own_blas_paths([{"filepath": numpy_lib}]) == []


def test_regions_pin_and_restore_nested_and_on_error():
    # scipy.linalg loads SciPy's own BLAS, so there is something to pin in a wheel install
    import scipy.linalg  # noqa: F401
    before = _threads()
    scipy_own = set(bt.scipy_own_blas_paths([{"filepath": f} for f in before]))
    with pytest.raises(RuntimeError):
        with bt.one_thread_scipy_blas():
            inside = _threads()
            for f, n in inside.items():
                assert n == (1 if os.path.realpath(f) in scipy_own else before[f]), f
            with bt.one_thread_blas():
                assert set(_threads().values()) == {1}
            assert _threads() == inside
            with bt.one_thread_scipy_blas():   # re-entrant: the inner exit restores nothing
                pass
            assert _threads() == inside
            raise RuntimeError("leave the region by an exception")
    assert _threads() == before


def test_results_do_not_depend_on_the_region():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 120))
    y = x[:, :90] @ rng.standard_normal((90, 100)) + rng.standard_normal((3000, 100))
    m = fastcca.Moments.from_arrays(x, y)
    plain = [fastcca.cca(m).coefficients, fastcca.pwcca(m).similarity, fastcca.svcca(m, keep=20).coefficients]
    with bt.one_thread_blas():
        pinned = [fastcca.cca(m).coefficients, fastcca.pwcca(m).similarity, fastcca.svcca(m, keep=20).coefficients]
    for a, b in zip(plain, pinned):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
