"""The backends' input layer: a user's array (NumPy, CPU torch tensor, nested sequence) as a
real 2-D matrix, or a refusal that names the argument.  It lives with the kernels because each
backend's ``asarray`` is where an array enters the backend (the CUDA backend runs
:func:`check_real_matrix` on device arrays' metadata, without a copy); the public entry points
reach it through ``fastcca._validation``, which re-exports it, so every error reads alike.
"""
from __future__ import annotations

import inspect
from collections.abc import Iterator

import numpy as np


def _torch_to_numpy(a):
    # bfloat16/float16 tensors have no (or a lossy) NumPy twin: widen to float32 first.
    t = a.detach()
    if t.dtype.is_floating_point and t.element_size() < 4:
        t = t.float()
    return t.cpu().numpy()


def as_host_matrix(a, name: str) -> np.ndarray:
    """Return ``a`` as a 2-D real NumPy array (no copy when it already is one).

    Accepts NumPy arrays (any float dtype NumPy reads, bfloat16 via ml_dtypes included; any
    order), nested sequences and CPU torch tensors.  Raises ``TypeError``/``ValueError``
    naming ``name`` for the wrong rank, empty input, complex or non-numeric dtypes, masked or
    sparse arrays, iterators and ragged sequences (:func:`as_host_array`).
    """
    arr = as_host_array(a, name)
    try:
        target = check_real_matrix(arr, name)
    except ValueError as exc:
        if arr.ndim == 0 and not isinstance(a, np.ndarray):   # a scalar: show it
            raise ValueError(f"{exc}: {describe(a)}") from None
        raise
    return arr if target is None else arr.astype(target)


def check_real_matrix(arr, name: str):
    """The checks every backend makes on an input matrix (NumPy or device array): real numeric
    dtype, 2-D samples-first, non-empty.  Returns the NumPy dtype to cast to (float32 for 16-bit
    floats, float64 for other non-float32/64 dtypes), or None when no cast is needed."""
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{name}: complex input is not supported here (got dtype {arr.dtype}); "
                        "conv layers go through fastcca.conv_cca")
    if kind not in "fiub" and arr.dtype.name != "bfloat16":
        raise TypeError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D array of shape (n_datapoints, n_neurons) (samples first), "
            f"got shape {tuple(arr.shape)}" + (" (use a.reshape(-1, 1) for a single neuron)" if arr.ndim == 1 else ""))
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: empty input, shape {tuple(arr.shape)}; need at least one datapoint and one neuron")
    if arr.dtype in (np.float32, np.float64):
        return None
    small_float = kind == "f" or arr.dtype.name == "bfloat16"
    return np.float64 if arr.dtype.itemsize >= 4 or not small_float else np.float32


def describe(value) -> str:
    """A short description of a received value for error messages: its repr when short,
    else its type (and shape/dtype for arrays)."""
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(value).__module__.split('.')[0]}.{type(value).__name__} of shape {tuple(shape)}, dtype {dtype}"
    text = repr(value)
    return text if len(text) <= 60 else f"a {type(value).__name__} ({text[:40]}...)"


def check_array_input(a, name: str) -> None:
    """Refuse, before any conversion, what would otherwise be read wrongly or fail deep inside:

    * ``numpy.ma`` masked arrays (``np.asarray`` drops the mask, so the masked entries would
      enter the moments): ``TypeError``; drop or fill the masked rows first;
    * ``scipy.sparse`` matrices/arrays (``np.asarray`` makes a 0-d object array): ``TypeError``;
    * iterators and generators (they have no length and would be consumed): ``TypeError``;
      stream batches with ``Moments.update`` instead.
    """
    if isinstance(a, np.ma.MaskedArray):
        raise TypeError(
            f"{name}: masked arrays are not supported (got a numpy.ma.MaskedArray of shape {a.shape}; "
            f"{int(np.ma.count_masked(a))} masked entries); the mask would be ignored and the masked values "
            f"used. Drop the masked rows first, e.g. {name}[~np.ma.getmaskarray({name}).any(axis=1)].data")
    mod = type(a).__module__
    if mod.startswith("scipy.sparse"):
        raise TypeError(f"{name}: scipy.sparse input is not supported (got a {type(a).__name__} of shape "
                        f"{getattr(a, 'shape', '?')}); pass a dense array ({name}.toarray()), in row batches "
                        "if it does not fit in memory")
    if isinstance(a, Iterator) or inspect.isgenerator(a):
        raise TypeError(f"{name}: expected an array (n, ...), got {describe(a)} (an iterator has no length "
                        "and would be consumed); to stream batches, call update(x_batch, y_batch) on a "
                        "Moments for each batch")


def as_host_array(a, name: str) -> np.ndarray:
    """``a`` (NumPy array, CPU torch tensor, nested sequence, array-like) as a NumPy array,
    after :func:`check_array_input`; a ragged sequence or an object that is not array-like
    raises ``ValueError``/``TypeError`` naming ``name``."""
    check_array_input(a, name)
    if type(a).__module__.startswith("torch"):
        a = _torch_to_numpy(a)
    if isinstance(a, np.ndarray):
        arr = a
    else:
        try:
            arr = np.asarray(a)
        except ValueError as exc:
            raise ValueError(f"{name}: cannot form an array from {describe(a)}: a ragged sequence "
                             f"(rows of different lengths?) ({exc})") from None
    if arr.dtype == object:
        raise TypeError(f"{name}: expected a real numeric array, got {describe(a)} (NumPy reads it as an "
                        "object array)")
    return arr
