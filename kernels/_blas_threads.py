"""BLAS thread regions for the CPU backend: re-entrant, process-wide context managers that pin
some of the loaded BLAS libraries to one thread and restore them afterwards.

Why two kinds:

* :class:`one_thread_blas` pins EVERY BLAS library: around many tiny calls (one per DFT frequency)
  OpenBLAS threads spin-wait per call (NumPy's batched ``eigh`` on 528 blocks of 32 x 32 complex:
  1.48 s with 2 threads, 0.12 s with 1, on the loaded 2-core machine).
* :class:`one_thread_scipy_blas` pins only SciPy's OWN BLAS, when SciPy ships one separate from
  NumPy's (the PyPI wheels each bundle an OpenBLAS: two thread pools).  After a call, an OpenBLAS
  pool keeps its threads spinning for a while; a call into the OTHER pool then shares the cores
  with those spinning threads.  On the 2-core machine, Cholesky whitening + two SciPy triangular
  solves + NumPy ``svdvals`` at p = 512 took 69.5 ms with both pools on 2 threads, 39.6 ms with
  SciPy's pinned to one (1024: 292 vs 221 ms); NumPy-only substitutes (``solve``, ``inv``) were
  in between (49-53 ms).  SciPy is only used here for triangular solves and the subset
  eigensolver, which run well on one thread; NumPy's BLAS keeps all its threads.

Both are no-ops without threadpoolctl; the library scan happens once per process and entering a
region costs ~5 us.  Regions nest and are shared by threads (a depth count under one lock), so
concurrent callers never restore a limit under each other's feet.
"""
from __future__ import annotations

import os
import threading

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - threadpoolctl is a dependency; guard for odd installs
    ThreadpoolController = None

_LOCK = threading.RLock()
_CONTROLLER = None


def _controller():
    global _CONTROLLER
    if _CONTROLLER is None and ThreadpoolController is not None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


def _package_dirs(name: str) -> tuple[str, ...]:
    """Where a package's own shared libraries live: ``pkg/`` and the wheel's ``pkg.libs/``."""
    import importlib.util
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return ()
    root = os.path.realpath(list(spec.submodule_search_locations)[0])
    return root + os.sep, root + ".libs" + os.sep


def scipy_own_blas_paths(blas_libs) -> list[str]:
    """File paths of the BLAS libraries (threadpoolctl ``info()`` dicts) that SciPy bundles and
    NumPy does not use: empty when both share one BLAS (conda, MKL, system OpenBLAS)."""
    scipy_dirs, numpy_dirs = _package_dirs("scipy"), _package_dirs("numpy")
    paths = [os.path.realpath(d["filepath"]) for d in blas_libs]
    numpy_libs = {p for p in paths if numpy_dirs and p.startswith(numpy_dirs)}
    return [p for p in paths if scipy_dirs and p.startswith(scipy_dirs) and p not in numpy_libs]


class _Region:
    """Depth-counted limit to one thread of the libraries ``self._select(controller)`` returns."""
    _depth = 0
    _limit = None

    def _select(self, ctl):  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self):
        cls = type(self)
        with _LOCK:
            if cls._depth == 0:
                ctl = _controller()
                sel = self._select(ctl) if ctl is not None else None
                cls._limit = sel.limit(limits=1) if sel is not None and sel.lib_controllers else None
            cls._depth += 1
        return self

    def __exit__(self, *exc):
        cls = type(self)
        with _LOCK:
            cls._depth -= 1
            if cls._depth == 0 and cls._limit is not None:
                cls._limit.restore_original_limits()
                cls._limit = None
        return False


class one_thread_blas(_Region):
    """Every BLAS library on one thread (many small products or decompositions)."""

    def _select(self, ctl):
        return ctl.select(user_api="blas")


_SCIPY_SELECTION = None


class one_thread_scipy_blas(_Region):
    """SciPy's own BLAS on one thread, NumPy's untouched (see module doc)."""

    def _select(self, ctl):
        global _SCIPY_SELECTION
        if _SCIPY_SELECTION is None:
            blas = [d for d in ctl.info() if d.get("user_api") == "blas"]
            paths = scipy_own_blas_paths(blas)
            _SCIPY_SELECTION = ctl.select(filepath=paths) if paths else False
        return _SCIPY_SELECTION or None
