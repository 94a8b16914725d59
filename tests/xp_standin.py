"""NumPy stand-ins for CuPy, so the CUDA backend's array logic (``kernels/_xp_backend.py``) runs
in CPU CI.

* ``numpy_backend()``: the generic backend on plain NumPy + ``scipy.linalg.solve_triangular``
  (and SciPy's BLAS ``dsyrk``, which like cuBLAS writes only the upper triangle).  It checks the
  backend's arithmetic, but NumPy accepts host arrays everywhere, so it cannot see host/device
  mixing.
* ``strict_backend()``: the same on :data:`sxp`, a wrapper module whose arrays
  (:class:`DeviceArray`) behave like CuPy's where CuPy is strict: converting one to NumPy
  implicitly (``np.asarray``, ``__array__``) raises ``TypeError``, a NumPy *function* applied to
  one raises, mixing a NumPy array into an operation or an ``xp`` function raises; ufuncs
  (``np.sqrt(d)``, operators) and ``float()/int()/bool()`` of single elements work, as on CuPy.
  Reductions and scalar indexing return 0-d device arrays, as on CuPy.  So any place in
  fastcca that mixes host and device arrays fails here as it would on a GPU -- stricter than
  CuPy for NumPy functions (CuPy may dispatch some through ``__array_function__`` and hand back
  a device array where host code expects NumPy).
"""
from __future__ import annotations

import types

import numpy as np
import scipy.linalg as sla
from scipy.linalg.blas import dsyrk, ssyrk

from fastcca.kernels._xp_backend import make_backend


class HostDeviceMixError(TypeError):
    """A host NumPy array met a stand-in device array (CuPy raises TypeError there too)."""


def _unwrap(v, where: str):
    if isinstance(v, DeviceArray):
        return v._a
    if isinstance(v, np.ndarray):
        raise HostDeviceMixError(f"{where}: a host NumPy array {v.shape} mixed with device arrays")
    if isinstance(v, (tuple, list)):
        return type(v)(_unwrap(e, where) for e in v)
    return v


def _wrap(v):
    if isinstance(v, np.ndarray):
        return DeviceArray(v)
    if isinstance(v, np.generic):
        return DeviceArray(np.asarray(v))
    if isinstance(v, tuple):          # eigh's, svd's named tuples -> plain tuples
        return tuple(_wrap(e) for e in v)
    if isinstance(v, list):
        return [_wrap(e) for e in v]
    return v


class DeviceArray:
    """An ndarray that pretends to live on a device (see module docstring)."""
    __slots__ = ("_a",)
    __array_priority__ = 1000

    def __init__(self, a: np.ndarray):
        self._a = a

    # -- the strict part
    def __array__(self, *args, **kwargs):
        raise HostDeviceMixError("Implicit conversion of a (stand-in) device array to NumPy is not "
                                 "allowed; use the backend's to_numpy")

    def __array_function__(self, func, types_, args, kwargs):
        raise HostDeviceMixError(f"NumPy function {func.__module__}.{func.__name__} called on a "
                                 "(stand-in) device array; use the backend's xp")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        where = f"ufunc {ufunc.__name__}"
        args = _unwrap(inputs, where)
        if "out" in kwargs:
            kwargs["out"] = _unwrap(kwargs["out"], where)
        return _wrap(getattr(ufunc, method)(*args, **kwargs))

    # -- what CuPy arrays offer
    def get(self):
        return self._a.copy()

    @property
    def __cuda_array_interface__(self):
        """Present, as on CuPy arrays, so ``backend="auto"`` routes a stand-in array to ``cuda``
        (with the fake CuPy of ``tests/fake_cupy``).  NumPy never reads this attribute."""
        ai = self._a.__array_interface__
        return dict(shape=ai["shape"], typestr=ai["typestr"], data=ai["data"], strides=ai["strides"], version=3)

    @property
    def data(self):
        """Like CuPy's ``MemoryPointer``: ``.ptr`` is the buffer's address (zero-copy checks)."""
        return types.SimpleNamespace(ptr=self._a.__array_interface__["data"][0])

    @property
    def shape(self):
        return self._a.shape

    @property
    def ndim(self):
        return self._a.ndim

    @property
    def size(self):
        return self._a.size

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def flags(self):
        return self._a.flags

    @property
    def T(self):
        return DeviceArray(self._a.T)

    @property
    def real(self):
        return DeviceArray(self._a.real)

    @real.setter
    def real(self, value):          # CuPy arrays accept this too
        self._a.real = _unwrap(value, "assignment to .real")

    @property
    def imag(self):
        return DeviceArray(self._a.imag)

    @imag.setter
    def imag(self, value):
        self._a.imag = _unwrap(value, "assignment to .imag")

    def __getattr__(self, name):
        if name.startswith("__"):
            # no __array_interface__/__array_struct__/__dlpack__: NumPy must not read the buffer
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr)

        def method(*args, **kwargs):
            where = f"method .{name}"
            return _wrap(attr(*_unwrap(args, where), **{k: _unwrap(v, where) for k, v in kwargs.items()}))
        return method

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(r) for r in self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __bool__(self):
        return bool(self._a)

    def __repr__(self):
        return f"DeviceArray({self._a!r})"

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key, "indexing")])

    def __setitem__(self, key, value):
        self._a[_unwrap(key, "indexing")] = _unwrap(value, "assignment")


def _binary(uf, reflected=False):
    if reflected:
        return lambda self, other: uf(other, self)
    return lambda self, other: uf(self, other)


def _inplace(uf):
    def op(self, other):
        uf(self._a, _unwrap(other, f"in-place {uf.__name__}"), out=self._a)
        return self
    return op


for _name, _uf in dict(add=np.add, sub=np.subtract, mul=np.multiply, truediv=np.true_divide,
                       floordiv=np.floor_divide, mod=np.remainder, pow=np.power, matmul=np.matmul,
                       and_=np.bitwise_and, or_=np.bitwise_or,
                       xor=np.bitwise_xor).items():
    _n = _name.rstrip("_")
    setattr(DeviceArray, f"__{_n}__", _binary(_uf))
    setattr(DeviceArray, f"__r{_n}__", _binary(_uf, reflected=True))
    if _n != "matmul":
        setattr(DeviceArray, f"__i{_n}__", _inplace(_uf))
for _name, _uf in dict(lt=np.less, le=np.less_equal, gt=np.greater, ge=np.greater_equal,
                       eq=np.equal, ne=np.not_equal).items():
    setattr(DeviceArray, f"__{_name}__", _binary(_uf))
for _name, _uf in dict(neg=np.negative, pos=np.positive, abs=np.absolute, invert=np.invert).items():
    setattr(DeviceArray, f"__{_name}__", (lambda uf: lambda self: uf(self))(_uf))
DeviceArray.__hash__ = None


def _wrap_function(f, name: str, host_ok: bool = False):
    def g(*args, **kwargs):
        where = f"xp.{name}"
        if host_ok:   # host -> device copies; a device array passes as it is (asarray) or is copied (array)
            args = tuple((a._a.copy() if name == "array" else a._a) if isinstance(a, DeviceArray)
                         else np.array(a) if isinstance(a, np.ndarray) else a for a in args)
        else:
            args = _unwrap(args, where)
        kwargs = {k: _unwrap(v, where) for k, v in kwargs.items()}
        return _wrap(f(*args, **kwargs))
    g.__name__ = name
    return g


class _StrictModule(types.ModuleType):
    """``xp`` for :class:`DeviceArray`: NumPy's functions, unwrapping device arrays and rejecting
    host arrays, except ``asarray``/``array`` (the host -> device copy, like ``cupy.asarray``)."""

    def __init__(self, name, base):
        super().__init__(name)
        self._base = base

    def __getattr__(self, name):
        if name == "ndarray":
            return DeviceArray
        if name == "linalg":
            return _linalg
        if name == "fft":
            return _fft
        attr = getattr(self._base, name)
        if isinstance(attr, type) or not callable(attr):
            return attr  # dtypes, finfo, LinAlgError, constants
        return _wrap_function(attr, name, host_ok=name in ("asarray", "array", "ascontiguousarray"))


sxp = _StrictModule("strict_xp", np)
_linalg = _StrictModule("strict_xp.linalg", np.linalg)
_fft = _StrictModule("strict_xp.fft", np.fft)


def _syrk_upper(a):
    # SciPy's BLAS syrk, like cuBLAS's: trans=1 gives a^T a, only the upper triangle written
    f = dsyrk if a.dtype == np.float64 else ssyrk
    return f(1.0, a, trans=1)


def numpy_backend(name: str = "numpy-standin", **options):
    """The generic backend on plain NumPy."""
    return make_backend(np, sla.solve_triangular, name, syrk_upper=_syrk_upper, **options)


def strict_backend(name: str = "strict-standin", *, mem_info=None, **options):
    """The generic backend on the strict device stand-in (host/device mixing raises)."""
    return make_backend(
        sxp, _wrap_function(sla.solve_triangular, "solve_triangular"), name,
        to_host=lambda a: a.get(), mem_info=mem_info,
        syrk_upper=lambda a: DeviceArray(_syrk_upper(a._a)), **options)


def to_device(a) -> DeviceArray:
    """A host array "uploaded" to the strict stand-in device (what a CuPy array is to fastcca)."""
    return DeviceArray(np.array(a))

