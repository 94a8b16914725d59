"""Exact power-of-two scaling of the moments state, so that accumulation works over the whole
float64 range (issue [numerics]).

Why
---
The scatter of activations of magnitude ``a`` is of magnitude ``n a^2``: it overflows float64
for ``a`` above ~1e150 and underflows (to subnormals, then to 0) below ~1e-154, which made a
rescaled side look constant or infinite.  Every measure in fastcca is invariant to rescaling
either side, so the state may hold each side in its own units.

What
----
Each side (``Moments``, ``ConvMoments``: x and y; ``JointMoments``, ``JointConvMoments``: every
layer) carries an integer *exponent* ``e``: the state holds the side's activations in units of
``2**e``, i.e. ``mean_x = mean / 2**e_x``, ``sxx = Sxx / 4**e_x``, ``sxy = Sxy / 2**(e_x + e_y)``.

* A batch's exponent follows from its spread ``s = max_j (max_i x_ij - min_i x_ij)``: the
  multiple of :data:`STEP` (64) nearest to ``log2 s``, so the scaled spread lies in
  ``[2**-33, 2**31)``.  Products of scaled values then neither overflow (``2**62`` per term, also
  in float32 arithmetic) nor underflow (``2**-66``), whatever the magnitude of the data.
* Activations of ordinary size (spread between ~1.2e-10 and ~2.1e9) get ``e = 0``: no
  multiplication happens, and the state holds exactly what it held before this module existed
  (so ``Moments.sxx`` is the scatter itself, and old files keep their meaning).
* Multiplying by a power of two is exact in binary floating point (barring subnormal results),
  so scaling adds no rounding; the multiplication is fused into the centring pass on the CPU.
* Parts with different exponents merge by bringing the smaller one to the larger exponent
  (again a power of two: exact, except that contributions below ``2**-1022`` of the larger part
  become subnormal, far below its rounding error).  Quantising exponents to multiples of 64
  makes this rare: batches of one data set share their exponent.

Chosen over a range check (refuse data outside ~1e+-150) because it costs about 0.5-2.5% of a pass
(the exponent comes from column minima/maxima computed in the pass that already checks for
NaN/Inf and sums the means; ``asv_bench/bench_scaling.py``) and keeps every measure exact up to
rounding for any finite input.  Limit: one exponent per side, so neurons of the same side whose
magnitudes differ by more than ~1e150 cannot all be represented; the small ones' variance then
underflows and the measures say so in ``notes`` (they are not reported as constant).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

#: exponents are multiples of this (see module docstring)
STEP = 64
#: largest |exponent|: ``2.0 ** +-EXP_LIMIT`` is a normal float64, so one multiply scales exactly
EXP_LIMIT = 960
#: a side whose largest |value| reaches this is scaled even if its spread is small: its sums and
#: differences (means, centring) would otherwise overflow
HUGE = 2.0 ** 960


def pow2(e: int) -> float:
    """``2.0 ** e`` as a float64 (exact for |e| <= 1023)."""
    return math.ldexp(1.0, int(e))


def exponent_for(spread: float, magnitude: float = 0.0) -> int:
    """The exponent (a multiple of :data:`STEP`) for a side whose largest column range is
    ``spread`` and whose largest absolute value is ``magnitude`` (both >= 0, finite).

    0 for ``spread`` in ``[2**-33, 2**31)`` (and for ``spread == 0``: a constant side); at least
    :data:`STEP` once ``magnitude >= HUGE``, so that sums of the scaled values stay finite."""
    e = 0
    if spread > 0:
        k = math.frexp(spread)[1]                 # spread in [2**(k-1), 2**k)
        e = STEP * math.floor((k + STEP // 2) / STEP)
    e = max(-EXP_LIMIT, min(EXP_LIMIT, e))
    while e < EXP_LIMIT and magnitude * pow2(-e) >= HUGE:
        e += STEP
    return int(e)


def spread_and_magnitude(lo, hi) -> tuple[float, float]:
    """``(max_j (hi_j - lo_j), max_j max(|lo_j|, |hi_j|))`` of host arrays of column minima and
    maxima, without overflow (``hi - lo`` can exceed the float64 range)."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    if lo.size == 0:
        return 0.0, 0.0
    half = float(np.max(0.5 * hi - 0.5 * lo))
    spread = 2.0 * half if half < 2.0 ** 1022 else math.inf
    mag = float(max(np.max(np.abs(lo)), np.max(np.abs(hi))))
    return min(spread, np.finfo(np.float64).max), mag


def scale_pow2(a, k: int, inplace: bool = False):
    """``a * 2**k`` for an integer ``k`` (any array module, real or complex), by at most a few
    multiplications by normal powers of two: exact unless a result is subnormal or overflows.
    ``inplace=True`` scales ``a`` itself (and returns it)."""
    k = int(k)
    res = a if inplace else None
    while k:
        step = max(-1000, min(1000, k))
        if res is None:
            res = a * pow2(step)
        else:
            res *= pow2(step)
        k -= step
    return a if res is None else res


def to_data_units(xp, a, e: int, what: str):
    """``a * 2**e``: a stored block back in the data's units.  Raises ``FloatingPointError``
    naming ``what`` when a value does not fit in float64 (data of magnitude ~1e150 and more:
    the scatter itself is not representable; the measures do not need it)."""
    if e == 0:
        return a
    with np.errstate(over="ignore"):        # an overflow is reported below, as an error
        out = scale_pow2(a, e)
    if not bool(xp.isfinite(out).all()):
        raise FloatingPointError(
            f"{what}: not representable in float64 in the data's units (the state holds it in units "
            f"of 2**{int(e)}); the measures work on the scaled state, which is exact")
    return out


class Centered(NamedTuple):
    """A batch centred and scaled by the backends' ``center_scaled``: ``xc`` (n, p) holds
    ``(x - mean) * 2**-exponent``, ``mean`` (p,) float64 the column means in the same units,
    ``lo``/``hi`` (p,) float64 the column minima and maxima in the data's units."""
    xc: object
    mean: object
    exponent: int
    lo: object
    hi: object


def batch_exponent(lo_host, hi_host, min_exponent=None) -> int:
    """The exponent a batch with column minima/maxima ``lo_host``/``hi_host`` (host arrays) is
    scaled by: :func:`exponent_for` of its spread and magnitude, raised to ``min_exponent``
    (the state's exponent, so that the batch lands in the state's units directly)."""
    e = exponent_for(*spread_and_magnitude(lo_host, hi_host))
    return e if min_exponent is None else max(e, int(min_exponent))


# ---------------------------------------------------------------------------------------------
# Two-sided states (Moments, ConvMoments): ``mean_x``, ``mean_y``, ``sxx``, ``syy``, ``sxy`` in
# units of ``2**exponent_x`` / ``2**exponent_y``.
def rescale_state(state, ux: int, uy: int) -> None:
    """Bring a two-sided state (an object with the attributes above) to the exponents
    ``ux >= state.exponent_x``, ``uy >= state.exponent_y``, in place (exact powers of two)."""
    kx, ky = ux - state.exponent_x, uy - state.exponent_y
    if not (kx or ky):
        return
    state.mean_x = scale_pow2(state.mean_x, -kx)
    state.mean_y = scale_pow2(state.mean_y, -ky)
    scale_pow2(state.sxx, -2 * kx, inplace=True)
    scale_pow2(state.syy, -2 * ky, inplace=True)
    scale_pow2(state.sxy, -kx - ky, inplace=True)
    state.exponent_x, state.exponent_y = int(ux), int(uy)


def rescale_part(part: tuple, kx: int, ky: int) -> tuple:
    """``(mean_x, mean_y, sxx, syy, sxy)`` of a part brought ``kx``/``ky`` binary orders down
    (new arrays where a shift applies; the part's own arrays are never modified)."""
    mx, my, sxx, syy, sxy = part
    if not (kx or ky):
        return part
    return (scale_pow2(mx, -kx), scale_pow2(my, -ky), scale_pow2(sxx, -2 * kx),
            scale_pow2(syy, -2 * ky), scale_pow2(sxy, -kx - ky))


def align_for_merge(state, part: tuple, ex: int, ey: int) -> tuple:
    """Before Chan's merge of ``part`` (in units ``2**ex``, ``2**ey``) into the non-empty
    ``state``: both go to the larger exponent of each side.  Returns the part's arrays in the
    state's (new) units."""
    ux, uy = max(state.exponent_x, int(ex)), max(state.exponent_y, int(ey))
    rescale_state(state, ux, uy)
    return rescale_part(part, ux - int(ex), uy - int(ey))
