"""Backend primitives: the streaming moment update and merge, the regularised inverse square
root (whitening), the truncated eigendecomposition, and each Numba kernel against its NumPy twin.

Every Numba kernel in ``kernels/_numba_cpu.py`` must keep beating its twin in ``kernels/cpu.py``
(``*_numpy``); the ``impl`` parameter puts both in the same table.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla

import fastcca
from fastcca import _canonical
from fastcca.kernels import _numba_cpu

from ._common import BACKENDS, DTYPES, SIZE_NAMES, SIZES, pair, require_backend, stream_moments, to_backend

BATCH_ROWS = 4096
#: "numba": the kernel itself; "numpy": its twin; "dispatch": what the library calls (the
#: kernels module picks one by size/layout)
IMPLS = ["numba", "numpy", "dispatch"]


class MomentUpdate:
    """``Moments.update`` of one (4096, p) batch per side into a non-empty accumulator
    (centre + three scatter products + Chan merge)."""
    params = (SIZE_NAMES, DTYPES, BACKENDS)
    param_names = ["size", "dtype", "backend"]
    timeout = 300

    def setup(self, size, dtype, backend):
        require_backend(backend)
        p, _ = SIZES[size]
        x, y = pair(p, 2 * BATCH_ROWS, dtype)
        self.x, self.y = to_backend(x[:BATCH_ROWS], backend), to_backend(y[:BATCH_ROWS], backend)
        self.m = fastcca.Moments(backend).update(to_backend(x[BATCH_ROWS:], backend), to_backend(y[BATCH_ROWS:], backend))

    def time_update(self, size, dtype, backend):
        self.m.update(self.x, self.y)

    def time_update_same(self, size, dtype, backend):
        # x is y: one scatter block instead of three
        self.m.update(self.x, self.x)

    def peakmem_update(self, size, dtype, backend):
        self.m.update(self.x, self.y)


class MomentStream:
    """A whole streaming pass: n datapoints in 2048-row batches generated on the fly."""
    params = (SIZE_NAMES, BACKENDS)
    param_names = ["size", "backend"]
    timeout = 300

    def setup(self, size, backend):
        require_backend(backend)
        stream_moments(16, 4096, backend=backend)      # compile the kernels outside the timing

    def time_stream(self, size, backend):
        p, n = SIZES[size]
        stream_moments(p, n, backend=backend)

    def peakmem_stream(self, size, backend):
        p, n = SIZES[size]
        stream_moments(p, n, backend=backend)


class MomentMerge:
    """``Moments.merge`` of two shards (Chan's rule on three blocks)."""
    params = ([64, 256, 1024], BACKENDS)
    param_names = ["p", "backend"]

    def setup(self, p, backend):
        require_backend(backend)
        self.a = stream_moments(p, 2 * p, backend=backend, seed=1)
        self.b = stream_moments(p, 2 * p, backend=backend, seed=2)

    def time_merge(self, p, backend):
        self.a.merge(self.b)


class Whitening:
    """The regularised inverse square root of a (p, p) scatter block (``_canonical.whiten``),
    by route, against the reference's ``pinv`` + ``eigh`` square root.

    route: ``cholesky`` (eps=1e-10, the default fast path), ``eigh`` (eps=0: eigenvalue floor),
    ``symmetric`` (eps=1e-10, ``V f(L) V^T`` as PWCCA's reference variant needs),
    ``reference`` (NumPy: ``sqrtm(pinv(S/max + eps I))`` via eigh, the original algorithm)."""
    params = ([64, 256, 1024], ["cholesky", "eigh", "symmetric", "reference"], BACKENDS)
    param_names = ["p", "route", "backend"]

    def setup(self, p, route, backend):
        be = require_backend(backend)
        if route == "reference" and backend != "cpu":
            raise NotImplementedError("the reference route is NumPy only")
        self.be = be
        self.s = stream_moments(p, 2 * p, backend=backend).sxx

    def time_whiten(self, p, route, backend):
        if route == "reference":
            s = self.s / np.max(np.abs(self.s))
            s = s + 1e-10 * np.eye(p)
            w, v = np.linalg.eigh(np.linalg.pinv(s))
            np.dot(v, np.dot(np.diag(np.sqrt(w)), v.T))
        else:
            eps = 0.0 if route == "eigh" else 1e-10
            _canonical.whiten(self.be, self.s, eps, symmetric=(route == "symmetric"))

    def peakmem_whiten(self, p, route, backend):
        self.time_whiten(p, route, backend)


class EighTop:
    """SVCCA's truncated step: top-k eigenpairs (``eigh_top``) against a full ``eigh`` and
    against SciPy's subset solver called directly (k = fraction of p)."""
    params = ([256, 1024], [0.02, 0.1, 0.25, 0.5], ["eigh_top", "full_eigh", "subset_evr"])
    param_names = ["p", "k_fraction", "impl"]

    def setup(self, p, k_fraction, impl):
        self.be = require_backend("cpu")
        self.s = stream_moments(p, 2 * p).sxx
        self.k = max(1, int(round(k_fraction * p)))

    def time_top_k(self, p, k_fraction, impl):
        if impl == "eigh_top":
            self.be.eigh_top(self.s, self.k)
        elif impl == "full_eigh":
            np.linalg.eigh(self.s)
        else:
            sla.eigh(self.s, subset_by_index=[p - self.k, p - 1], driver="evr", check_finite=False)


class CenterChecked:
    """Finite check + column means + float64 centred copy of an (n, p) batch:
    Numba (``kernels._numba_cpu.center_checked``) vs NumPy (``cpu.center_checked_numpy``)."""
    params = ([(4096, 64), (4096, 512), (16384, 1024)], DTYPES, IMPLS)
    param_names = ["shape", "dtype", "impl"]

    def setup(self, shape, dtype, impl):
        be = require_backend("cpu")
        self.x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
        self.f = {"numba": _numba_cpu.center_checked, "numpy": be.center_checked_numpy,
                  "dispatch": be.center_checked}[impl]
        self.f(self.x)                                  # compile outside the timing

    def time_center_checked(self, shape, dtype, impl):
        self.f(self.x)

    def peakmem_center_checked(self, shape, dtype, impl):
        self.f(self.x)


class CenterScaled:
    """The scale-robust centring of ``Moments.update`` (``cpu.center_scaled``: column sums,
    minima, maxima, then the fused subtract-and-scale; issue [numerics]) against the plain
    centring it replaced (``cpu.center_checked``), on data of ordinary size (exponent 0, no
    multiplication) and on data times 1e200 (exponent 640, every value multiplied)."""
    params = ([(16384, 256), (16384, 1024)], ["float32", "float64"], ["1", "1e200"],
              ["center_scaled", "center_checked"])
    param_names = ["shape", "dtype", "magnitude", "impl"]

    def setup(self, shape, dtype, magnitude, impl):
        be = require_backend("cpu")
        if dtype == "float32" and magnitude != "1":
            raise NotImplementedError("float32 cannot hold 1e200")
        self.x = (np.random.default_rng(0).standard_normal(shape) * float(magnitude)).astype(dtype)
        self.f = be.center_scaled if impl == "center_scaled" else be.center_checked
        self.f(self.x)                                  # compile outside the timing

    def time_center(self, shape, dtype, magnitude, impl):
        self.f(self.x)


class MomentsPassMagnitude:
    """A whole one-batch float64 moments pass (``Moments.from_arrays``: centring both sides,
    SYRK, SYRK, GEMM, checks) on the same data at three magnitudes: the power-of-two units make
    1e+-200 cost what ordinary data costs, plus one multiplication fused into the centring."""
    params = (SIZE_NAMES, ["1", "1e200", "1e-200"])
    param_names = ["size", "magnitude"]
    timeout = 300

    def setup(self, size, magnitude):
        require_backend("cpu")
        p, n = SIZES[size]
        x, y = pair(p, n)
        self.x, self.y = x * float(magnitude), y
        fastcca.Moments.from_arrays(self.x[:256], self.y[:256])

    def time_moments_pass(self, size, magnitude):
        fastcca.Moments.from_arrays(self.x, self.y)


class AddScatterRank1:
    """Chan's merge on one block, ``S += B + c u v^T`` in place: Numba vs NumPy."""
    params = ([64, 256, 1024], IMPLS)
    param_names = ["p", "impl"]

    def setup(self, p, impl):
        be = require_backend("cpu")
        rng = np.random.default_rng(0)
        self.s, self.b = rng.standard_normal((p, p)), rng.standard_normal((p, p))
        self.u, self.v = rng.standard_normal(p), rng.standard_normal(p)
        self.f = {"numba": _numba_cpu.add_scatter_rank1, "numpy": be.add_scatter_rank1_numpy,
                  "dispatch": be.add_scatter_rank1}[impl]
        self.f(self.s, self.b, self.u, self.v, 0.5)

    def time_add_scatter_rank1(self, p, impl):
        self.f(self.s, self.b, self.u, self.v, 0.5)
