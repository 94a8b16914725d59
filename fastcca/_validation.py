"""Input checks shared by every public entry point: one module, so every error reads alike.

Errors name the argument, what was expected and what was received.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from .kernels import _arrays

# the array checks live with the backends' input layer (kernels/_arrays.py); the entry points
# take them from here with the other checks
as_host_array, as_host_matrix = _arrays.as_host_array, _arrays.as_host_matrix
check_array_input, check_real_matrix, describe = _arrays.check_array_input, _arrays.check_real_matrix, _arrays.describe


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
    the measure whitens; for the shape metric, linear predictivity, PLS and PCA the inflation
    factor they name) exceeds 1e-5; the note in the result names the side or layer.
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
    return check_number(value, name, low=0.0)


def check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def forced_ones(n: int, rx: int, ry: int) -> int:
    """How many canonical correlations are 1 whatever the data: centred data span at most
    n - 1 dimensions, so column spaces of data ranks ``rx`` and ``ry`` share at least
    ``rx + ry - (n - 1)`` of them (never more than ``min(rx, ry)``)."""
    return max(0, min(rx + ry - (n - 1), rx, ry))


#: the arithmetic of the batch products (accumulation is always float64): every accumulator's
#: ``precision`` choices
PRECISIONS = ("float64", "float32")


def warn_if_degenerate(n: int, kx: int, ky: int, what: str = "CCA", coefficients: int | None = None,
                       forced: int | None = None, stacklevel: int = 4) -> str | None:
    """Warn when ``n - 1 < kx + ky`` for the data ranks ``kx``, ``ky`` (not ranks lifted by the
    ridge): then ``forced`` (default :func:`forced_ones`) of the ``coefficients`` canonical
    correlations (default ``min(kx, ky)``) equal 1 whatever the data.  Returns the message."""
    forced = forced_ones(n, kx, ky) if forced is None else int(forced)
    if forced <= 0:
        return None
    total = min(kx, ky) if coefficients is None else int(coefficients)
    msg = (f"{what} is degenerate: {n} datapoints for {kx} + {ky} dimensions (data ranks; centred data "
           f"span at most n - 1 = {n - 1}); at least {forced} of the {total} coefficients are 1 by "
           f"construction. Use more datapoints than the neurons of both sides together, or reduce "
           "dimensions first (svcca).")
    warnings.warn(msg, DegenerateCCAWarning, stacklevel=stacklevel)
    return msg


# ------------------------------------------------------------------------------------------
# What a public entry point accepts as an array, and its scalar arguments (issue 22): every
# refusal names the argument and what was received.
# ------------------------------------------------------------------------------------------
def check_batchable(a, name: str, ndim: int):
    """Light checks on a whole input before it is fed in row batches (``from_arrays``): ``a``
    must support ``len`` and slicing along rows, and have ``ndim`` axes where its rank is
    known.  Memory-mapped arrays and array-likes such as h5py datasets are not read here.
    Lists and tuples are converted (they are in memory anyway).  Returns the (possibly
    converted) input."""
    check_array_input(a, name)
    received = describe(a)
    if isinstance(a, (list, tuple)) or np.isscalar(a) or a is None:
        a = as_host_array(a, name)
    shape = getattr(a, "shape", None)
    if shape is None or not hasattr(a, "__getitem__") or not hasattr(a, "__len__"):
        raise TypeError(f"{name}: expected an array of shape (n, ...), samples first, got {received}")
    if len(shape) != ndim:
        what = "(n_datapoints, n_neurons)" if ndim == 2 else "(n, c, h, w) (or (n, h, w, c))"
        raise ValueError(f"{name}: expected a {ndim}-D array of shape {what}, samples first, got "
                         f"{received}" + ("" if received.endswith(")") or "shape" in received
                                          else f" (shape {tuple(shape)})"))
    return a


def check_number(value, name: str, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, expected: str | None = None) -> float:
    """``value`` as a finite float within [low, high] (an end excluded when ``*_open``).
    ``TypeError`` for a non-number (strings, bools, None, arrays of more than one value),
    ``ValueError`` for NaN, infinities and values out of range; both name ``name`` and the
    received value."""
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    if expected is None:
        if low is not None and high is not None:
            expected = f"a number in {lo}{low:g}, {high:g}{hi}"
        elif low is not None:
            expected = f"a finite number {'>' if low_open else '>='} {low:g}"
        else:
            expected = "a finite number"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.ndarray)) \
            or (isinstance(value, np.ndarray) and (value.ndim != 0 or value.dtype.kind not in "fiu")):
        raise TypeError(f"{name}: expected {expected}, got {describe(value)}")
    v = float(value)
    bad = (not np.isfinite(v) or (low is not None and (v < low or (low_open and v == low)))
           or (high is not None and (v > high or (high_open and v == high))))
    if bad:
        raise ValueError(f"{name}: expected {expected}, got {value!r}")
    return v


def check_tolerance(value, name: str):
    """``rcond`` / ``rank_tol``: None (the default rule) or a relative tolerance in [0, 1)."""
    if value is None:
        return None
    return check_number(value, name, low=0.0, high=1.0, high_open=True,
                       expected="None or a relative tolerance in [0, 1)")


def check_threshold(threshold) -> float:
    """A fraction of the coefficients' sum, in (0, 1] (``mean_cca``, ``threshold_mean``)."""
    return check_number(threshold, "threshold", low=0.0, high=1.0, low_open=True,
                        expected="a fraction in (0, 1]")


def check_batch_size(batch_size):
    """None (one batch / the backend's choice) or a positive int."""
    return check_optional_count(batch_size, "batch_size")


def check_optional_count(value, name: str):
    """None or a positive int (``batch_size``, ``n_components``), named in the errors."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected a positive int or None, got {describe(value)}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive int or None, got {value!r}")
    return int(value)


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
