"""Backend dispatcher: maps ``backend="cpu" | "cuda" | "auto"`` to a kernels module.

``auto`` follows the data: CuPy arrays and CUDA torch tensors go to ``cuda``; everything else
(NumPy arrays, lists, CPU tensors) to ``cpu``.  A ``Moments`` keeps the backend it was built on.
Importing fastcca never imports CuPy: the ``cuda`` kernels load on first use.
"""
from __future__ import annotations

import importlib
from types import ModuleType

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
    >>> import fastcca
    >>> try:
    ...     fastcca.conv_cca([[[[0.0]]]], [[[[0.0]]]], backend="cuda")
    ... except fastcca.BackendUnavailableError:
    ...     print("no usable GPU here")
    no usable GPU here
    """


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
