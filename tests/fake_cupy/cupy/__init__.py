"""A fake ``cupy`` for the CPU: the strict NumPy device stand-in of ``tests/xp_standin.py``
behind the slice of CuPy's API that fastcca, ``tests/gpu`` and ``asv_bench/gpu_check.py`` use.

Only importable when ``tests/fake_cupy`` is put on ``sys.path`` on purpose (``gpu_check.py
--dry-run`` and ``tests/test_xp_backend.py`` do, in a subprocess), so ``kernels/cuda.py`` -- the
CuPy binding itself -- the GPU tests and the GPU check script run in CPU CI.  Arrays are
``xp_standin.DeviceArray``: host/device mixing raises as on CuPy.  It says nothing about speed
or about CuPy's numerics; a real GPU run is still needed.
"""
import os
import sys
import types

import numpy as _np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # tests/
import xp_standin as _s  # noqa: E402

__version__ = "0.0.0+fake-numpy-standin"
FAKE = True
ndarray = _s.DeviceArray
linalg = _s._linalg
fft = _s._fft


def asarray(a, dtype=None):
    if isinstance(a, _s.DeviceArray):
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    return _s.DeviceArray(_np.array(a, dtype=dtype))


def asnumpy(a):
    return a.get() if isinstance(a, _s.DeviceArray) else _np.asarray(a)


def from_dlpack(obj):
    raise TypeError("fake cupy: no DLPack (no CUDA tensors on the CPU)")


def __getattr__(name):
    return getattr(_s.sxp, name)


class _Pool:
    def free_bytes(self):
        return 0

    def used_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


_pool = _Pool()


def get_default_memory_pool():
    return _pool


class _Device:
    def __init__(self, index=0):
        self.id = index

    @property
    def mem_info(self):
        free = int(os.environ.get("FAKE_CUPY_FREE_BYTES", 2 * 2**30))
        return free, 4 * 2**30

    def synchronize(self):
        pass


_runtime = types.SimpleNamespace(
    getDeviceCount=lambda: 1,
    getDeviceProperties=lambda i: {"name": b"fake-cupy (NumPy stand-in on the CPU)"},
    runtimeGetVersion=lambda: 0,
    driverGetVersion=lambda: 0,
)
cuda = types.SimpleNamespace(runtime=_runtime, Device=_Device)


class _Random:
    def __init__(self):
        self._rng = _np.random.default_rng(0)

    def seed(self, s):
        self._rng = _np.random.default_rng(s)

    def standard_normal(self, size=None, dtype=_np.float64):
        return _s.DeviceArray(self._rng.standard_normal(size).astype(dtype))


random = _Random()


def _syrk(trans, a, out=None, alpha=1.0, beta=0.0, lower=False):
    """Only what fastcca uses: trans="T", upper triangle, beta=0."""
    assert trans == "T" and not lower and beta == 0.0
    u = _s._syrk_upper(a._a) * alpha
    if os.environ.get("FAKE_CUPY_BREAK") == "syrk":   # for the test that gpu_check fails loudly
        u = u * (1 + 1e-6)
    if out is None:
        return _s.DeviceArray(u)
    assert out.shape == u.shape and out.dtype == u.dtype
    iu = _np.triu_indices(u.shape[0])
    out._a[iu] = u[iu]          # like cuBLAS: only the upper triangle is written
    return out


cublas = types.SimpleNamespace(syrk=_syrk)
