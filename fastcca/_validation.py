"""Input checks shared by every public entry point: one module, so every error reads alike.

Errors name the argument, what was expected and what was received.
"""
from __future__ import annotations

import warnings

import numpy as np


class DegenerateCCAWarning(UserWarning):
    """Fewer datapoints than the CCA needs: some coefficients are 1 by construction.

    Notes
    -----
    Emitted when ``n - 1 < rank_x + rank_y``: with that few datapoints the two whitened sets
    share directions by construction; the result's ``notes`` repeat the counts.

    Examples
    --------
    >>> import warnings, numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     r = fastcca.cca(rng.standard_normal((20, 15)), rng.standard_normal((20, 15)))
    >>> any(issubclass(x.category, fastcca.DegenerateCCAWarning) for x in w)
    True
    """


class Float32PrecisionWarning(UserWarning):
    """``precision="float32"`` products on data too collinear for them: the result may be off by far more than float32 rounding.

    Notes
    -----
    Emitted when the estimated error ``2^-24 x`` (the largest variance inflation factor of what
    the measure whitens) exceeds 1e-5; the note in the result names the side or layer.
    Recompute with ``precision="float64"``.  docs/definitions.md, *Precision*.

    Examples
    --------
    >>> import warnings, numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((5000, 4)) @ rng.standard_normal((4, 64)) + 1e-3 * rng.standard_normal((5000, 64))
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     r = fastcca.cca(x, x[:, :8], precision="float32")
    >>> any(issubclass(x.category, fastcca.Float32PrecisionWarning) for x in w)
    True
    """


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
    naming ``name`` for the wrong rank, empty input and complex or non-numeric dtypes.
    """
    if type(a).__module__.startswith("torch"):
        a = _torch_to_numpy(a)
    arr = np.asarray(a)
    target = check_real_matrix(arr, name)
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


def check_same_datapoints(x: np.ndarray, y: np.ndarray, xname: str = "x", yname: str = "y") -> None:
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{xname} and {yname} must hold the same datapoints (samples first): {xname} has "
            f"{x.shape[0]} rows, shape {x.shape}; {yname} has {y.shape[0]} rows, shape {y.shape}")


def check_fraction_or_count(keep, name: str = "keep"):
    """A float in (0, 1] (a fraction) or a positive int (a count)."""
    if isinstance(keep, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a float in (0, 1] or a positive int, got {keep!r}")
    if isinstance(keep, (int, np.integer)):
        if keep < 1:
            raise ValueError(f"{name}: a count must be >= 1, got {keep}")
        return int(keep)
    if isinstance(keep, (float, np.floating)):
        if not 0.0 < keep <= 1.0:
            raise ValueError(f"{name}: a fraction must lie in (0, 1], got {keep}")
        return float(keep)
    raise TypeError(f"{name}: expected a float in (0, 1] or a positive int, got {type(keep).__name__}")


def check_nonnegative(value, name: str) -> float:
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
    return v


def check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def warn_if_degenerate(n: int, kx: int, ky: int, what: str = "CCA") -> str | None:
    """Warn when n - 1 < kx + ky: the centred data then span too few dimensions and at least
    kx + ky - (n - 1) canonical correlations equal 1 whatever the data.  Returns the message."""
    excess = kx + ky - (n - 1)
    if excess <= 0:
        return None
    msg = (f"{what} is degenerate: {n} datapoints for {kx} + {ky} dimensions; at least "
           f"{min(excess, min(kx, ky))} of the {min(kx, ky)} coefficients are 1 by construction. "
           f"Use more datapoints than neurons on both sides together (n - 1 >= {kx + ky}), or reduce "
           "dimensions first (svcca).")
    warnings.warn(msg, DegenerateCCAWarning, stacklevel=4)
    return msg


# ---------------------------------------------------------------------------------------------
# Numerics of the moments (issue [numerics]): datapoint counts and finite state.
def check_enough_datapoints(n: int, what: str) -> None:
    """Every similarity needs ``n >= 2`` datapoints: the centred scatter of one datapoint is
    zero, so any number computed from it would be a convention, not a measurement.  Raises
    ``ValueError`` naming ``what`` and the count (also after merges: ``n`` is the total)."""
    n = int(n)
    if n == 0:
        raise ValueError(f"{what}: the accumulator is empty (n=0); call update(...) with data first")
    if n < 2:
        raise ValueError(f"{what}: n={n} datapoint; a similarity needs at least 2 datapoints (one "
                         "datapoint has no variance around its mean, so there is nothing to correlate)")


def check_state_finite(xp, blocks: dict, where: str, exponents: dict | None = None) -> None:
    """Raise ``FloatingPointError`` when a moment block (name -> array, any array module, real or
    complex) holds inf or NaN: an overflowed product is never passed on as a similarity.  One
    reduction per block (a sum is non-finite if any entry is; a finite sum settles it)."""
    for name, a in blocks.items():
        with np.errstate(over="ignore", invalid="ignore"):   # inf - inf in the sum: reported below
            if a is None or bool(xp.isfinite(a.sum())) or bool(xp.isfinite(a).all()):
                continue
        units = ("; power-of-two units " + ", ".join(f"{k}: 2**{v}" for k, v in exponents.items())
                 if exponents else "")
        raise FloatingPointError(
            f"{where}: {name} holds inf or NaN (a product overflowed float64{units}); no similarity "
            "is computed from it" + ("; the accumulator is unchanged" if where.startswith("update") else ""))
