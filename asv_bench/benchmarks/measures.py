"""Every public measure at three sizes (``_common.SIZES``), by input dtype and backend.

``time_from_arrays``: the user's one-call path, ``fastcca.<measure>(x, y)`` on whole (n, p)
arrays (the moments pass included).  ``time_from_moments``: the measure from an accumulated
``Moments`` (the streaming workflow, O(p^3), independent of n).  ``peakmem_from_moments`` builds
its Moments from batches made on the fly, so its figure is the measure's own footprint plus
the interpreter; ``peakmem_from_arrays`` includes the two input arrays.
"""
from __future__ import annotations

from ._common import BACKENDS, DTYPES, MEASURES, SIZE_NAMES, SIZES, pair, require_backend, stream_moments, to_backend

MEASURE_NAMES = list(MEASURES)


class FromArrays:
    params = (MEASURE_NAMES, SIZE_NAMES, DTYPES, BACKENDS)
    param_names = ["measure", "size", "dtype", "backend"]
    timeout = 600

    def setup(self, measure, size, dtype, backend):
        require_backend(backend)
        p, n = SIZES[size]
        x, y = pair(p, n, dtype)
        self.x, self.y = to_backend(x, backend), to_backend(y, backend)
        self.f = MEASURES[measure]
        xs, ys = pair(16, 4096, dtype)                 # compile the kernels outside the timing
        self.f(to_backend(xs, backend), to_backend(ys, backend), backend)

    def time_from_arrays(self, measure, size, dtype, backend):
        self.f(self.x, self.y, backend)

    def peakmem_from_arrays(self, measure, size, dtype, backend):
        self.f(self.x, self.y, backend)


class FromMoments:
    params = (MEASURE_NAMES, SIZE_NAMES, DTYPES, BACKENDS)
    param_names = ["measure", "size", "dtype", "backend"]
    timeout = 600

    def setup(self, measure, size, dtype, backend):
        require_backend(backend)
        p, n = SIZES[size]
        self.m = stream_moments(p, n, dtype, backend)
        self.f = MEASURES[measure]
        self.f(stream_moments(16, 4096, dtype, backend), None, backend)

    def time_from_moments(self, measure, size, dtype, backend):
        self.f(self.m, None, backend)

    def peakmem_from_moments(self, measure, size, dtype, backend):
        self.f(self.m, None, backend)
