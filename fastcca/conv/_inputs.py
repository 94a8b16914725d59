"""Validation and layout handling of conv activations (one place, so every error reads alike)."""
from __future__ import annotations

import numpy as np

from .._validation import as_host_array

LAYOUTS = ("nchw", "nhwc")
#: how two conv layers are compared (``fastcca.conv_cca``'s ``mode``, ``fastcca.torch``'s ``conv``):
#: per DFT frequency, or the activations reshaped to 2-D by :func:`conv_rows`
MODES = ("fft", "fold", "flatten", "mean")


def conv_rows(a, mode: str):
    """A channels-first batch ``a`` (b, c, *spatial) -> the samples-first matrix of a reshaping
    ``mode``: ``"fold"`` (b * positions, c), every spatial position a datapoint (channels last,
    so the rows of one image are its positions); ``"flatten"`` (b, c * positions), every
    (channel, position) a neuron; ``"mean"`` (b, c), each channel's spatial mean (float64 for
    NumPy/CuPy; a torch tensor keeps its dtype, the moments convert).  NumPy, CuPy or torch; a
    view where the layout allows."""
    b, c, nd = a.shape[0], a.shape[1], a.ndim
    torch_like = hasattr(a, "permute")
    if mode == "fold":
        perm = (0, *range(2, nd), 1)
        return (a.permute(*perm) if torch_like else a.transpose(perm)).reshape(-1, c)
    if mode == "flatten":
        return a.reshape(b, -1)
    if mode != "mean":
        raise ValueError(f"mode: expected 'fold', 'flatten' or 'mean' for a reshaping, got {mode!r}")
    axes = tuple(range(2, nd))
    return a.mean(dim=axes) if torch_like else a.mean(axis=axes, dtype=np.float64)


def check_layout(layout) -> str:
    lay = str(layout).lower() if isinstance(layout, str) else layout
    if lay not in LAYOUTS:
        raise ValueError(f"layout: expected 'nchw' (PyTorch, default) or 'nhwc', got {layout!r}")
    return lay


def as_conv_batch(a, name: str, layout: str, be=None):
    """``a`` as a real 4-D array viewed in (n, c, h, w) order (no copy: an NHWC array comes back
    as a transposed view), float32 or float64.  Errors name ``name``, the expected and received
    shape (masked, sparse, iterator and ragged input: :func:`fastcca._validation.as_host_array`).

    ``be``: the backend the batch goes to.  A device array on it (CuPy, a CUDA torch tensor:
    ``be.device_array``) is checked on its metadata and used in place (a dtype cast happens on
    the device); host input is checked on the host and, for a device backend, uploaded.  Without
    ``be`` (or on the CPU backend) the result is a NumPy array."""
    dev = None if be is None else be.device_array(a)
    arr = as_host_array(a, name) if dev is None else dev
    if arr.dtype.kind == "c":
        raise TypeError(f"{name}: expected real activations, got dtype {arr.dtype}")
    if arr.dtype.kind not in "fiub" and arr.dtype.name != "bfloat16":
        raise TypeError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
    want = "(n, c, h, w)" if layout == "nchw" else "(n, h, w, c)"
    if arr.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D conv activation of shape {want} (layout={layout!r}), "
                         f"got shape {tuple(arr.shape)}" + (" (a fully connected layer is 2-D: use fastcca.cca, "
                                                            "or reshape to (n, c, 1, 1))" if arr.ndim == 2 else ""))
    if 0 in arr.shape:
        raise ValueError(f"{name}: empty input, shape {tuple(arr.shape)} {want}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64 if arr.dtype.itemsize >= 4 or arr.dtype.kind != "f" else np.float32)
    if dev is None and be is not None and be.NAME != "cpu":
        arr = be.xp.asarray(arr)           # host -> device: one copy of the batch
    return arr if layout == "nchw" else arr.transpose(0, 3, 1, 2)


def check_pair(x: np.ndarray, y: np.ndarray) -> None:
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must hold the same datapoints (samples first): x has {x.shape[0]} "
                         f"images, y has {y.shape[0]}")
