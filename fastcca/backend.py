"""Backend dispatcher: maps ``backend="cpu" | "cuda" | "auto"`` to a kernels module.

``auto`` follows the data: CuPy arrays and CUDA torch tensors go to ``cuda``; everything else
(NumPy arrays, lists, CPU tensors) to ``cpu``.  A ``Moments`` keeps the backend it was built on.
Importing fastcca never imports CuPy: the ``cuda`` kernels load on first use.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Callable, Protocol, runtime_checkable

BACKENDS = ("cpu", "cuda", "auto")

#: Internal, for tests only: when set to a kernels module (or ``XpBackend``), ``"auto"`` resolves
#: host data to it instead of ``cpu``.  ``tests/conftest.py`` sets it from ``FASTCCA_TEST_BACKEND``
#: so the whole suite runs through the CUDA backend (or its NumPy stand-ins on the CPU).
_auto_host_override = None


class BackendUnavailableError(RuntimeError):
    """The requested backend cannot run here (e.g. ``cuda`` without CuPy or without a GPU).

    Notes
    -----
    A ``RuntimeError``; the message names what is missing and the ``pip install`` command or
    ``backend="cpu"`` alternative.

    Examples
    --------
    Falling back to the CPU where no GPU can be used:

    >>> import fastcca
    >>> try:
    ...     be = fastcca.get_backend("cuda")
    ... except fastcca.BackendUnavailableError:
    ...     be = fastcca.get_backend("cpu")
    >>> be.NAME in ("cuda", "cpu")
    True
    """


@runtime_checkable
class Backend(Protocol):
    """What a kernels module provides (``fastcca.kernels.cpu``, ``fastcca.kernels.cuda``, the
    array-module backend ``fastcca.kernels._xp_backend.XpBackend`` and its test stand-ins): the
    primitives the measures are written on.  Arrays are the backend's (``xp``'s); results that
    are small or scalar come back to the host through ``to_numpy``.

    The optional capabilities (:data:`CAPABILITIES`) are looked up with :func:`capability`, never
    by ``hasattr`` at the call sites; a backend without one takes the generic route.
    """
    NAME: str
    xp: Any

    # host <-> device, input
    def to_numpy(self, a): ...
    def as_matrix(self, a, name: str): ...
    def device_array(self, a): ...
    # the moments pass
    def center_scaled(self, x, out_dtype=..., min_exponent=None): ...
    def scatter(self, a, b): ...
    def add_scatter_rank1(self, s, b, u, v, c: float) -> None: ...
    def default_batch_rows(self, x, y): ...
    # dense linear algebra
    def eigh(self, a): ...
    def eigh_top(self, a, k: int): ...
    def svd(self, a): ...
    def svdvals(self, a): ...
    def cholesky(self, a): ...
    def solve_lower(self, l, b, trans: bool = False): ...
    # stacks of blocks (conv layers, one block per frequency)
    def cholesky_batched(self, a): ...
    def inv_lower_batched(self, l): ...
    def block_matmul(self, a, b): ...
    def add_block_scatter_rank1(self, s, b, u, v, c: float) -> None: ...
    def block_scatter_accumulate(self, a, b, out) -> None: ...
    def spatial_stats_checked(self, x, min_exponent=None): ...
    def spatial_rfft_blocks(self, x, mean_img, flat, *args, **kwargs): ...
    def rfft_mean(self, mean_img, flat): ...
    def real_view_to_complex(self, p): ...
    def default_conv_batch_images(self, shape_x, shape_y, precision: str): ...


#: the optional capabilities of a backend (:func:`capability`): name -> what it is
CAPABILITIES = {
    "column_stats": "per-column sums, minima and maxima of a batch (JointMoments' in-place path)",
    "scatter_update_upper": "in-place SYRK of a centred chunk into the upper triangle of the joint scatter "
                            "(JointMoments' in-place path, with column_stats and symmetrize_upper)",
    "scatter_update_upper_f32": "the same with float32 products (JointMoments(precision='float32'))",
    "symmetrize_upper": "mirror the upper triangle of a scatter in place",
    "batched_region": "context manager: BLAS on one thread around many small batched calls",
    "run_pair": "run two independent per-side jobs on two threads, (f(), g())",
}


def capability(be, name: str) -> Callable | None:
    """The optional capability ``name`` of the backend ``be`` (:data:`CAPABILITIES`), or None
    when it has none (the caller then takes the generic route); ``KeyError`` for a name that is
    not a capability."""
    if name not in CAPABILITIES:
        raise KeyError(f"{name!r} is not a backend capability; they are {sorted(CAPABILITIES)}")
    return getattr(be, name, None)


def gemm_dtype(be) -> str:
    """The arithmetic of the backend's batch products: ``"float32"`` when the array-module
    backend behind ``be`` was configured so (``FASTCCA_CUDA_GEMM=float32``), else ``"float64"``."""
    return getattr(getattr(be, "_impl", be), "gemm_dtype", "float64")


def _is_cuda_array(a) -> bool:
    mod = type(a).__module__
    if mod.startswith("cupy"):
        return True
    if mod.startswith("torch"):
        return bool(getattr(a, "is_cuda", False))
    return hasattr(a, "__cuda_array_interface__")


def _load_cuda() -> ModuleType:
    try:
        import cupy  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(
            "backend='cuda' needs CuPy, which is not installed "
            f"({exc}). Install it with `pip install 'fastcca[cuda]'` (CUDA 12) or use backend='cpu'."
        ) from None
    try:
        import cupy
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CuPy raises its own CUDARuntimeError types
        raise BackendUnavailableError(
            f"backend='cuda': CuPy is installed but no usable CUDA GPU was found ({exc}). "
            "Check the driver (nvidia-smi) or use backend='cpu'.") from None
    if count < 1:
        raise BackendUnavailableError("backend='cuda': CuPy found no CUDA device. Use backend='cpu'.")
    try:
        return importlib.import_module("fastcca.kernels.cuda")
    except ModuleNotFoundError as exc:
        if exc.name == "fastcca.kernels.cuda":
            raise BackendUnavailableError(
                "backend='cuda': this fastcca build has no CUDA kernels yet (fastcca.kernels.cuda "
                "is missing); use backend='cpu'.") from None
        raise


def get_backend(backend: str = "auto", *arrays) -> ModuleType:
    """The kernels module for ``backend``; for ``"auto"`` the one the ``arrays`` live on.

    Parameters
    ----------
    backend : {"auto", "cpu", "cuda"}
        ``"auto"`` follows the data: CuPy arrays and CUDA torch tensors go to ``cuda``,
        everything else (NumPy arrays, lists, CPU tensors) to ``cpu``.
    *arrays
        The inputs ``"auto"`` looks at.

    Returns
    -------
    module
        ``fastcca.kernels.cpu`` or ``fastcca.kernels.cuda``: the backend primitives (internal API).

    Raises
    ------
    ValueError
        An unknown backend name.
    fastcca.BackendUnavailableError
        ``"cuda"`` without CuPy or without a usable GPU; the message says what is missing.

    Notes
    -----
    Every public function takes ``backend=``; importing fastcca never imports CuPy.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> fastcca.get_backend("auto", np.zeros((2, 2))).NAME
    'cpu'
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of 'cpu', 'cuda', 'auto', got {backend!r}")
    if backend == "auto":
        backend = "cuda" if any(_is_cuda_array(a) for a in arrays if a is not None) else "cpu"
        if backend == "cpu" and _auto_host_override is not None:
            return _auto_host_override
    if backend == "cpu":
        return importlib.import_module("fastcca.kernels.cpu")
    return _load_cuda()
