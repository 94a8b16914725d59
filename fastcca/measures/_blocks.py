"""Per-side views of a Moments for the measures written as ``prepare`` (one side) + ``pair``.

A measure that is not invariant to rescaling a side (Procrustes, PLS, ridge R^2) needs to know
the units of the stored blocks: a Moments may hold a side in power-of-two units ``2**e``
(``fastcca.kernels._scale``: ``sxx`` is ``Sxx / 4**e_x``, ``sxy`` is ``Sxy / 2**(e_x + e_y)``).  The
measures compute in those units and convert the few scale-dependent numbers they report.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Side:
    """One side of a pair: its scatter block ``s`` (p, p) in units ``4**exponent``, its mean
    (p,) in units ``2**exponent``, the count ``n`` and the backend ``be``; for the notes, its
    ``label`` ("x", "y", or a layer's name), which neurons are ``constant`` (host bool mask, None
    when unknown) and whether its products were formed in float32 (``float32``)."""
    be: object
    s: object
    mean: object
    exponent: int
    n: int
    label: str = "x"
    constant: object = None
    float32: bool = False

    @property
    def p(self) -> int:
        return int(self.s.shape[0])


def sides(m) -> tuple[Side, Side, object]:
    """``(side x, side y, cross block sxy)`` of a Moments (``sxy`` in units ``2**(e_x + e_y)``)."""
    f32 = bool(m.float32_products)
    return (Side(m._be, m.sxx, m.mean_x, int(m.exponent_x), m.n, "x", m.constant_neurons("x"), f32),
            Side(m._be, m.syy, m.mean_y, int(m.exponent_y), m.n, "y", m.constant_neurons("y"), f32), m.sxy)


def in_units(value: float, exponent: int, what: str) -> float:
    """``value * 2**exponent`` as a float; ``FloatingPointError`` naming ``what`` when it does not
    fit in float64 (data of magnitude ~1e150 and beyond)."""
    try:
        return math.ldexp(float(value), int(exponent))
    except OverflowError:
        raise FloatingPointError(f"{what}: not representable in float64 in the data's units "
                                 f"({value!r} x 2**{int(exponent)})") from None


def reported_in_units(values, exponent: int, what: str) -> tuple[np.ndarray, list]:
    """``values * 2**exponent`` (host array) for a number a result REPORTS beside its
    scale-free value: where float64 cannot hold it the entry is inf and a note says so, rather
    than losing the result (``(array, notes)``)."""
    with np.errstate(over="ignore", under="ignore"):
        out = np.ldexp(np.asarray(values, dtype=np.float64), int(exponent))
    if np.isfinite(out).all():
        return out, []
    return out, [f"{what}: beyond float64 in the data's units (activations of magnitude ~1e150 or more), "
                 "reported as inf; the other numbers are exact"]


def eigh_desc(be, s):
    """Eigenvalues (host, descending, clipped at 0) and eigenvectors (device, matching columns)
    of a symmetric block."""
    w, v = be.eigh(s)
    lam = np.maximum(be.to_numpy(w)[::-1], 0.0)
    return lam, v[:, ::-1]


def sign_by_largest(be, vecs, other=None):
    """Flip each column of ``vecs`` (and of ``other``) so that its largest |entry| is positive:
    a deterministic sign for singular and eigenvectors (scikit-learn's ``svd_flip`` rule)."""
    xp = be.xp
    if vecs.shape[1] == 0:
        return vecs, other
    k = vecs.shape[1]
    idx = xp.argmax(xp.abs(vecs), axis=0)
    signs = np.sign(be.to_numpy(vecs[idx, xp.arange(k)]))
    signs[signs == 0] = 1.0
    sg = xp.asarray(signs)
    return vecs * sg, (None if other is None else other * sg)
